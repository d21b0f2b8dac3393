"""Torch modules through the registry, and ``actors.Torch(model=...)`` (skipped without torch)."""

from __future__ import annotations

import numpy as np
import pytest

from cogment_jupyter import Lab, actors
from tests.model_registry.test_lab_models import Ticks, actions_of

torch = pytest.importorskip("torch")


def q_net(best: int) -> torch.nn.Module:
    """A linear Q-network on one input whose best action is ``best``."""
    net = torch.nn.Linear(1, 2)
    with torch.no_grad():
        net.weight.zero_()
        net.bias.copy_(torch.tensor([1.0, 0.0] if best == 0 else [0.0, 1.0]))
    return net


class Unscriptable(torch.nn.Module):
    """TorchScript cannot compile ``**kwargs``: only its weights can be published."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(1, 2)

    def forward(self, x, **options):
        return self.linear(x)


@pytest.fixture
def lab(tmp_path):
    with Lab(datastore=tmp_path / "store") as made:
        made.serve_env("ticks", Ticks())
        yield made


def test_a_module_travels_as_torchscript_and_a_state_dict_as_weights(lab: Lab) -> None:
    net = q_net(best=1)
    first = lab.models.store("q", net)
    assert first.format == "torchscript"
    loaded = lab.models.load("q")
    assert isinstance(loaded, torch.jit.ScriptModule)
    x = torch.tensor([[0.5]])
    assert torch.equal(loaded(x), net(x))
    target = q_net(best=0)
    assert lab.models.load("q", into=target) is target and torch.equal(target(x), net(x))
    weights = lab.models.publish("q-weights", {k: v.clone() for k, v in net.state_dict().items()})
    assert weights.format == "torch.state_dict"
    assert set(lab.models.load("q-weights")) == {"weight", "bias"}
    assert lab.models.publish("plain", Unscriptable()).format == "torch.state_dict"  # (logged: weights only)


def test_torch_actors_follow_published_modules(lab: Lab) -> None:
    lab.models.store("q", q_net(best=1))
    lab.serve_actor("scripted", actors.Torch(model="q"))  # no module: the TorchScript is the module
    architecture = q_net(best=0)
    lab.serve_actor("into", actors.Torch(architecture, model="q"))  # weights loaded into ours
    for name in ("scripted", "into"):
        handle = lab.start_trial("ticks", name, max_steps=4)
        handle.wait(60)
        assert actions_of(lab, handle.id) == [1] * 5, (name, handle.errors)
    lab.models.publish("q", q_net(best=0))
    lab.models.follow("q").wait(20, newer_than=1)
    for name in ("scripted", "into"):
        handle = lab.start_trial("ticks", name, max_steps=4)
        handle.wait(60)
        assert actions_of(lab, handle.id) == [0] * 5, (name, handle.errors)
    assert torch.equal(architecture.bias, torch.tensor([1.0, 0.0]))  # iteration 2's weights, in place


def test_weights_only_need_the_module(lab: Lab) -> None:
    lab.models.store("plain", Unscriptable())
    lab.serve_actor("no-module", actors.Torch(model="plain"))
    handle = lab.start_trial("ticks", "no-module", max_steps=2)
    handle.wait(60)
    assert handle.errors and "holds weights only" in handle.errors[0], handle.errors
    net = Unscriptable()
    lab.serve_actor("with-module", actors.Torch(net, model="plain"))
    handle = lab.start_trial("ticks", "with-module", max_steps=2)
    handle.wait(60)
    assert not handle.errors, handle.errors
    stored = lab.models.load("plain")
    assert torch.equal(net.linear.weight, stored["linear.weight"])
    assert np.isfinite(actions_of(lab, handle.id)).all()
