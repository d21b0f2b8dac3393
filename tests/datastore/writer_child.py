"""A separate process writing a trial with the in-process datalog (run by test_processes.py).

    python -m tests.datastore.writer_child MODE DIRECTORY TRIAL_ID

MODE: ``complete`` writes a whole trial and exits; ``slow`` writes 200 ticks, committing
every 10; ``forever`` commits 100 ticks, prints ``committed 100``, then keeps adding
uncommitted-for-a-while samples until it is killed.
"""

from __future__ import annotations

import asyncio
import sys

from cogment_jupyter.datastore import Datastore
from cogment_jupyter.engine.records import Action, ObservationSet, Reward, RewardSource, Sample, TrialState
from tests.datastore.helpers import make_params


def sample(t: int, last: bool = False) -> Sample:
    return Sample(
        tick_id=t,
        timestamp=1_000 + t,
        state=TrialState.ENDED if last else TrialState.RUNNING,
        observations=ObservationSet([t.to_bytes(4, "little")], [0, 0]),
        actions=[None, None] if last else [Action(t, b"a"), Action(t, b"b")],
        rewards=[Reward(-1, "*", 1.0, [RewardSource("env", 1.0, 1.0)])],
    )


async def main(mode: str, directory: str, trial_id: str) -> None:
    ds = Datastore(directory)
    datalog = ds.datalog()
    await datalog.start(trial_id, "child", make_params(properties={"pid": "child"}))
    if mode == "complete":
        datalog.add([sample(t, t == 49) for t in range(50)])
        await datalog.close()
    elif mode == "slow":
        for t in range(200):
            datalog.add([sample(t, t == 199)])
            if t % 10 == 9:
                await datalog.flush()
                await asyncio.sleep(0.01)
        await datalog.close()
    elif mode == "forever":
        datalog.add([sample(t) for t in range(100)])
        await datalog.flush()
        print("committed 100", flush=True)
        t = 100
        while True:
            datalog.add([sample(t)])
            t += 1
            await asyncio.sleep(0.001)
    ds.close()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
