"""``TrialOptions``: what a trial runs with besides its environment, actors and seed.

``Lab.start_trial(..., max_steps=100, render=True)`` and the other entry points take these as
keywords, checked here once (an unknown one is named, with the closest option); the lab passes
the typed object on from there.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TrialOptions:
    """``start_trial``'s options; see ``Lab.start_trial``."""

    #: the trial ends after this many ticks (0: when the environment says)
    max_steps: int = 0
    #: the environment's config (keyword arguments of its ``reset``-time set-up)
    config: Mapping[str, Any] | None = None
    #: each agent's actor config, by agent
    actor_configs: Mapping[str, Mapping[str, Any]] | None = None
    #: whether the environment renders frames (implied by a frame size)
    render: bool = False
    #: frames resampled to this size (one alone keeps the aspect ratio)
    render_width: int | None = None
    render_height: int | None = None
    #: ``options`` of the environment's ``reset``
    reset_options: Mapping[str, Any] | None = None
    #: recorded with the trial, found again by ``lab.trials(properties=...)``
    properties: Mapping[str, str] | None = None
    #: agents whose actor may fail or go silent without ending the trial
    optional: tuple[str, ...] = ()
    #: what an optional agent plays when its actor does not answer, by agent
    default_actions: Mapping[str, Any] | None = None
    #: seconds an actor has to answer a tick (0: no limit)
    response_timeout: float = 0.0
    #: whether the trial is recorded
    datalog: bool = True
    #: participants that watch without playing an agent: name -> served actor (or "client")
    spectators: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        if self.max_steps < 0:
            raise ValueError(f"max_steps must be >= 0 (0 = no limit), got {self.max_steps}")
        if self.response_timeout < 0:
            raise ValueError(f"response_timeout must be >= 0 seconds (0 = no limit), got {self.response_timeout}")
        object.__setattr__(self, "optional", tuple(self.optional))

    @classmethod
    def of(cls, options: Mapping[str, Any]) -> TrialOptions:
        """The options given as keywords; an unknown keyword is refused by name."""
        names = [field.name for field in dataclasses.fields(cls)]
        for name in options:
            if name not in names:
                close = difflib.get_close_matches(name, names, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise TypeError(f"unknown trial option {name!r}{hint}; the options are {', '.join(names)}")
        return cls(**options)
