"""The handles a lab keeps (``Handles``): running ones, the recent finished ones, and those
held elsewhere, weakly, with the references to handles gone swept as they pile up."""

from __future__ import annotations

import gc

import pytest

from cogment_jupyter.lab.handles import SWEEP_AT_LEAST, Handles, TrialHandle


def _handle(trial_id: str, actors: dict[str, str] | None = None) -> TrialHandle:
    return TrialHandle(None, trial_id, "env", actors if actors is not None else {"gym": "random"}, 0)  # type: ignore[arg-type]


def _finish(handles: Handles, handle: TrialHandle) -> None:
    handles.add(handle)
    handle.fail("not run")  # (over, as a trial that could not start)
    handles.finished(handle)


def test_handles_beyond_the_recent_ones_are_found_while_held_and_forgotten_once_gone():
    handles = Handles(recent=2)
    held = _handle("held")
    _finish(handles, held)
    for i in range(5):
        _finish(handles, _handle(f"gone-{i}"))
    gc.collect()
    assert [h.id for h in handles.all()] == ["gone-3", "gone-4"]
    assert handles.get("held") is held  # (left the recent ones, still held here)
    assert handles.get("gone-0") is None
    with pytest.raises(ValueError, match="already used"):
        handles.add(_handle("held"))
    handles.add(_handle("gone-0"))  # (a handle gone frees its id in the lab's handles; the datastore keeps ids unique)


def test_the_references_to_handles_gone_are_swept_and_held_ones_stay():
    handles = Handles(recent=1)
    kept = [_handle(f"kept-{i}") for i in range(3)]
    for handle in kept:
        _finish(handles, handle)
    for i in range(5 * SWEEP_AT_LEAST):
        _finish(handles, _handle(f"gone-{i}"))
    assert len(handles._held) <= 2 * SWEEP_AT_LEAST  # not one per trial of the session
    assert all(handles.get(h.id) is h for h in kept)


def test_a_handle_shares_its_actors_with_the_batch_and_gives_a_copy():
    actors = {"gym": "random"}
    one, other = _handle("one", actors), _handle("other", actors)
    mine = one.actors
    mine["gym"] = "changed"
    assert one.actors == other.actors == {"gym": "random"}


def test_errors_found_after_the_end_add_up():
    handle = _handle("one")
    handle.fail("could not start")
    handle.add_error("datalog: not recorded")
    handle.add_error("and another")
    assert handle.errors == ["could not start", "datalog: not recorded", "and another"]
    assert handle.error == "could not start"
