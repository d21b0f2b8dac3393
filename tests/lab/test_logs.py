"""``Lab(log_dir=...)``: one log file per service, and ``%cogment status`` says where."""

from __future__ import annotations

import logging

from cogment_jupyter import Lab, actors, envs
from tests.lab.test_magics_and_remote import run_notebook
from tests.waiting import wait_for


class Chatty(actors.Actor):
    """Prints and logs on every decision (in its own process: into its log file)."""

    def act(self, observation, frame=None):
        print("chatty acts on", list(observation)[:1], flush=False)
        logging.getLogger("chatty").warning("a warning from the actor")
        return 0


class Broken(actors.Actor):
    def act(self, observation, frame=None):
        print("broken is about to fail")
        raise RuntimeError("the actor's own failure")


def test_each_service_in_its_own_process_writes_its_own_log(tmp_path):
    logs = tmp_path / "logs"
    with Lab(datastore=tmp_path / "store", log_dir=logs) as lab:
        lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
        lab.serve_actor("chatty", Chatty(), process=True)
        lab.serve_actor("broken", Broken(), process=True)
        assert lab.log_files == {
            "lab": logs.resolve() / "lab.log",
            "chatty": logs.resolve() / "actor-chatty.log",
            "broken": logs.resolve() / "actor-broken.log",
        }
        good = lab.start_trial("cartpole", "chatty", max_steps=3).wait(60)
        bad = lab.start_trial("cartpole", "broken", max_steps=3).wait(60)
        assert good.errors == [] and bad.errors and "the actor's own failure" in bad.errors[0]
        chatty = wait_for(
            lambda: (text := (logs / "actor-chatty.log").read_text()).count("chatty acts on") >= 3 and text,
            30,
            "the actor's prints in its log",
        )
        assert "a warning from the actor" in chatty and "[actor chatty]" in chatty
        broken = wait_for(
            lambda: "the actor's own failure" in (text := (logs / "actor-broken.log").read_text()) and text,
            30,
            "the actor's failure in its log",
        )
        assert "broken is about to fail" in broken and "chatty" not in broken
        status = repr(lab.status())
        assert f"logs            {logs.resolve()}: lab.log, actor-chatty.log, actor-broken.log" in status
    lab_log = (logs / "lab.log").read_text()
    assert "trial datastore serving" in lab_log  # the lab's own records, INFO and up
    assert not logging.getLogger("cogment_jupyter").handlers  # closing the lab detaches its file


def test_without_a_log_dir_status_says_where_output_goes(tmp_path):
    with Lab(datastore=tmp_path / "store") as lab:
        assert lab.log_files == {}
        assert "logs            the kernel's output (Lab(log_dir=...)" in repr(lab.status())


def test_launch_with_a_log_dir_in_a_kernel(tmp_path):
    outputs = run_notebook(
        [
            "%load_ext cogment_jupyter",
            "%cogment launch --datastore trials --embedded --log_dir run-logs",
            "from cogment_jupyter import envs\n"
            "lab.serve_env('cartpole', envs.Gymnasium('CartPole-v1'), process=True)\n"
            "print(sorted(p.name for p in lab.log_files.values()))",
            "%cogment status",
        ],
        tmp_path,
    )
    assert outputs[2].strip() == "['environment-cartpole.log', 'lab.log']"
    assert f"{(tmp_path / 'run-logs').resolve()}: lab.log, environment-cartpole.log" in outputs[3]
    started = (tmp_path / "run-logs" / "environment-cartpole.log").read_text()
    assert "[environment cartpole] INFO" in started and "the environment service [cartpole] starts" in started
