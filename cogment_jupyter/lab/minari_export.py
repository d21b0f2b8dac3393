"""Recorded trials as a `Minari <https://minari.farama.org>`_ dataset, and back.

One trial x one agent = one Minari episode: ``N`` actions, ``N + 1`` observations (the one
each action was taken on, then the final one), ``N`` rewards, and Gymnasium's
``terminations`` / ``truncations`` kept apart. A trial that ended without the environment
saying either (``max_steps``, a cancelled round, another agent ending a multi-agent game) is
marked truncated on its last step: the episode was cut short, not finished. Each episode's
metadata keeps its ``trial_id``, ``agent`` and ``seed``, so a dataset can be traced back to
the trials it came from.

Datasets are written and read locally (``root``, default ``./minari_datasets``); nothing is
ever downloaded. Needs ``minari`` with a storage backend: ``pip install "cogment-jupyter[notebooks]"``
or ``pip install "minari[arrow]" pillow`` (Arrow, the default here, uses the pyarrow this package
already has, and imports Pillow, which Minari does not declare; ``"hdf5"`` needs h5py).
``EpisodeBuffer.add_step_data`` (and so jax, ``minari[create]``) is not used::

    from cogment_jupyter.lab.minari_export import to_minari, load_minari, minari_steps

    dataset = to_minari(lab, trial_ids, "class/cartpole/demos-v0", env="CartPole-v1")
    dataset = load_minari("class/cartpole/demos-v0")   # later, anywhere
    minari_steps(dataset)                               # one row per transition
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np
import pandas as pd

from cogment_jupyter.adapters.trial_codec import TrialCodec
from cogment_jupyter.adapters.wire import SPECTATOR
from cogment_jupyter.lab.trial_data import TrialData, trial_data
from cogment_jupyter.transport.lab_config import EnvConfig

if TYPE_CHECKING:
    from minari import MinariDataset
    from minari.data_collector import EpisodeBuffer

    from cogment_jupyter.datastore.api import Datastore
    from cogment_jupyter.lab.lab import Lab

__all__ = [
    "DEFAULT_ROOT",
    "Episode",
    "episode_buffers",
    "episodes",
    "load_minari",
    "minari_arrays",
    "minari_infos",
    "minari_steps",
    "to_minari",
]

#: where datasets go unless ``root=`` says otherwise (relative to the working directory)
DEFAULT_ROOT = "minari_datasets"
_ROOT_ENV = "MINARI_DATASETS_PATH"
_root_lock = threading.Lock()


def _minari() -> Any:
    install = 'pip install "cogment-jupyter[notebooks]" (or: pip install "minari[arrow]" pillow)'
    try:
        import minari
    except ImportError as error:
        raise ImportError(f"Minari export needs minari: {install}") from error
    try:
        import PIL  # noqa: F401  (Minari's storages import it without declaring it)
    except ImportError as error:
        raise ImportError(f"Minari's storage needs Pillow, which minari does not install: {install}") from error
    return minari


@dataclass(frozen=True)
class Episode:
    """One agent's part of one trial, shaped as a Minari episode (before it is a buffer)."""

    trial_id: str
    agent: str
    seed: int | None
    observation_space: gym.Space
    action_space: gym.Space
    observations: Any  # N + 1
    actions: Any  # N
    rewards: np.ndarray
    terminations: np.ndarray
    truncations: np.ndarray
    infos: Sequence[dict[str, Any]] = ()  # N + 1: the first observation's (the reset's), then each step's

    def __len__(self) -> int:
        return len(self.rewards)

    def buffer(self, episode_id: int | None = None) -> EpisodeBuffer:
        """This episode as a ``minari.EpisodeBuffer``."""
        from minari.data_collector import EpisodeBuffer

        return EpisodeBuffer(
            id=episode_id,
            seed=self.seed,
            observations=self.observations,
            actions=self.actions,
            rewards=self.rewards.tolist(),
            terminations=self.terminations.tolist(),
            truncations=self.truncations.tolist(),
            infos=minari_infos(self.infos) or None,
        )


# ---------------------------------------------------------------------------------------------
# trials -> episodes


def _datastore(source: Lab | Datastore) -> Datastore:
    store = getattr(source, "datastore", None)
    if store is not None and hasattr(source, "get_trial_data"):
        return store  # a Lab
    if hasattr(source, "params") and hasattr(source, "steps"):
        return source  # type: ignore[return-value]
    raise TypeError(f"expected a Lab or a Datastore, got {type(source).__name__}")


