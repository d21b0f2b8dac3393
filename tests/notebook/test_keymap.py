"""Key maps in every convention the play widget accepts, and their error messages."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from cogment_jupyter.notebook.keymap import (
    KeyMapError,
    action_problem,
    check_keymap,
    coerce_action,
    compile_keymap,
    normalize_key,
    parse_combo,
)


class TestCogmentLabConventions:
    def test_list_position_is_the_action_and_no_op_the_default(self) -> None:
        km = compile_keymap(["no-op", "ArrowLeft", "ArrowRight"])
        assert km(frozenset()) == 0
        assert km(frozenset({"ArrowLeft"})) == 1
        assert km(frozenset({"ArrowRight"})) == 2
        assert km(frozenset({"x"})) == 0  # unmapped keys are ignored
        assert km.noop == 0

    def test_dict_maps_keys_to_any_value_including_dicts(self) -> None:
        km = compile_keymap(
            {
                "no-op": {"active": 0, "action": 0},
                "ArrowDown": {"active": 1, "action": 0},
                "ArrowLeft": {"active": 1, "action": 1},
            }
        )
        assert km(frozenset({"ArrowLeft"})) == {"active": 1, "action": 1}
        assert km(frozenset()) == {"active": 0, "action": 0}
        got = km(frozenset({"ArrowDown"}))
        got["action"] = 99  # callers get copies: the map itself cannot be edited by accident
        assert km(frozenset({"ArrowDown"})) == {"active": 1, "action": 0}

    def test_last_pressed_key_wins_when_keys_come_in_press_order(self) -> None:
        km = compile_keymap(["no-op", "ArrowLeft", "ArrowRight"])
        assert km(("ArrowLeft", "ArrowRight")) == 2
        assert km(("ArrowRight", "ArrowLeft")) == 1
        assert km(frozenset({"ArrowLeft", "ArrowRight"})) == 0  # a set has no order: no-op

    def test_architecture_example_dict_with_noop_argument(self) -> None:
        km = compile_keymap({"ArrowLeft": 0, "ArrowRight": 1}, noop=0)
        assert km(frozenset({"ArrowRight"})) == 1
        assert km(frozenset()) == 0


class TestGymnasiumKeysToAction:
    def test_tuples_of_characters_strings_and_sorted_combo_lookup(self) -> None:
        km = compile_keymap({("w",): 2, ("s",): 5, "wa": 6, ("d", "w"): 7}, noop=0)
        assert km(frozenset({"w"})) == 2
        assert km(frozenset({"a", "w"})) == 6
        assert km(["w", "d"]) == 7
        assert km(frozenset({"a"})) == 0  # 'a' only appears in a combo
        assert km(frozenset({"w", "Shift"})) == 2  # keys outside the map do not spoil a combo

    def test_pygame_codes_as_returned_by_get_keys_to_action(self) -> None:
        k_left, k_right = 1073741904, 1073741903  # pygame 2
        km = compile_keymap({(k_left,): 0, (k_right,): 2, (ord("w"), ord("a")): 3, (): 1})
        assert km.noop == 1  # the empty combination is the idle action
        assert km(frozenset({"ArrowLeft"})) == 0
        assert km(frozenset({"ArrowRight"})) == 2
        assert km(frozenset({"w", "a"})) == 3
        assert compile_keymap({(276,): 0, (275,): 2}, noop=1)(frozenset({"ArrowLeft"})) == 0  # SDL1 arrows

    def test_plus_separated_combos(self) -> None:
        km = compile_keymap({"ArrowUp+ArrowLeft": "up-left", "ArrowUp": "up", "no-op": None})
        assert km(frozenset({"ArrowLeft", "ArrowUp"})) == "up-left"
        assert km(frozenset({"ArrowUp"})) == "up"
        assert km.hints == {"ArrowLeft+ArrowUp": "up-left", "ArrowUp": "up"}


class TestKeyNames:
    @pytest.mark.parametrize(
        ("name", "expected"),
        [("A", "a"), ("space", " "), ("Space", " "), ("left", "ArrowLeft"), ("arrowleft", "ArrowLeft"),
         ("ESC", "Escape"), ("enter", "Enter"), (" ", " "), ("f5", "F5")],
    )  # fmt: skip
    def test_aliases_and_case(self, name: str, expected: str) -> None:
        assert normalize_key(name) == expected

    def test_unknown_name_suggests_the_closest(self) -> None:
        with pytest.raises(KeyMapError, match="did you mean 'ArrowLeft'"):
            normalize_key("ArowLeft")

    def test_parse_combo_forms(self) -> None:
        assert parse_combo("wa") == {"w", "a"}
        assert parse_combo(("ArrowUp", "space")) == {"ArrowUp", " "}
        assert parse_combo("+") == {"+"}
        assert parse_combo(ord("Q")) == {"q"}


class TestErrors:
    def test_map_without_noop_says_how_to_fix_it(self) -> None:
        with pytest.raises(KeyMapError, match="no no-op action"):
            compile_keymap({"ArrowLeft": 0, "ArrowRight": 1})
        with pytest.raises(KeyMapError, match="no no-op action"):
            compile_keymap([])

    def test_empty_map_with_noop_is_allowed(self) -> None:
        assert compile_keymap({}, noop=0)(frozenset({"a"})) == 0

    def test_conflicting_entries(self) -> None:
        with pytest.raises(KeyMapError, match="mapped twice"):
            compile_keymap({"a": 1, "A": 2}, noop=0)
        with pytest.raises(KeyMapError, match="contradicts"):
            compile_keymap({"no-op": 0, "a": 1}, noop=3)

    def test_bad_keys_and_types(self) -> None:
        with pytest.raises(KeyMapError, match="entry 'Jump'"):
            compile_keymap({"Jump": 1}, noop=0)
        with pytest.raises(KeyMapError, match="no browser equivalent"):
            compile_keymap({(5000,): 1}, noop=0)
        with pytest.raises(KeyMapError, match="must be a list"):
            compile_keymap(42)
        with pytest.raises(KeyMapError, match="is not a key"):
            compile_keymap({(True,): 1}, noop=0)


class TestJsonActions:
    def test_json_object_message_is_the_action(self) -> None:
        km = compile_keymap(["no-op", "ArrowLeft"])
        assert km.action_for_message('{"steer": -0.5, "gas": 1}') == {"steer": -0.5, "gas": 1}
        assert km.action_for_message("[0.1, 0.2]") == [0.1, 0.2]
        assert km.action_for_message({"already": "decoded"}) == {"already": "decoded"}
        assert km.action_for_message("ArrowLeft") == 1
        assert km.action_for_message("no-op") == 0
        assert km.action_for_message("z") == 0

    def test_broken_json_is_reported(self) -> None:
        with pytest.raises(KeyMapError, match="looks like JSON"):
            compile_keymap(["no-op"]).action_for_message("{oops")

    def test_whole_map_as_json_text(self) -> None:
        assert compile_keymap('{"no-op": 0, "ArrowLeft": 1}')(frozenset({"ArrowLeft"})) == 1

    def test_coerce_to_gymnasium_spaces(self) -> None:
        box = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        a = coerce_action([0.5, -0.25], box)
        assert a.dtype == np.float32 and a.shape == (2,)
        assert coerce_action("1", gym.spaces.Discrete(3)) == 1
        d = gym.spaces.Dict({"active": gym.spaces.Discrete(2), "action": gym.spaces.Discrete(3)})
        assert coerce_action({"active": 1, "action": 2}, d) == {"active": 1, "action": 2}
        with pytest.raises(KeyMapError, match="outside"):
            coerce_action([3.0, 0.0], box)
        with pytest.raises(KeyMapError, match="lacks"):
            coerce_action({"active": 1}, d)
        with pytest.raises(KeyMapError, match="does not fit"):
            coerce_action("left", gym.spaces.Discrete(3))

    def test_actions_from_a_map_fit_a_real_env(self) -> None:
        env = gym.make("CartPole-v1")
        km = compile_keymap({"ArrowLeft": 0, "ArrowRight": 1}, noop=0)
        env.reset(seed=0)
        actions = []
        for pressed in ({"ArrowLeft"}, {"ArrowRight"}, set()):
            action = coerce_action(km(frozenset(pressed)), env.action_space)
            env.step(action)  # the env takes it (CartPole asserts its actions are in its space)
            actions.append(action)
        assert actions == [0, 1, 0] and all(env.action_space.contains(a) for a in actions)


class TestActionSpaces:
    """A key map is checked against the agent's action space when the widget is made."""

    def test_every_kind_of_space_accepts_its_own_actions(self) -> None:
        box = gym.spaces.Box(-2.0, 2.0, shape=(1,), dtype=np.float32)
        cases = [
            (gym.spaces.Discrete(2), [0, 1, np.int64(1), 1.0]),
            (gym.spaces.Discrete(3, start=-1), [-1, 0, 1]),
            (box, [[-2.0], [0], np.array([1.5], np.float32)]),
            (gym.spaces.MultiBinary(3), [[0, 1, 1]]),
            (gym.spaces.MultiDiscrete([3, 2]), [[2, 1]]),
            (gym.spaces.Dict({"active": gym.spaces.Discrete(2), "action": box}), [{"active": 1, "action": [0.5]}]),
            (gym.spaces.Tuple((gym.spaces.Discrete(2), box)), [[1, [0.0]], (0, [1.0])]),
        ]
        for space, values in cases:
            for value in values:
                assert action_problem(value, space) is None, (space, value)

    @pytest.mark.parametrize(
        ("space", "value", "says"),
        [
            (gym.spaces.Discrete(2), 5, "whole number from 0 to 1"),
            (gym.spaces.Discrete(2), 0.5, "whole number"),
            (gym.spaces.Discrete(2), True, "whole number"),
            (gym.spaces.Discrete(2), "1", "whole number"),
            (gym.spaces.Box(-2.0, 2.0, shape=(1,), dtype=np.float32), 0, "shape (1,), e.g. [0.0]"),
            (gym.spaces.Box(-2.0, 2.0, shape=(1,), dtype=np.float32), [3.0], "outside Box"),
            (gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32), "left", "numbers of shape (2,)"),
            (gym.spaces.MultiBinary(2), [0, 2], "outside MultiBinary"),
            (gym.spaces.Dict({"a": gym.spaces.Discrete(2)}), {"b": 0}, "keys ['a']"),
            (gym.spaces.Dict({"a": gym.spaces.Discrete(2)}), {"a": 3}, "['a']: it takes a whole number"),
            (gym.spaces.Tuple((gym.spaces.Discrete(2),)), [0, 1], "a list of 1 actions"),
        ],
    )
    def test_what_does_not_fit_is_explained(self, space: gym.Space, value: object, says: str) -> None:
        problem = action_problem(value, space)
        assert problem is not None and says in problem

    def test_the_error_names_the_key_the_value_and_the_space(self) -> None:
        km = compile_keymap({"ArrowLeft": 0, "ArrowRight": 5}, noop=0)
        with pytest.raises(
            KeyMapError, match=r"key 'ArrowRight' is mapped to 5, which is not an action of Discrete\(2\)"
        ):
            check_keymap(km, gym.spaces.Discrete(2))
        pendulum = gym.make("Pendulum-v1").action_space
        with pytest.raises(KeyMapError, match=r"key 'ArrowLeft' is mapped to 0, .*Box.*shape \(1,\)"):
            check_keymap(compile_keymap({"ArrowLeft": 0, "ArrowRight": 1}, noop=0), pendulum)
        check_keymap(compile_keymap({"ArrowLeft": [-2.0], "ArrowRight": [2.0]}, noop=[0.0]), pendulum)
        with pytest.raises(KeyMapError, match=r"noop=7 is not an action of Discrete\(2\)"):
            check_keymap(compile_keymap({"ArrowLeft": 0, "ArrowRight": 1}, noop=7), gym.spaces.Discrete(2))


class TestNoopDefaults:
    def test_the_order_noop_then_the_map_then_the_environments(self) -> None:
        assert compile_keymap({"a": 1}, default_noop=2).noop == 2
        assert compile_keymap({"a": 1, "no-op": 0}, default_noop=2).noop == 0  # the map's own entry first
        assert compile_keymap(["no-op", "a", "b"], default_noop=2).noop == 0  # Cogment Lab's list
        assert compile_keymap({(): 5, ("a",): 1}, default_noop=2).noop == 5
        assert compile_keymap({"a": 1}, noop=3, default_noop=2).noop == 3

    def test_a_map_that_needs_none_has_no_noop_and_an_idle_action(self) -> None:
        km = compile_keymap({"ArrowRight": [1.5], "ArrowLeft": [-1.5]}, require_noop=False)
        assert km.noop is None and km(frozenset()) is None
        assert km.idle == [1.5]  # the first mapped action, where some action must be sent
        check_keymap(km, gym.spaces.Box(-2.0, 2.0, (1,), np.float32))  # no noop to check
        assert compile_keymap({"a": 1}, noop=0, require_noop=False).idle == 0
