"""Micro-benchmark: per-step cost of the adapters on CartPole-v1 against the raw Gymnasium loop.

Run: ``uv run python tests/adapters/bench_adapters.py [steps]`` (``--frames``: frame
encodings instead). Not collected by pytest.

The adapter loop is what the in-process transport does per trial and per step: fork the
env and the Random actor, reset, then ``act`` -> ``LabAction`` -> ``step`` ->
``LabObservation`` until done, close. A third loop also encodes every payload (what the
datalog pays when it stores a step) to show that cost separately. CPU time
(``process_time``), best of interleaved rounds: the figures hold on a busy machine.
"""

from __future__ import annotations

import sys
import time

import gymnasium as gym

from cogment_jupyter.adapters import (
    Gymnasium,
    LabAction,
    LabObservation,
    Random,
    TrialCodec,
    TrialContext,
)


def raw(steps: int) -> float:
    env = gym.make("CartPole-v1")
    env.reset(seed=0)
    t = time.process_time()
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            env.reset()
    return (time.process_time() - t) / steps


def adapters(steps: int, encode: bool = False) -> float:
    template = Gymnasium("CartPole-v1")
    specs = template.agent_specs
    spec = specs["gym"]
    codec = TrialCodec.from_specs(specs)
    obs_codec, act_codec = codec.observation_codec("gym"), codec.action_codec("gym")
    actor = Random()
    n, trial = 0, 0
    t = time.process_time()
    while n < steps:
        context = TrialContext(f"t{trial}")
        trial += 1
        env, player = template.fork(), actor.fork()
        player.reset("gym", spec, context)
        result = env.reset(context)
        obs = LabObservation(result.observations["gym"], obs_codec, result.frame, info=result.info)
        if encode:
            obs.to_bytes()
        while not result.done:
            action = LabAction(player.act(obs.value, obs.frame), act_codec)
            result = env.step({"gym": action.value})
            obs = LabObservation(
                result.observations["gym"],
                obs_codec,
                result.frame,
                False,
                False,
                result.terminated["gym"],
                result.truncated["gym"],
                result.info,
                result.action_masks.get("gym"),
            )
            if encode:
                action.to_bytes()
                obs.to_bytes()
            n += 1
        env.close()
    return (time.process_time() - t) / n


def _timed(fn, n: int = 10):
    start = time.process_time()
    for _ in range(n):
        out = fn()
    return out, (time.process_time() - start) / n * 1e3


def _frame_line(env_id: str) -> str:
    import io
    import zlib

    import numpy as np

    from cogment_jupyter.adapters.frame_codec import decode_frame, encode_frame

    env = gym.make(env_id, render_mode="rgb_array")
    env.reset(seed=0)
    for _ in range(5):
        env.step(env.action_space.sample())
    frame = env.render()
    env.close()
    (data, fmt), enc = _timed(lambda: encode_frame(frame))
    _, dec = _timed(lambda: decode_frame(data, fmt))
    line = f"  {env_id:15} {frame.shape}  zlib-1 {len(data) / 1e3:5.1f} kB {enc:5.2f}/{dec:4.2f} ms"
    best, best_t = _timed(lambda: zlib.compress(frame.tobytes(), 6))
    line += f"  zlib-6 {len(best) / 1e3:5.1f} kB {best_t:5.2f} ms"
    try:
        from PIL import Image
    except ImportError:
        return line + "  (no Pillow: png not measured)"

    def png() -> bytes:
        buf = io.BytesIO()
        Image.fromarray(frame).save(buf, format="PNG")
        return buf.getvalue()

    png_data, png_t = _timed(png)
    _, png_dec = _timed(lambda: np.asarray(Image.open(io.BytesIO(png_data)).convert("RGB")))
    return line + f"  png {len(png_data) / 1e3:5.1f} kB {png_t:5.2f}/{png_dec:4.2f} ms  raw {frame.nbytes / 1e3:.0f} kB"


def frames() -> None:
    """Why frames are stored as zlib of raw pixels: size and time against PNG, per env."""
    print("frame encodings (size in kB, encode / decode in ms)")
    for env_id in ("CartPole-v1", "MountainCar-v0", "Acrobot-v1", "Pendulum-v1"):
        print(_frame_line(env_id))


def main() -> None:
    if "--frames" in sys.argv:
        frames()
        return
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    runs: dict[str, list[float]] = {"raw": [], "adapters": [], "encode": []}
    for _ in range(7):  # interleaved rounds, best of each: robust to a busy machine
        runs["raw"].append(raw(steps))
        runs["adapters"].append(adapters(steps))
        runs["encode"].append(adapters(steps, encode=True))
    r, a, e = (min(v) for v in runs.values())
    print(f"raw gymnasium loop      {r * 1e6:6.2f} us/step")
    print(f"through the adapters    {a * 1e6:6.2f} us/step  overhead {(a - r) * 1e6:+.2f} us  ratio {r / a:.2f}x")
    print(f"  + encode both payloads {e * 1e6:6.2f} us/step  overhead {(e - r) * 1e6:+.2f} us  ratio {r / e:.2f}x")


if __name__ == "__main__":
    main()