def _minari_layout(space: gym.Space, values: Any) -> Any:
    """``TrialData`` stacks Tuple spaces as dicts keyed by position; Minari wants tuples."""
    if isinstance(space, gym.spaces.Dict):
        return {key: _minari_layout(sub, values[key]) for key, sub in space.spaces.items()}
    if isinstance(space, gym.spaces.Tuple):
        return tuple(_minari_layout(sub, values[i]) for i, sub in enumerate(space.spaces))
    return values


def _append(space: gym.Space, head: Any, tail: Any) -> Any:
    if isinstance(space, gym.spaces.Dict):
        return {key: _append(sub, head[key], tail[key]) for key, sub in space.spaces.items()}
    if isinstance(space, gym.spaces.Tuple):
        return tuple(_append(sub, head[i], tail[i]) for i, sub in enumerate(space.spaces))
    return np.concatenate([np.asarray(head), np.asarray(tail)], axis=0)


def _last(space: gym.Space, values: Any) -> Any:
    if isinstance(space, gym.spaces.Dict):
        return {key: _last(sub, values[key]) for key, sub in space.spaces.items()}
    if isinstance(space, gym.spaces.Tuple):
        return tuple(_last(sub, values[i]) for i, sub in enumerate(space.spaces))
    return np.asarray(values)[-1:]


def _episode(trial_id: str, agent: str, seed: int | None, data: TrialData, spaces: Any) -> Episode:
    obs_space, act_space = spaces.observation.space, spaces.action.space
    observations = _minari_layout(obs_space, data.observations)
    final = _last(obs_space, _minari_layout(obs_space, data.next_observations))
    terminations = np.asarray(data.terminated, dtype=bool).copy()
    truncations = np.asarray(data.truncated, dtype=bool).copy()
    if not (terminations[-1] or truncations[-1]):
        truncations[-1] = True  # cut short from outside the environment (max_steps, cancelled, ...)
    return Episode(
        trial_id=trial_id,
        agent=agent,
        seed=seed,
        observation_space=obs_space,
        action_space=act_space,
        observations=_append(obs_space, observations, final),
        actions=_minari_layout(act_space, data.actions),
        rewards=np.asarray(data.rewards, dtype=np.float64),
        terminations=terminations,
        truncations=truncations,
        infos=data.info,
    )


