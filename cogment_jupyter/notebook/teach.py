"""``lab.teach(...)``: a person supervises an agent and takes over while a key is held.

The environment is wrapped in :class:`~cogment_jupyter.adapters.conversions.Teacher`; the
person is its ``teacher`` agent, a Cogment client actor that answers every tick with
``{"active": 0|1, "action": ...}``. Each step records the intervention (proposed and executed
actions) in the environment's ``info``; :meth:`Lab.interventions` lists them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from cogment_jupyter.adapters.conversions import Teacher
from cogment_jupyter.notebook.play import DEFAULT_FPS, GameWidget, PlaySession, TeacherHuman, environment_keymap
from cogment_jupyter.notebook.stand_in import attach_stand_in

if TYPE_CHECKING:
    from cogment_jupyter.notebook.host import WidgetHost


def teach(
    host: WidgetHost,
    env: str,
    actor: str,
    keys: Any = None,
    *,
    noop: Any = None,
    fps: float | None = None,
    actors: Mapping[str, str] | None = None,
    title: str | None = None,
    **trial_options: Any,
) -> GameWidget:
    """Watch ``actor`` play ``env`` (served as a :class:`Teacher`); hold a key to act in its place.
    See ``Lab.teach``, which serves the wrapped environment."""
    template, _ = host.environment(env)
    if not isinstance(template, Teacher):
        raise TypeError(f"teach() needs an environment served as a Teacher; {env!r} is a {type(template).__name__}")
    agent = template.agent
    # no key held means "let the agent act": a teacher's map needs no no-op
    keymap = environment_keymap(
        template.env, keys, noop, template.env.agent_specs[agent].action_space, require_noop=False
    )
    fps = float(fps or template.render_fps or DEFAULT_FPS)
    if fps <= 0:
        raise ValueError("fps must be > 0: the agent plays in real time while you supervise")
    players = {**dict(actors or {}), agent: actor, template.name: "client"}
    widget = GameWidget(fps=fps, key_hints=keymap.hints, title=title or f"{env}: hold a key to take over")
    human = TeacherHuman(widget, keymap, fps, host.loop)
    session = PlaySession(host, env, template.name, players, widget, human, trial_options)
    widget.session = session
    widget.player = human
    session.start()
    widget.stand_in = attach_stand_in(widget, sorted(keymap.keys))
    return widget
