"""Our orchestrator logging to our datastore over DatalogSP, read live through the official SDK."""

from __future__ import annotations

import asyncio

import cogment

from cogment_jupyter.datastore import Datastore
from tests.sdk_components import Log, serve_basic, trial_params, wait_state


async def test_trial_logs_to_the_datastore_and_the_sdk_reads_it_live(orchestrator, sdk, tmp_path):
    store = Datastore(tmp_path / "store")
    server = await store.serve("127.0.0.1", 0)
    try:
        log = Log()
        endpoint = await serve_basic(sdk, log, end_after=20)
        params = trial_params(endpoint, [("p1", "player", endpoint, "actor")], datalog_endpoint=server.endpoint)
        controller = orchestrator.controller()
        datastore = orchestrator.context.get_datastore(cogment.Endpoint(server.endpoint))
        trial_id = await controller.start_trial(trial_params=params)
        infos = await datastore.get_trials(ids=[trial_id])
        while not infos:  # the trial appears once the orchestrator opened its datalog stream
            await asyncio.sleep(0.02)
            infos = await datastore.get_trials(ids=[trial_id])
        ticks = []

        async def read_live():
            async for sample in datastore.all_samples(infos):
                ticks.append((sample.tick_id, sample.trial_state, sample.actors_data["p1"].observation.value))

        await asyncio.wait_for(read_live(), 20)  # ends by itself with the trial's ENDED sample
        await wait_state(controller, trial_id, cogment.TrialState.ENDED)
        assert [t for t, _, _ in ticks] == list(range(21))
        assert [v for _, _, v in ticks] == [float(t) for t in range(21)]
        assert ticks[-1][1] == cogment.TrialState.ENDED
        steps = store.steps(trial_id)
        assert len(steps) == 21 and steps["tick"].tolist() == list(range(21))
        trials = store.trials()
        assert trials.set_index("trial_id").loc[trial_id, "state"] == "ENDED"
    finally:
        await server.stop(0.2)
        store.close()