def minari_infos(infos: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Info dicts as Minari stores them: per key (every key any step has), the values of all
    steps; nested dicts stay nested. Numbers, booleans and strings are kept as they are
    (None where a step lacks the key), lists of one length become an array; any other
    value is kept as its JSON text. Dicts that are always empty are left out (Minari cannot
    store them)."""
    keys = list(dict.fromkeys(key for info in infos for key in info))
    out: dict[str, Any] = {}
    for key in keys:
        values = [info.get(key) for info in infos]
        present = [v for v in values if v is not None]
        if present and all(isinstance(v, Mapping) for v in present):
            nested = minari_infos([v if v is not None else {} for v in values])
            if nested:  # Minari cannot store a dict that is always empty
                out[key] = nested
        elif _scalars_of_one_kind(present):
            out[key] = values
        elif len(present) == len(values) and _same_shape(present):
            out[key] = np.asarray(present)
        else:
            out[key] = [None if v is None else json.dumps(v) for v in values]
    return out


def _scalars_of_one_kind(values: Sequence[Any]) -> bool:
    kinds = {bool if isinstance(v, bool) else (float if isinstance(v, int | float) else type(v)) for v in values}
    return len(kinds) <= 1 and kinds <= {bool, float, str}


def _same_shape(values: Sequence[Any]) -> bool:
    try:
        arrays = [np.asarray(v) for v in values]
    except ValueError:
        return False
    return all(a.dtype.kind in "biuf" and a.shape == arrays[0].shape and a.ndim for a in arrays)


def episodes(
    source: Lab | Datastore,
    trial_ids: str | Iterable[str],
    agents: str | Sequence[str] | None = None,
) -> Iterator[Episode]:
    """The episodes of recorded trials: one per trial and agent (``agents``: all players by default).

    Spectators (people giving feedback) are not agents and never become episodes; an agent
    that took no action in a trial (a round cancelled at once) is skipped.
    """
    ids = [trial_ids] if isinstance(trial_ids, str) else list(trial_ids)
    wanted = [agents] if isinstance(agents, str) else (list(agents) if agents is not None else None)
    trial = getattr(source, "trial", None)  # a Lab: its trials still running are waited for
    for trial_id in ids if trial is not None else ():
        with contextlib.suppress(KeyError):  # (not one of its running or recent trials: recorded already)
            trial(trial_id).wait()
    store = _datastore(source)
    for trial_id in ids:
        params = store.params(trial_id)
        codec = TrialCodec.from_params(params)
        if codec is None:
            raise ValueError(f"trial {trial_id!r} recorded no spaces: it was not run by a cogment_jupyter lab")
        players = [a.name for a in params.actors if a.actor_class != SPECTATOR]
        names = players if wanted is None else wanted
        unknown = [a for a in names if a not in players]
        if unknown:
            raise ValueError(f"trial {trial_id!r} has no agent {unknown}; its agents are {players}")
        seed = EnvConfig.from_bytes(params.environment.config.content).seed
        data = trial_data(store, trial_id, names)
        for agent in names:
            if len(data[agent]):
                yield _episode(trial_id, agent, seed, data[agent], codec[agent])


def episode_buffers(
    source: Lab | Datastore,
    trial_ids: str | Iterable[str],
    agents: str | Sequence[str] | None = None,
) -> list[EpisodeBuffer]:
    """``minari.EpisodeBuffer`` objects of recorded trials (see :func:`episodes`), ids from 0."""
    return [episode.buffer(i) for i, episode in enumerate(episodes(source, trial_ids, agents))]


# ---------------------------------------------------------------------------------------------
# writing and reading datasets


@contextlib.contextmanager
def _datasets_root(root: str | os.PathLike[str] | None) -> Iterator[Path]:
    """Point Minari (which reads ``MINARI_DATASETS_PATH``) at ``root`` while inside."""
    path = Path(root if root is not None else DEFAULT_ROOT).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    with _root_lock:
        previous = os.environ.get(_ROOT_ENV)
        os.environ[_ROOT_ENV] = str(path)
        try:
            yield path
        finally:
            if previous is None:
                os.environ.pop(_ROOT_ENV, None)
            else:
                os.environ[_ROOT_ENV] = previous


def to_minari(
    source: Lab | Datastore,
    trial_ids: str | Iterable[str],
    dataset_id: str,
    *,
    agents: str | Sequence[str] | None = None,
    root: str | os.PathLike[str] | None = None,
    env: str | None = None,
    algorithm_name: str | None = None,
    author: str | None = None,
    description: str | None = None,
    data_format: str = "arrow",
    jpeg_encoding: bool = False,
    overwrite: bool = False,
) -> MinariDataset:
    """Write recorded trials as the local Minari dataset ``dataset_id`` under ``root``.

    ``dataset_id`` follows Minari's ``namespace/name-vN`` form (``"class/cartpole/demos-v0"``).
    ``env``: the Gymnasium id the trials ran (``"CartPole-v1"``), recorded so that
    ``dataset.recover_environment()`` works; without it only the spaces are recorded.
    Image observations are stored losslessly unless ``jpeg_encoding=True``. Every episode
    must have the same spaces (export agents with different spaces to different datasets).
    ``overwrite`` replaces a dataset of the same id.
    """
    minari = _minari()
    found = list(episodes(source, trial_ids, agents))
    if not found:
        raise ValueError("no episode to export: the trials recorded no action (is the list of trial ids empty?)")
    first = found[0]
    for episode in found[1:]:
        if episode.observation_space != first.observation_space or episode.action_space != first.action_space:
            raise ValueError(
                f"{episode.trial_id}/{episode.agent} has other spaces than {first.trial_id}/{first.agent}: "
                "a Minari dataset has one observation and one action space (choose agents=...)"
            )
    with _datasets_root(root) as path, warnings.catch_warnings():
        # Minari's reminders that optional metadata (email, eval env, ...) was not given
        warnings.filterwarnings("ignore", message=r".*(is set to None|env_spec is None).*", category=UserWarning)
        target = path / dataset_id
        if target.exists():
            if not overwrite:
                raise FileExistsError(f"a Minari dataset {dataset_id!r} exists in {path}: pass overwrite=True")
            minari.delete_dataset(dataset_id)
        dataset = minari.create_dataset_from_buffers(
            dataset_id,
            [episode.buffer(i) for i, episode in enumerate(found)],
            env=env,
            algorithm_name=algorithm_name or "cogment_jupyter trials",
            author=author,
            description=description,
            observation_space=first.observation_space,
            action_space=first.action_space,
            data_format=data_format,
            jpeg_encoding=jpeg_encoding,
        )
        dataset.storage.update_episode_metadata(
            [{"trial_id": e.trial_id, "agent": e.agent} for e in found], range(len(found))
        )
    return dataset


def load_minari(dataset_id: str, *, root: str | os.PathLike[str] | None = None) -> MinariDataset:
    """Open the local Minari dataset ``dataset_id`` under ``root`` (never downloads)."""
    minari = _minari()
    with _datasets_root(root) as path:
        if not (path / dataset_id / "data").exists():
            local = sorted(minari.list_local_datasets())
            raise FileNotFoundError(f"no Minari dataset {dataset_id!r} in {path}; there: {local}")
        return minari.load_dataset(dataset_id)


def _rows(space: gym.Space, values: Any, n: int) -> list[Any]:
    """Per-step values of a stacked (possibly nested) space, for a DataFrame column."""
    if isinstance(space, gym.spaces.Dict):
        parts = {key: _rows(sub, values[key], n) for key, sub in space.spaces.items()}
        return [{key: parts[key][i] for key in parts} for i in range(n)]
    if isinstance(space, gym.spaces.Tuple):
        parts = [_rows(sub, values[i], n) for i, sub in enumerate(space.spaces)]
        return [tuple(p[i] for p in parts) for i in range(n)]
    array = np.asarray(values)
    if array.ndim == 1:
        return array[:n].tolist()
    return list(array[:n])


def minari_steps(dataset: MinariDataset) -> pd.DataFrame:
    """One row per transition: ``episode_id, trial_id, agent, step, observation, action, reward,
    next_observation, terminated, truncated`` (array values as numpy arrays)."""
    metadata = {m["id"]: m for m in dataset.storage.get_episode_metadata(dataset.episode_indices)}
    frames = []
    for episode in dataset.iterate_episodes():
        n = len(episode)
        meta = metadata.get(episode.id, {})
        observations = _rows(dataset.observation_space, episode.observations, n + 1)
        frames.append(
            pd.DataFrame(
                {
                    "episode_id": episode.id,
                    "trial_id": meta.get("trial_id"),
                    "agent": meta.get("agent"),
                    "step": np.arange(n),
                    "observation": observations[:n],
                    "action": _rows(dataset.action_space, episode.actions, n),
                    "reward": np.asarray(episode.rewards, dtype=np.float64),
                    "next_observation": observations[1:],
                    "terminated": np.asarray(episode.terminations, dtype=bool),
                    "truncated": np.asarray(episode.truncations, dtype=bool),
                }
            )
        )
    columns = [
        "episode_id", "trial_id", "agent", "step", "observation", "action", "reward",
        "next_observation", "terminated", "truncated",
    ]  # fmt: skip
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def minari_arrays(dataset: MinariDataset) -> dict[str, Any]:
    """Every transition stacked for learning: ``observations, actions, rewards, next_observations,
    terminations, truncations, episode_ids`` (Box and Discrete spaces)."""
    parts: dict[str, list[Any]] = {
        k: [] for k in ("observations", "actions", "rewards", "next_observations", "terminations", "truncations")
    }
    ids = []
    for episode in dataset.iterate_episodes():
        n = len(episode)
        observations = np.asarray(episode.observations)
        parts["observations"].append(observations[:n])
        parts["next_observations"].append(observations[1:])
        parts["actions"].append(np.asarray(episode.actions)[:n])
        parts["rewards"].append(np.asarray(episode.rewards, dtype=np.float64))
        parts["terminations"].append(np.asarray(episode.terminations, dtype=bool))
        parts["truncations"].append(np.asarray(episode.truncations, dtype=bool))
        ids.append(np.full(n, episode.id))
    if not ids:
        raise ValueError("the dataset has no episode")
    out: dict[str, Any] = {k: np.concatenate(v, axis=0) for k, v in parts.items()}
    out["episode_ids"] = np.concatenate(ids)
    return out
