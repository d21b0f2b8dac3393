"""Text spaces end to end (Cogment Lab's LLM / echo actors): an environment that asks in words
and an actor that answers in words, in-process and served in its own process, recorded and read
back as strings."""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

import pytest
from gymnasium import spaces

from cogment_jupyter import Lab, actors, envs
from cogment_jupyter.adapters.base import AgentSpec, StepResult, TrialContext

WORDS = ["cogment", "lab", "jupyter", "notebook", "trial"]
TEXT = spaces.Text(min_length=0, max_length=16, charset=string.ascii_lowercase)


class Reverse(envs.Environment):
    """Says a word; the answer is rewarded 1 when it is the word backwards."""

    @property
    def agent_specs(self) -> dict[str, AgentSpec]:
        return {"gym": AgentSpec(TEXT, TEXT)}

    def reset(self, context: TrialContext, options: Mapping[str, Any] | None = None) -> StepResult:
        self.turn = 0
        return StepResult({"gym": WORDS[0]})

    def step(self, actions: Mapping[str, Any]) -> StepResult:
        reward = float(actions["gym"] == WORDS[self.turn][::-1])
        self.turn += 1
        done = self.turn == len(WORDS)
        return StepResult({"gym": "" if done else WORDS[self.turn]}, rewards={"gym": reward}, done=done)


def reverse(word: str) -> str:
    return word[::-1]


@pytest.mark.parametrize("process", [False, True], ids=["in-process", "own-process"])
def test_words_in_and_words_out_are_recorded_as_strings(tmp_path, process: bool) -> None:
    with Lab(datastore=tmp_path / "store") as lab:
        lab.serve_env("reverse", Reverse())
        lab.serve_actor("echo", actors.Policy(reverse), process=process)
        handle = lab.start_trial("reverse", "echo").wait(60)
        assert handle.errors == []
        steps = lab.steps(handle.id).dropna(subset=["action"])
        assert steps["observation"].tolist() == WORDS
        assert steps["action"].tolist() == [w[::-1] for w in WORDS]
        assert steps["reward"].sum() == len(WORDS)
        assert lab.get_trial_data(handle.id)["gym"].actions.tolist() == [w[::-1] for w in WORDS]
