"""The pointer, a gamepad and sliders as actions: the mapping of raw positions to Box actions,
and the clear errors of mappings that cannot work (``notebook.analog``)."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium import spaces

from cogment_jupyter.notebook.analog import DEAD_ZONE, analog_inputs
from cogment_jupyter.notebook.keymap import KeyMapError, compile_keymap, normalize_key

TORQUE = spaces.Box(-2.0, 2.0, (1,), np.float32)  # Pendulum-v1
DRIVE = spaces.Box(np.array([-1, 0, 0], np.float32), np.array([1, 1, 1], np.float32), dtype=np.float32)  # CarRacing-v3


def test_pointer_x_spans_the_bounds_left_to_right():
    inputs = analog_inputs(TORQUE, pointer="x")
    assert inputs.front_end() == {"pointer": "x"}
    assert inputs.action("pointer", [0.0, 0.3]).tolist() == [-2.0]
    assert inputs.action("pointer", [0.5, 0.9]).tolist() == [0.0]
    assert inputs.action("pointer", [1.0, 0.0]).tolist() == [2.0]
    assert inputs.action("pointer", [0.75, 0.0]).dtype == np.float32


def test_pointer_y_is_high_at_the_top_and_xy_fills_two_elements():
    assert analog_inputs(TORQUE, pointer="y").action("pointer", [0.2, 0.0]).tolist() == [2.0]
    plane = spaces.Box(-1.0, 1.0, (2,), np.float32)
    assert analog_inputs(plane, pointer="xy").action("pointer", [0.0, 1.0]).tolist() == [-1.0, -1.0]
    assert analog_inputs(plane, pointer="yx").action("pointer", [0.0, 0.0]).tolist() == [1.0, -1.0]


def test_out_of_range_or_missing_readings_are_clamped_not_passed_on():
    inputs = analog_inputs(TORQUE, pointer="x")
    assert inputs.action("pointer", [7.0]).tolist() == [2.0]
    assert inputs.action("pointer", [float("nan")]).tolist() == [-2.0]
    assert inputs.action("pointer", []).tolist() == [-2.0]


def test_gamepad_axes_with_a_dead_zone_then_triggers():
    inputs = analog_inputs(DRIVE, gamepad={"axes": [0], "triggers": [7, 6]})
    assert inputs.front_end() == {"gamepad": {"axes": [0], "triggers": [7, 6], "buttons": [6, 7]}}
    buttons = [0.0] * 8
    buttons[7], buttons[6] = 1.0, 0.25
    assert inputs.action("gamepad", [-1.0, 0.5], buttons).tolist() == [-1.0, 1.0, 0.25]
    at_rest = inputs.action("gamepad", [DEAD_ZONE / 2, 0.0], [0.0] * 8)
    assert at_rest.tolist() == [0.0, 0.0, 0.0]
    assert analog_inputs(TORQUE, gamepad=True).action("gamepad", [0.5]).tolist() == [1.0]


def test_gamepad_buttons_play_as_keys_in_the_key_map():
    inputs = analog_inputs(spaces.Discrete(3), gamepad={"buttons": {0: 1, "1": 2}})
    assert inputs.button_keys == {"Gamepad0": 1, "Gamepad1": 2} and not inputs.analog
    assert inputs.front_end() == {"gamepad": {"axes": [], "triggers": [], "buttons": [0, 1]}}
    keymap = compile_keymap({"ArrowLeft": 1}, noop=0).with_entries(inputs.button_keys)
    assert keymap(["Gamepad1"]) == 2 and keymap(["ArrowLeft"]) == 1 and keymap([]) == 0
    assert normalize_key("gamepad12") == "Gamepad12"


def test_sliders_send_values_in_action_units_and_start_neutral():
    inputs = analog_inputs(DRIVE, sliders=["steer", "gas", "brake"])
    sliders = inputs.front_end()["sliders"]
    assert [s["label"] for s in sliders] == ["steer", "gas", "brake"]
    assert [(s["min"], s["max"], s["value"]) for s in sliders] == [(-1.0, 1.0, 0.0), (0.0, 1.0, 0.0), (0.0, 1.0, 0.0)]
    assert inputs.action("sliders", [0.3, 0.8, 2.0]).tolist() == pytest.approx([0.3, 0.8, 1.0])
    whole = analog_inputs(spaces.Box(0, 10, (1,), np.int64), sliders=True)
    assert whole.front_end()["sliders"][0]["step"] == 1.0
    assert whole.action("sliders", [3.6]).tolist() == [4]


def test_a_source_the_game_does_not_read_gives_no_action():
    inputs = analog_inputs(TORQUE, pointer="x")
    assert inputs.action("gamepad", [1.0]) is None and inputs.action("sliders", [1.0]) is None
    assert inputs.neutral.tolist() == [0.0]
    assert analog_inputs(spaces.Box(1.0, 3.0, (1,), np.float32), pointer="x").neutral.tolist() == [1.0]


@pytest.mark.parametrize(
    ("space", "options", "message"),
    [
        (spaces.Discrete(2), {"pointer": "x"}, "this action space is Discrete"),
        (spaces.Box(-np.inf, np.inf, (1,), np.float32), {"sliders": True}, "need a bounded Box"),
        (TORQUE, {"pointer": "xy"}, r"gives 2 value\(s\) but the action has 1"),
        (TORQUE, {"pointer": "left"}, "pointer= takes 'x', 'y' or 'xy'"),
        (DRIVE, {"gamepad": {"axes": [0]}}, r"gives 1 value\(s\) but the action has 3"),
        (TORQUE, {"gamepad": {"sticks": [0]}}, "not \\['sticks'\\]"),
        (TORQUE, {"gamepad": {"axes": [-1]}}, "indices >= 0"),
        (TORQUE, {"sliders": "torque"}, "a list of labels"),
        (spaces.Discrete(2), {"gamepad": {"buttons": {-1: 0}}}, "an index >= 0"),
    ],
)
def test_mappings_that_cannot_work_are_refused_with_the_fix(space, options, message):
    with pytest.raises(KeyMapError, match=message):
        analog_inputs(space, **options)
