"""Play widget benchmark: frames painted per second, keypress -> frame latency, bytes per frame.

Runs in Debian's headless Chromium against a real JupyterLab (the project's browser harness in
tests/browser/jupyter_harness.py), for CartPole-v1 (600x400) and an Atari-sized 210x160 frame,
for each frame encoding, against the same environment stepped with no display in the same run:

1. encode cost in Python per format (median ms, bytes);
2. decode + paint cost of the widget's own front-end code in Chromium without Jupyter (the
   built bundle rendered with a stand-in model), per format;
3. the full path through JupyterLab, three ways (``--env-in``): ``process``/``kernel``: a kernel
   thread steps the env (in another process that renders and encodes, or in the kernel itself)
   straight into a ``PlayWidget`` (paced at --pace fps, a key press steps at once); ``lab``: the
   real ``lab.play`` (a recorded Cogment trial with the widget's client actor, in a kernel that
   shares the Jupyter server's runtime; ``lab-embedded``: a kernel with its own runtime), CartPole
   only, the person's tick rate at --pace. Frames/s actually painted; then, paced at 60 fps,
   Playwright presses arrow keys and the widget measures keydown -> first painted frame that
   reflects the key (p50, p95);
4. baseline: the same env stepped and rendered with no display, steps/s;
5. key -> recorded action: a turn-based ``lab.play`` round (each key press one action), timed from
   the browser's keydown to the action the person's client actor hands the trial, with the kernel
   idle and busy with another cell (``time.sleep``; a pure-Python loop holding the GIL; batches of
   ``run_trials`` on the lab's loop), p50/p95 side by side and as ratios to the idle row; and once
   more busy with ipykernel 7.4's own routing of the widget's messages (what the widget
   overrides, see ``cogment_jupyter.notebook.comm_routing``). The recorded actions are checked
   against the keys pressed.

Every hop is timestamped (wall clock; the page's clock is corrected to Date.now()): keydown, our
key handler, comm message sent, the server passing it on (a probe in the server's config), the
kernel's handler (and its thread), the stepping thread, action chosen, env step/render/encode,
show_frame, encode, send, the server passing the frame on, the page's WebSocket receiving it
(a probe wrapping WebSocket), the widget's handler, decoded, drawn, next animation frame; the
report prints p50/p95/mean per hop for frames and for key presses, and CPU ms per painted frame
of Chromium, the server and the kernel. Chromium runs as a visible tab would (a headless page's
renderer is otherwise at nice 5; --background-renderer keeps that).

Targets (issue 5): >= 60 frames/s painted and keypress -> frame p95 <= 35 ms on CartPole.
Run:  uv run python bench/play_latency.py  [--formats rgb-deflate png] [--kinds cartpole] [--recorded 30]
       [--env-in process lab] [--seconds 4] [--presses 30] [--json out.json] [--screenshot x.png]
       [--trace T] [--profile P] (Chromium trace / JS CPU profile of each throughput phase)
Only section 5 (about a minute): --kinds --recorded 30.
Needs /usr/bin/chromium (apt-get install chromium) and Pillow for png/jpeg/webp.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

REPO = Path(__file__).resolve().parents[1]
FORMATS = ["rgb", "rgb-deflate", "png", "jpeg", "webp"]
KINDS = ["cartpole", "atari"]
TARGET_FPS, TARGET_P95_MS = 60.0, 35.0


# ---------------------------------------------------------------------------------------------
# environments (also imported by the benchmark's kernel)


class SyntheticAtari:
    """A 210x160 Breakout-like frame source: a paddle the actions move and a bouncing ball.

    Stands in for an Atari env (ale-py is not a dependency): same size, same flat colours.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_fps": 60}

    def __init__(self) -> None:
        self.reset()

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        self.paddle, self.ball, self.vel, self.t = 70, [100.0, 80.0], [2.0, 1.5], 0
        return self.render(), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self.paddle = int(np.clip(self.paddle + (-4 if action == 1 else 4 if action == 2 else 0), 8, 136))
        for i, hi in ((0, 195), (1, 152)):
            self.ball[i] += self.vel[i]
            if not 30 <= self.ball[i] <= hi:
                self.vel[i] = -self.vel[i]
        self.t += 1
        return self.render(), 0.0, False, self.t >= 5000, {}

    def render(self) -> np.ndarray:
        f = np.zeros((210, 160, 3), np.uint8)
        f[:, :8] = f[:, -8:] = f[17:32] = (142, 142, 142)
        for row, colour in enumerate([(200, 72, 72), (198, 108, 58), (180, 122, 48), (162, 162, 42)]):
            f[57 + 6 * row : 63 + 6 * row, 8:-8] = colour
        f[189:193, self.paddle : self.paddle + 16] = (200, 72, 72)
        y, x = int(self.ball[0]), int(self.ball[1])
        f[y : y + 4, x : x + 2] = (200, 72, 72)
        return f


def make_env(kind: str) -> Any:
    if kind == "cartpole":
        import gymnasium as gym

        return gym.make("CartPole-v1", render_mode="rgb_array")
    return SyntheticAtari()


def sample_frames(kind: str, n: int = 60) -> list[np.ndarray]:
    env = make_env(kind)
    env.reset(seed=0)
    frames = []
    for i in range(n):
        _, _, term, trunc, _ = env.step(i % 2)
        if term or trunc:
            env.reset()
        frames.append(np.asarray(env.render()))
    return frames


class LocalEnv:
    """The env stepped and rendered by the kernel itself (its GIL is shared with the widget's threads)."""

    def __init__(self, kind: str, fmt: str) -> None:
        self.env = make_env(kind)
        self.env.reset(seed=0)
        self.marks: dict[str, float] = {}

    def step(self, action: int) -> tuple[Any, float, bool]:
        _, r, term, trunc, _ = self.env.step(action)
        frame = self.env.render()
        if term or trunc:
            self.env.reset()
        return frame, float(r), bool(term or trunc)

    def close(self) -> None:
        pass


def _remote_env_main(conn: Any, kind: str, fmt: str) -> None:
    """Child process: step, render and encode, as the Cogment environment service would."""
    from cogment_jupyter.notebook.frame_stream import encode_frame

    env = make_env(kind)
    env.reset(seed=0)
    while (action := conn.recv()) is not None:
        marks = {"env_recv": time.time() * 1000}
        _, r, term, trunc, _ = env.step(action)
        frame = env.render()
        marks["env_step"] = time.time() * 1000
        e = encode_frame(frame, fmt)
        marks["env_enc"] = time.time() * 1000
        if term or trunc:
            env.reset()
        conn.send((e.format, e.width, e.height, e.data, float(r), bool(term or trunc), marks))


class RemoteEnv:
    """The env in another process, frames arriving encoded (lab.play's case: the env runs in the
    Cogment environment service); the kernel only forwards bytes to the widget."""

    def __init__(self, kind: str, fmt: str) -> None:
        import multiprocessing as mp

        self.marks: dict[str, float] = {}
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_remote_env_main, args=(child, kind, fmt), daemon=True)
        self.proc.start()

    def step(self, action: int) -> tuple[Any, float, bool]:
        from cogment_jupyter.notebook.frame_stream import EncodedFrame

        self.conn.send(action)
        fmt, w, h, data, r, done, self.marks = self.conn.recv()
        return EncodedFrame(fmt, w, h, data), r, done

    def close(self) -> None:
        self.conn.send(None)
        self.proc.join(timeout=10)


class _Phases:
    """Runs a benchmark phase on a thread of the kernel and writes its result to ``<out>/<name>.json``
    (the driver polls for the file: a cell that waited would hold the kernel)."""

    out: Path
    stop_event: threading.Event

    def start(self, name: str, phase: str, **kw: Any) -> None:
        self.stop_event.clear()
        threading.Thread(target=self._run, args=(name, phase), kwargs=kw, daemon=True).start()

    def stop(self) -> None:
        self.stop_event.set()

    def _run(self, name: str, phase: str, **kw: Any) -> None:
        try:
            result = self.phase(phase, **kw)
        except Exception as e:  # reported to the driver rather than lost on a thread
            result = {"error": repr(e)}
        (self.out / f"{name}.json").write_text(json.dumps(result))

    def phase(self, phase: str, **kw: Any) -> dict[str, Any]:
        raise NotImplementedError

    @staticmethod
    def frame_rates(before: dict[str, Any], after: dict[str, Any], elapsed: float, cpu_s: float) -> dict[str, Any]:
        """What a widget's frame counters say about ``elapsed`` seconds of play."""
        delta = {k: after[k] - before[k] for k in ("submitted", "sent", "dropped", "acked", "bytes_sent", "encode_s")}
        sent = max(delta["sent"], 1)
        return {
            "seconds": elapsed,
            "offered_fps": delta["submitted"] / elapsed,
            "sent_fps": delta["sent"] / elapsed,
            "acked_fps": delta["acked"] / elapsed,
            "bytes_per_frame": delta["bytes_sent"] / sent,
            "encode_ms": 1000 * delta["encode_s"] / sent,
            "legs_ms": [after.get(k) for k in ("to_browser_ms", "paint_ms", "ack_back_ms")],
            "kernel_cpu_ms_per_frame": 1000 * cpu_s / sent,
        }


class KernelPump(_Phases):
    """Runs inside the benchmark's kernel: steps an env into a PlayWidget on a background thread."""

    def __init__(self, kind: str, out_dir: str, window: int | None = None) -> None:
        from cogment_jupyter.notebook.widget import PlayWidget

        self.kind, self.out = kind, Path(out_dir)
        options = {} if window is None else {"max_in_flight": window}
        self.widget = PlayWidget(title=f"bench: {kind}", fps=60, **options)
        self.stop_event = threading.Event()
        # a key press steps the env at once instead of at the next tick (Cogment Lab's pacing)
        self.key_event = threading.Event()
        self.key_delays_ms: list[float] = []  # browser key event -> kernel callback
        self.widget.on_keys(self._on_keys)

    def _on_keys(self, pressed: frozenset[str], t_ms: float) -> None:
        self.key_delays_ms.append(time.time() * 1000 - t_ms)
        self.key_event.set()

    def phase(self, phase: str, **kw: Any) -> dict[str, Any]:
        return self.baseline(**kw) if phase == "baseline" else self.pump(**kw)

    def baseline(self, seconds: float) -> dict[str, Any]:
        env = make_env(self.kind)
        env.reset(seed=0)
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            _, _, term, trunc, _ = env.step(n % 2)
            env.render()
            if term or trunc:
                env.reset()
            n += 1
        return {"steps_per_s": n / (time.perf_counter() - t0)}

    def pump(self, fmt: str, pace: float, seconds: float, env_in: str = "kernel") -> dict[str, Any]:
        from cogment_jupyter.notebook.tracing import Tracing

        w = self.widget
        w.frame_format = fmt
        env = (LocalEnv if env_in == "kernel" else RemoteEnv)(self.kind, fmt)
        if env_in != "kernel":
            env.step(0)  # wait for the child to be up
        before = w.frame_stats()
        self.key_delays_ms.clear()
        period = 1.0 / pace
        cpu0 = time.process_time()
        t0 = next_t = time.perf_counter()
        tick, ret = 0, 0.0
        w.tracing = Tracing()
        while time.perf_counter() - t0 < seconds and not self.stop_event.is_set():
            key_seq = w.key_seq
            pressed = w.pressed
            action = 0 if "ArrowLeft" in pressed else 1 if "ArrowRight" in pressed else tick % 2
            marks = {"act": time.time() * 1000}
            frame, r, done = env.step(action)
            marks.update(env.marks, step=time.time() * 1000)
            tick, ret = tick + 1, ret + r
            w.tracing.mark_frame(**marks)
            w.show_frame(frame, key_seq=key_seq, tick=tick, episode_return=ret)
            if done:
                tick, ret = 0, 0.0
            next_t += period
            if self.key_event.wait(max(0.0, next_t - time.perf_counter())):
                self.key_event.clear()
                w.tracing.mark_key("loop")
                next_t = time.perf_counter()  # a key: step now, the tick clock restarts
            elif time.perf_counter() - next_t > 5 * period:
                next_t = time.perf_counter()  # fell behind: do not burst to catch up
        elapsed = time.perf_counter() - t0
        kernel_cpu_s = time.process_time() - cpu0
        env.close()
        return {
            **self.frame_rates(before, w.frame_stats(), elapsed, kernel_cpu_s),
            "key_to_kernel_ms": statistics.median(self.key_delays_ms) if self.key_delays_ms else None,
        }


def endless_cartpole(**kwargs: Any) -> Any:
    """CartPole-v1 that starts over instead of ending, so one lab.play round lasts the whole bench."""
    import gymnasium as gym

    class Endless(gym.Wrapper):
        def step(self, action: Any) -> Any:
            obs, r, term, trunc, info = self.env.step(action)
            if term or trunc:
                obs, info = self.env.reset()
            return obs, r, False, False, info

    return Endless(gym.make("CartPole-v1", max_episode_steps=10**9, **kwargs))


class LabPlayBench(_Phases):
    """Runs inside the benchmark's kernel: the real ``lab.play`` (Cogment trial, HumanActor, the
    lab's loop thread; the Jupyter server's shared runtime when the server extension runs)."""

    def __init__(self, kind: str, out_dir: str, window: int | None = None, embedded: bool = False) -> None:
        from cogment_jupyter import envs
        from cogment_jupyter.magics import launch

        self.kind, self.out = kind, Path(out_dir)
        self.lab = launch(str(self.out / f".cogment-bench-{embedded}"), None, None, embedded)
        self.lab.serve_env("bench-cartpole", envs.Gymnasium(endless_cartpole, render=True))
        title = f"bench: {kind} lab.play" + (" embedded" if embedded else "")
        keys = {"ArrowLeft": 0, "ArrowRight": 1}
        self.widget = self.lab.play("bench-cartpole", keys=keys, noop=0, fps=60, title=title)
        if window is not None:
            self.widget._frames.window = window
        from cogment_jupyter.notebook.tracing import Tracing

        self.widget.tracing = Tracing()
        self.stop_event = threading.Event()

    def phase(self, phase: str, **kw: Any) -> dict[str, Any]:
        return self.measure(**kw)

    def pause(self, paused: bool = True) -> None:
        """Between phases the round is paused, so it does not load the machine under the others."""
        assert self.widget.session is not None
        self.widget.session._control("pause" if paused else "resume")

    def measure(self, fmt: str, seconds: float, pace: float = 60.0, **_: Any) -> dict[str, Any]:
        w = self.widget
        w.frame_format = fmt
        w.player.fps = pace  # the person's tick rate: the same pace as the pump phases
        self.pause(False)
        before = w.frame_stats()
        cpu0, t0 = time.process_time(), time.perf_counter()
        self.stop_event.wait(seconds)
        elapsed = time.perf_counter() - t0
        kernel_cpu_s = time.process_time() - cpu0
        after = w.frame_stats()
        self.pause()
        trial = w.trial
        return {
            **self.frame_rates(before, after, elapsed, kernel_cpu_s),
            "trial": {"id": trial.id, "state": trial.state, "remote": getattr(trial, "remote", None)}
            if trial
            else None,
            "lab_mode": self.lab.mode if hasattr(self.lab, "mode") else None,
        }


class RecordedKeyBench:
    """Runs inside the benchmark's kernel: a turn-based ``lab.play`` round (every key press is one
    action, so the recorded actions must equal the keys pressed, in order), timed from the
    browser's keydown to the action the person's client actor hands the trial, while the kernel is
    idle or busy with another cell."""

    TITLE = "bench: recorded keys"

    def __init__(self, out_dir: str) -> None:
        from cogment_jupyter import Lab, actors, envs
        from cogment_jupyter.lab.lab import LabNotLaunched
        from cogment_jupyter.magics import launch

        try:
            self.lab = Lab.current()
        except LabNotLaunched:
            self.lab = launch(str(Path(out_dir) / ".cogment-bench-recorded"), None, None, False)
        self.lab.serve_env("bench-cartpole-recorded", envs.Gymnasium(endless_cartpole, render=True))
        self.lab.serve_env("bench-cartpole-batch", envs.Gymnasium("CartPole-v1"))
        self.lab.serve_actor("bench-random", actors.Random())
        keys = {"ArrowLeft": 0, "ArrowRight": 1}
        self.widget = self.lab.play("bench-cartpole-recorded", keys=keys, noop=0, fps=0, title=self.TITLE)
        self.keys = keys
        self.downs: list[tuple[float, str, str]] = []  # (browser keydown ms, key, kernel thread)
        self.decided: list[float] = []  # kernel wall-clock ms when each action was handed to the trial
        self.busy: tuple[float, float] | None = None
        self._taken = 0
        self.widget.on_keys(self._on_keys)
        self._held: frozenset[str] = frozenset()
        human = self.widget.player
        act = human.act

        async def timed_act(observation: Any, frame: Any = None) -> Any:
            action = await act(observation, frame)
            self.decided.append(time.time() * 1000)
            return action

        human.act = timed_act

    def _on_keys(self, pressed: frozenset[str], t_ms: float) -> None:
        new = [k for k in pressed - self._held if k in self.keys]
        self._held = pressed
        for key in new:
            self.downs.append((t_ms, key, threading.current_thread().name))

    def frontend_routing(self, keep: bool) -> None:
        """Keep the front end's subshell routing (the widget's default) or fall back to ipykernel's."""
        from cogment_jupyter.notebook.comm_routing import keep_frontend_routing

        if keep:
            keep_frontend_routing(self.widget)
        else:
            vars(self.widget.comm).pop("_reply_subshell_for", None)

    def busy_cell(self, kind: str, seconds: float) -> None:
        """What a busy cell does: sleep, batches of trials on the lab's loop (``run_trials``), or
        pure-Python work that holds the GIL (a training loop)."""
        t0 = time.time()
        if kind == "sleep":
            time.sleep(seconds)
        elif kind == "run_trials":
            while time.time() - t0 < seconds:
                self.lab.run_trials(20, "bench-cartpole-batch", "bench-random", progress=False)
        else:
            n = 0
            while time.time() - t0 < seconds:
                n += sum(i * i for i in range(2000))
        self.busy = (t0 * 1000, time.time() * 1000)

    def take(self, timeout_s: float = 30.0) -> dict[str, Any]:
        """The presses since the last take, once each has its action (waits for the last ones)."""
        deadline = time.monotonic() + timeout_s
        while len(self.decided) < len(self.downs) and time.monotonic() < deadline:
            time.sleep(0.02)
        downs, decided = self.downs[self._taken :], self.decided[self._taken : len(self.downs)]
        self._taken = len(self.downs)
        busy, self.busy = self.busy, None
        return {"downs": downs, "decided": decided, "busy": busy}

    def verify(self) -> dict[str, Any]:
        """End the round; its recorded actions against the keys pressed."""
        trial = self.widget.trial
        trial.cancel()
        trial.wait(60)
        recorded = self.lab.steps(trial.id)["action"].dropna().astype(int).tolist()
        pressed = [self.keys[key] for _, key, _ in self.downs]
        return {"recorded": len(recorded), "pressed": len(pressed), "equal": recorded[: len(pressed)] == pressed}


# ---------------------------------------------------------------------------------------------
# 1. Python encode cost


def encode_costs(frames: list[np.ndarray], formats: list[str], repeat: int = 60) -> dict[str, dict[str, float]]:
    from cogment_jupyter.notebook.frame_stream import encode_frame

    out = {}
    for fmt in formats:
        times, sizes = [], []
        for i in range(repeat):
            t0 = time.perf_counter()
            sizes.append(len(encode_frame(frames[i % len(frames)], fmt).data))
            times.append((time.perf_counter() - t0) * 1000)
        out[fmt] = {"encode_ms": statistics.median(times), "bytes": statistics.median(sizes)}
    return out


# ---------------------------------------------------------------------------------------------
# 2. the widget's decode + paint in Chromium, without Jupyter

STANDALONE_JS = r"""
async ([frames, repeat]) => {
  const mod = await import('/static/play.js');
  const handlers = {}; const acks = {};
  const model = {
    data: {tick: 0, episode_return: 0, state: 'running', message: '', paused: false, fps: 60,
           key_hints: {}, focused: false, zoom: 1, title: ''},
    get(k) { return this.data[k]; }, set(k, v) { this.data[k] = v; }, save_changes() {},
    on(ev, fn) { handlers[ev] = fn; }, off() {},
    send(msg) { if (msg.type === 'ack') acks[msg.seq] && acks[msg.seq](performance.now()); },
  };
  const el = document.createElement('div'); document.body.append(el);
  mod.default.render({model, el});
  const results = {};
  let seq = 0;
  for (const f of frames) {
    const bin = Uint8Array.from(atob(f.b64), c => c.charCodeAt(0));
    const times = [];
    for (let i = 0; i < repeat; i++) {
      seq += 1;
      const done = new Promise(res => { acks[seq] = res; });
      const copy = bin.slice();
      const t0 = performance.now();
      handlers['msg:custom']({type: 'frame', seq, format: f.format, width: f.width, height: f.height},
                             [new DataView(copy.buffer)]);
      times.push((await done) - t0);
    }
    times.sort((a, b) => a - b);
    results[f.format] = {median: times[times.length >> 1], p95: times[Math.floor(times.length * 0.95)]};
  }
  return results;
}
"""


def browser_decode_costs(browser: Any, frames: list[np.ndarray], formats: list[str]) -> dict[str, dict[str, float]]:
    from cogment_jupyter.notebook.frame_stream import encode_frame

    static = REPO / "cogment_jupyter" / "notebook" / "static"

    def serve(route: Any) -> None:  # a made-up origin, answered locally: no network
        url = route.request.url
        if "/static/" in url:
            route.fulfill(path=str(static / url.rsplit("/", 1)[-1]), content_type="text/javascript")
        else:
            route.fulfill(body="<!doctype html><body></body>", content_type="text/html")

    page = browser.new_page()
    page.route("http://bench.invalid/**", serve)
    page.goto("http://bench.invalid/index.html")
    payload = []
    for fmt in formats:
        e = encode_frame(frames[len(frames) // 2], fmt)
        payload.append({"format": fmt, "width": e.width, "height": e.height, "b64": base64.b64encode(e.data).decode()})
    result = page.evaluate(STANDALONE_JS, [payload, 60])
    page.close()
    return result


# ---------------------------------------------------------------------------------------------
# 3. + 4. through JupyterLab


def _wait_json(path: Path, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists():
            try:
                return json.loads(path.read_text())
            except json.JSONDecodeError:
                pass
        time.sleep(0.05)
    raise TimeoutError(f"no {path.name} after {timeout_s:.0f}s")


class JupyterBench:
    """Drives KernelPump in a notebook kernel; reads paint statistics from the widget's view."""

    def __init__(
        self,
        nb: Any,
        root: Path,
        kind: str,
        switch_interval: float | None = None,
        probe: Path | None = None,
        window: int | None = None,
        lab: bool = False,
        embedded: bool = False,
    ) -> None:
        self.nb, self.root, self.kind, self.probe, self.window = nb, root, kind, probe, window
        self.switch_interval = switch_interval
        self.n = 0
        self.lab, self.embedded = lab, embedded
        self.var = f"{'lab' if lab else 'pump'}{'_embedded' if embedded else ''}_{kind}"
        self.title = f"bench: {kind}" + (" lab.play" if lab else "") + (" embedded" if embedded else "")

    def setup(self) -> None:
        cls = "LabPlayBench" if self.lab else "KernelPump"
        self.nb.append_and_run(
            f"import sys; sys.path.insert(0, {str(REPO / 'bench')!r})\n"
            + (f"sys.setswitchinterval({self.switch_interval})\n" if self.switch_interval else "")
            + f"from play_latency import {cls}\n"
            f"{self.var} = {cls}({self.kind!r}, {str(self.root)!r}, {self.window!r}"
            + (", embedded=True)\n" if self.embedded else ")\n")
            + f"{self.var}.widget"
        )
        self.nb.page.locator(f".cj-play-title:text-is('{self.title}')").wait_for(timeout=60000)
        if self.lab:  # a paced game starts at the player's first click
            self.nb.page.locator(self.stage).click()
            time.sleep(1.0)
            self.nb.append_and_run(f"{self.var}.pause()")

    @property
    def stage(self) -> str:
        return f".cj-play:has(.cj-play-title:text-is('{self.title}')) .cj-play-stage"

    def _call(self, code: str, name: str, timeout_s: float) -> dict[str, Any]:
        self.n += 1
        result_name = f"{self.kind}-{self.n}-{name}"
        self.nb.append_and_run(code.replace("NAME", result_name))
        return _wait_json(self.root / f"{result_name}.json", timeout_s)

    def view_js(self, expr: str) -> Any:
        return self.nb.page.evaluate(
            f"() => {{ const v = [...document.querySelectorAll('.cj-play')].find(e => "
            f"e.querySelector('.cj-play-title').textContent === '{self.title}'); return {expr}; }}"
        )

    def baseline(self, seconds: float) -> dict[str, Any]:
        return self._call(f"{self.var}.start('NAME', 'baseline', seconds={seconds})", "base", seconds + 30)

    def clock_offset(self) -> float:
        return page_clock_offset(self.nb.page)

    def reset_probes(self) -> None:
        if self.probe is not None:
            self.probe.write_text("")
        self.nb.page.evaluate("() => window.__cjWsFrames && window.__cjWsFrames.clear()")

    def probed(self, frames: list[dict[str, Any]], keys: list[dict[str, Any]] | None = None) -> None:
        """Add the server's and the page WebSocket's timestamps to traced frames (and key presses)."""
        srv_out, srv_in = read_server_probe(self.probe) if self.probe else ({}, {})
        ws = dict(self.nb.page.evaluate("() => window.__cjWsFrames ? [...window.__cjWsFrames] : []"))
        for f in frames:
            f.update({k: v for k, v in (("srv", srv_out.get(f["seq"])), ("ws", ws.get(f["seq"]))) if v is not None})
            f["ws"] = f["ws"] - self.offset if "ws" in f else None
        for k in keys or []:
            if k.get("k_key") in srv_in:
                k["k_srv"] = srv_in[k["k_key"]]

    def throughput(
        self,
        fmt: str,
        pace: float,
        seconds: float,
        env_in: str,
        trace: str | None = None,
        profile: str | None = None,
    ) -> dict[str, Any]:
        self.view_js("v.cjPlay.resetLatency()")
        self.reset_probes()
        cpu0 = cpu_seconds()
        cdp = None
        if profile:
            cdp = self.nb.page.context.new_cdp_session(self.nb.page)
            cdp.send("Profiler.enable")
            cdp.send("Profiler.setSamplingInterval", {"interval": 200})
            cdp.send("Profiler.start")
        if trace:
            browser = self.nb.page.context.browser
            browser.start_tracing(
                page=self.nb.page,
                path=trace,
                categories=["devtools.timeline", "disabled-by-default-devtools.timeline", "toplevel", "blink", "v8"],
            )
        painted0 = self.view_js("v.cjPlay.stats().painted")
        t0 = time.monotonic()
        r = self._call(
            f"{self.var}.start('NAME', 'pump', fmt={fmt!r}, pace={pace}, seconds={seconds}, env_in={env_in!r})",
            "tput",
            seconds + 30,
        )
        time.sleep(0.3)  # the last acks
        if trace:
            self.nb.page.context.browser.stop_tracing()
        if cdp is not None:
            prof = cdp.send("Profiler.stop")["profile"]
            Path(profile).write_text(json.dumps(prof))
            cdp.detach()
        painted = self.view_js("v.cjPlay.stats().painted") - painted0
        r["painted_fps"] = painted / r["seconds"]
        cpu1 = cpu_seconds()
        r["cpu_ms_per_painted"] = {k: round(1000 * (cpu1.get(k, 0) - v) / max(painted, 1), 2) for k, v in cpu0.items()}
        offset = self.offset = self.clock_offset()
        frames = [_corrected(f, offset) for f in self.view_js("v.cjPlay.traces().frames")]
        self.probed(frames)
        r["frame_hops"] = breakdown(frames, FRAME_HOPS)
        r["clock_offset_ms"] = offset
        r["wall_s"] = time.monotonic() - t0
        return r

    def latency(self, fmt: str, presses: int, env_in: str) -> dict[str, Any]:
        page = self.nb.page
        self.view_js("v.cjPlay.resetLatency()")
        stage = self.stage
        page.locator(stage).click()
        page.wait_for_function(
            "k => [...document.querySelectorAll('.cj-play')].some(e => e.dataset.focused === 'true')", arg=self.kind
        )
        self.n += 1
        name = f"{self.kind}-{self.n}-lat"
        self.nb.append_and_run(
            f"{self.var}.start({name!r}, 'pump', fmt={fmt!r}, pace=60, seconds=120, env_in={env_in!r})"
        )
        page.locator(stage).click()
        time.sleep(0.5)
        self.reset_probes()
        press_alternating(page, presses, random.Random(0))
        time.sleep(0.3)
        stats = self.view_js("v.cjPlay.traces()")
        offset = self.offset = self.clock_offset()
        keys = _key_rows(stats, offset)
        frames = [_corrected(f, offset) for f in stats["frames"]]
        self.probed(frames, keys)
        by_seq = {f["seq"]: f for f in frames}
        for k in keys:  # the probes' marks of the frame that answered the key
            f = by_seq.get(k["seq"], {})
            k.update(srv=f.get("srv"), ws=f.get("ws"))
        self.nb.append_and_run(f"{self.var}.stop()")
        r = _wait_json(self.root / f"{name}.json", 30)
        lat = stats["latency_ms"]
        r.update(
            latency_ms=[round(v) for v in lat],
            latency_n=len(lat),
            latency_p50=_pct(lat, 50),
            latency_p95=_pct(lat, 95),
            latency_max=max(lat) if lat else None,
            key_hops=breakdown(keys, KEY_HOPS),
            key_threads=sorted({str(k.get("thread")) for k in keys}),
            frame_hops=breakdown([_corrected(f, offset) for f in stats["frames"]], FRAME_HOPS),
        )
        return r


def press_alternating(page: Any, presses: int, rng: random.Random) -> None:
    """Right, left, right...: each held 60-120 ms, 90-180 ms apart, as a person taps arrow keys."""
    for i in range(presses):
        key = "ArrowLeft" if i % 2 else "ArrowRight"
        page.keyboard.down(key)
        page.wait_for_timeout(rng.uniform(60, 120))
        page.keyboard.up(key)
        page.wait_for_timeout(rng.uniform(90, 180))


def page_clock_offset(page: Any) -> float:
    """performance.timeOrigin + now() - Date.now() in the page (ms), to correct browser marks."""
    return float(page.evaluate("() => performance.timeOrigin + performance.now() - Date.now()"))


#: (label, what the busy cell does or None, whether the widget keeps the front end's subshell routing)
RECORDED_CONDITIONS = [
    ("idle", None, True),
    ("busy: time.sleep", "sleep", True),
    ("busy: Python loop (holds the GIL)", "compute", True),
    ("busy: run_trials (CartPole, random)", "run_trials", True),
    ("idle, again", None, True),
    ("busy: time.sleep, ipykernel's routing", "sleep", False),
]


def recorded_key_latency(nb: Any, root: Path, presses: int) -> dict[str, Any]:
    """Key -> recorded action latency of a turn-based ``lab.play`` round, idle and busy (section 5)."""
    page = nb.page
    nb.append_and_run(
        f"import sys; sys.path.insert(0, {str(REPO / 'bench')!r})\n"
        f"from play_latency import RecordedKeyBench\nrecorded = RecordedKeyBench({str(root)!r})\nrecorded.widget"
    )
    widget = f".cj-play:has(.cj-play-title:text-is('{RecordedKeyBench.TITLE}'))"
    stage = page.locator(f"{widget} .cj-play-stage")
    stage.wait_for(timeout=60000)
    busy_s = 4.0 + 0.35 * presses  # longer than the presses take
    rng = random.Random(1)
    out: dict[str, Any] = {"presses": presses, "busy_s": busy_s, "conditions": {}}
    for label, busy, keep in RECORDED_CONDITIONS:
        nb.append_and_run(f"recorded.frontend_routing({keep})")
        if busy:
            nb.start_cell(f"recorded.busy_cell({busy!r}, {busy_s})")
            page.wait_for_timeout(300)
        stage.click()
        page.wait_for_function("el => el.dataset.focused === 'true'", arg=page.locator(widget).element_handle())
        press_alternating(page, presses, rng)
        if busy:
            nb.wait_kernel_idle(busy_s + 120, what=f"the busy cell ({label})")
        offset = page_clock_offset(page)
        taken = nb.value("recorded.take()", timeout_s=120)
        downs = [(t - offset, key, thread) for t, key, thread in taken["downs"]]
        lat = [decided - down for (down, _, _), decided in zip(downs, taken["decided"], strict=False)]
        window = taken["busy"]
        out["conditions"][label] = {
            "n": len(lat),
            "pressed": len(downs),
            "while_busy": sum(window[0] <= d <= window[1] for d, _, _ in downs) if window else None,
            "p50": _pct(lat, 50),
            "p95": _pct(lat, 95),
            "threads": sorted({"subshell" if t.startswith("subshell") else t for _, _, t in downs}),
        }
        c = out["conditions"][label]
        log(f"recorded keys, {label}: p50 {_fmt(c['p50'])} p95 {_fmt(c['p95'])} ms, n={c['n']}, {c['threads']}")
    out["verify"] = nb.value("recorded.verify()", timeout_s=120)
    return out


def print_recorded(rec: dict[str, Any]) -> None:
    conditions = rec["conditions"]
    idle = conditions.get("idle", {})
    print(
        f"\nkey -> recorded action: turn-based lab.play CartPole, {rec['presses']} presses per row, from the "
        "browser's keydown to the action the person's client actor hands the trial (same clock)"
    )
    head = f"{'condition':<40}{'n':>4}{'busy':>6}{'p50 ms':>9}{'p95 ms':>9}"
    print(f"{head}{'x idle p50':>12}{'x idle p95':>12}  handled on")

    def to_idle(c: dict[str, Any], p: str) -> float | None:
        return c[p] / idle[p] if idle.get(p) and c[p] is not None else None

    for label, c in conditions.items():
        busy = "-" if c["while_busy"] is None else str(c["while_busy"])
        print(
            f"{label:<40}{c['n']:>4}{busy:>6}{_fmt(c['p50']):>9}{_fmt(c['p95']):>9}"
            f"{_fmt(to_idle(c, 'p50'), 2):>12}{_fmt(to_idle(c, 'p95'), 2):>12}  {', '.join(c['threads'])}"
        )
    v = rec["verify"]
    print(
        f"recorded actions == keys pressed, in order: {'yes' if v['equal'] else 'NO'} "
        f"({v['recorded']} recorded, {v['pressed']} pressed)"
    )


def cpu_seconds() -> dict[str, float]:
    """CPU seconds used so far by this benchmark's Chromium, by its Jupyter server and by the
    processes the server started (kernels, the shared runtime, env processes); processes that
    already ended are not counted."""
    tick = os.sysconf("SC_CLK_TCK")
    procs: dict[int, tuple[int, str, float]] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        procs[int(d.name)] = (int(fields[1]), comm, (int(fields[11]) + int(fields[12])) / tick)

    def under(pid: int, root: int | None) -> bool:
        while pid > 1 and pid in procs:
            if pid == root:
                return True
            pid = procs[pid][0]
        return False

    out = {"chromium": 0.0, "server": 0.0, "kernels": 0.0}
    server_pid = _SERVER_PID[0]
    for pid, (_, comm, cpu) in procs.items():
        if pid == server_pid:
            out["server"] += cpu
        elif under(pid, server_pid):
            out["kernels"] += cpu
        elif comm.startswith(("chromium", "chrome")) and under(pid, os.getpid()):
            out["chromium"] += cpu
    return out


_SERVER_PID: list[int | None] = [None]


def _pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(np.ceil(p / 100 * len(s))) - 1))]


# hops of a frame and of a key press: (from mark, to mark, label); marks are wall-clock ms, the
# kernel's from time.time(), the browser's from performance.timeOrigin + now() (corrected to Date.now())
FRAME_HOPS = [
    ("act", "env_recv", "action -> env process (pipe)"),
    ("env_recv", "env_step", "env step + render"),
    ("env_step", "env_enc", "encode in env process"),
    ("env_enc", "step", "env process -> kernel (pipe)"),
    ("act", "step", "= env step (all of it)"),
    ("step", "submit", "kernel: to show_frame"),
    ("submit", "enc0", "wait for an ack (window full)"),
    ("enc0", "send", "encode in kernel"),
    ("send", "srv", "kernel -> server (iopub thread, zmq)"),
    ("srv", "ws", "server -> page websocket"),
    ("ws", "recv", "websocket -> widget (JupyterLab, anywidget)"),
    ("send", "recv", "= kernel -> widget"),
    ("recv", "dec", "browser: decode"),
    ("dec", "paint", "browser: draw"),
    ("paint", "present", "browser: to next animation frame"),
    ("act", "paint", "= action -> painted"),
]
KEY_HOPS = [
    ("down", "handler", "browser: keydown event -> our handler"),
    ("handler", "sent", "browser: handler -> comm sent"),
    ("sent", "k_srv", "browser -> server"),
    ("k_srv", "k_recv", "server -> kernel handler (zmq, shell, subshell)"),
    ("sent", "k_recv", "= browser -> kernel handler"),
    ("k_recv", "k_loop", "handler -> stepping thread"),
    ("k_loop", "act", "stepping thread -> action chosen"),
    ("act", "step", "env step (all of it)"),
    ("step", "send", "kernel: show_frame, encode, send"),
    ("send", "srv", "kernel -> server"),
    ("srv", "ws", "server -> page websocket"),
    ("ws", "recv", "websocket -> widget"),
    ("recv", "paint", "browser: decode + draw"),
    ("down", "paint", "= keydown -> painted"),
]
BROWSER_MARKS = ("recv", "dec", "paint", "present", "down", "handler", "sent")


def _key_rows(traces: dict[str, Any], offset_ms: float) -> list[dict[str, float]]:
    """One flat dict of marks per key press whose frame carries that key's kernel marks."""
    rows = []
    for k in traces.get("keys", []):
        f = k.get("frame") or {}
        key = f.get("key") or {}
        if key.get("seq") != k["seq"]:
            continue  # the frame answers a later key too; its kernel marks are that key's
        row = {m: v for m, v in f.items() if isinstance(v, (int, float))}
        row.update(down=k["down"], handler=k.get("handler"), sent=k["sent"])
        row.update(k_recv=key.get("recv"), k_loop=key.get("loop"), k_key=k["seq"])
        row["thread"] = key.get("thread")
        rows.append(_corrected(row, offset_ms))
    return rows


def _corrected(row: dict[str, Any], offset_ms: float) -> dict[str, Any]:
    return {m: (v - offset_ms if m in BROWSER_MARKS and isinstance(v, (int, float)) else v) for m, v in row.items()}


def breakdown(rows: list[dict[str, Any]], hops: list[tuple[str, str, str]]) -> list[dict[str, Any]]:
    out = []
    for a, b, label in hops:
        d = [r[b] - r[a] for r in rows if isinstance(r.get(a), (int, float)) and isinstance(r.get(b), (int, float))]
        if d:
            out.append({"hop": label, "n": len(d), "p50": _pct(d, 50), "p95": _pct(d, 95), "mean": statistics.mean(d)})
    return out


def print_breakdown(title: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    print(f"  {title}")
    for r in rows:
        print(f"    {r['hop']:<40}{r['p50']:>8.1f}{r['p95']:>8.1f}{r['mean']:>8.1f}  (n={r['n']})")


# probes (measurement only): when jupyter_server passes a frame / key message on, and when the
# page's WebSocket receives a frame (before JupyterLab parses it)
SERVER_PROBE = r"""
# bench/play_latency.py: timestamps of play-widget messages passing through the server
import os as _os, re as _re, time as _time
from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection as _Conn
_probe = open(_os.environ["CJ_BENCH_PROBE"], "a", buffering=1)
_frame = _re.compile(rb'"type": ?"frame", ?"seq": ?(\d+)')
_keys = _re.compile(rb'"type": ?"keys", ?"view": ?"[^"]*", ?"seq": ?(\d+)')
_out, _in = _Conn.handle_outgoing_message, _Conn.handle_incoming_message
def _handle_out(self, stream, msg):
    t0 = _time.time() * 1000
    _out(self, stream, msg)
    for part in msg:
        if len(part) < 4096 and (m := _frame.search(bytes(part))):
            _probe.write(f"out {m.group(1).decode()} {t0:.3f} {_time.time() * 1000:.3f}\n")
            break
def _handle_in(self, incoming):
    t0 = _time.time() * 1000
    _in(self, incoming)
    if isinstance(incoming, bytes) and (m := _keys.search(incoming[:4096])):
        _probe.write(f"in {m.group(1).decode()} {t0:.3f} {_time.time() * 1000:.3f}\n")
_Conn.handle_outgoing_message, _Conn.handle_incoming_message = _handle_out, _handle_in
"""

PAGE_PROBE = r"""
(() => {
  const Orig = window.WebSocket;
  const frames = (window.__cjWsFrames = new Map());
  const re = /"type": ?"frame", ?"seq": ?(\d+)/;
  const dec = new TextDecoder();
  window.WebSocket = class extends Orig {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (e) => {
        const t = performance.timeOrigin + performance.now();
        if (typeof e.data === "string") return;
        const m = re.exec(dec.decode(new Uint8Array(e.data, 0, Math.min(e.data.byteLength, 4096))));
        if (m) frames.set(Number(m[1]), t);
      });
    }
  };
})();
"""


@contextlib.contextmanager
def probed_server(root: Path, workdir: Path, probe: Path, nodelay: bool) -> Iterator[Any]:
    """The harness's JupyterLab with SERVER_PROBE in its config, writing to ``probe``."""
    from tests.browser.jupyter_harness import JupyterServer

    class ProbedServer(JupyterServer):
        def _write_config(self, cfg: Path) -> None:
            super()._write_config(cfg)
            with open(cfg / "jupyter_server_config.py", "a") as f:
                f.write(SERVER_PROBE)

    probe.write_text("")
    server = ProbedServer(root=root, workdir=workdir, nodelay=nodelay)
    server.start(extra_env={"CJ_BENCH_PROBE": str(probe)})
    _SERVER_PID[0] = server.proc.pid if server.proc else None
    try:
        yield server
    finally:
        server.stop()


def read_server_probe(path: Path) -> tuple[dict[int, float], dict[int, float]]:
    """(frame seq -> when the server received it from the kernel, key seq -> when it got it from the page)."""
    out: dict[int, float] = {}
    into: dict[int, float] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) == 4:
                (out if parts[0] == "out" else into)[int(parts[1])] = float(parts[2])
    return out, into


BENCH_NOTEBOOK = ["# %% md\n# play widget benchmark\nCells are appended and run by bench/play_latency.py."]


def launch_foreground_chromium(pw: Any) -> Any:
    """Headless Chromium whose renderer runs at a visible tab's priority.

    Headless pages count as hidden, and Chromium lowers a hidden page's renderer to nice 5 on
    Linux: on a loaded machine it then gets a third of the CPU share of everything else, which
    no person looking at the widget would see. The harness's tests keep the default.
    """
    from tests.browser.jupyter_harness import CHROMIUM, CHROMIUM_ARGS

    extra = ["--disable-renderer-backgrounding", "--disable-background-timer-throttling",
             "--disable-backgrounding-occluded-windows"]  # fmt: skip
    return pw.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS + extra, chromium_sandbox=False, timeout=30000
    )


def run(args: argparse.Namespace) -> dict[str, Any]:
    sys.path.insert(0, str(REPO))
    from playwright.sync_api import sync_playwright

    from tests.browser.jupyter_harness import (
        NotebookPage,
        launch_chromium,
        missing_requirements,
        write_notebook,
    )

    why = missing_requirements()
    if why:
        raise SystemExit(f"cannot run the benchmark: {why}")
    report: dict[str, Any] = {
        "kinds": {},
        "nodelay": args.nodelay,
        "pace": args.pace,
        "renderer": "background (nice 5)" if args.background_renderer else "foreground",
        "loadavg_start": os.getloadavg(),
    }
    frames = {kind: sample_frames(kind) for kind in args.kinds}
    with tempfile.TemporaryDirectory(prefix="cj-bench-") as tmp, sync_playwright() as pw:
        tmp_path = Path(tmp)
        root = tmp_path / "root"
        browser = launch_chromium(pw) if args.background_renderer else launch_foreground_chromium(pw)
        report["chromium"] = browser.version
        for kind in args.kinds:
            report["kinds"][kind] = {
                "shape": list(frames[kind][0].shape),
                "encode": encode_costs(frames[kind], args.formats),
                "decode_paint": browser_decode_costs(browser, frames[kind], args.formats),
                "jupyter": {},
            }
            log(f"{kind}: encode and decode costs measured")
        write_notebook(root / "bench.ipynb", BENCH_NOTEBOOK)
        probe = tmp_path / "server-probe.txt"
        with probed_server(root, tmp_path, probe, args.nodelay) as server:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.add_init_script(PAGE_PROBE)
            nb = NotebookPage(page, server, "bench.ipynb")
            nb.open()
            for kind in args.kinds:
                jb = JupyterBench(nb, root, kind, args.switch_interval, probe, args.window)
                jb.setup()
                lab_benches: dict[str, JupyterBench] = {}
                kr = report["kinds"][kind]
                kr["baseline"] = jb.baseline(args.seconds)
                log(f"{kind}: no display {kr['baseline']['steps_per_s']:.0f} steps/s")
                for env_in, fmt in [(e, f) for e in args.env_in for f in args.formats]:
                    b = jb
                    if env_in.startswith("lab"):
                        if kind != "cartpole":
                            continue  # lab.play needs a Gymnasium env; the synthetic Atari frame is not one
                        if env_in not in lab_benches:
                            lab_benches[env_in] = JupyterBench(
                                nb, root, kind, args.switch_interval, probe, args.window, lab=True,
                                embedded=env_in == "lab-embedded",
                            )  # fmt: skip
                            lab_benches[env_in].setup()
                        b = lab_benches[env_in]
                    trace = f"{args.trace}-{kind}-{env_in}-{fmt}.json" if args.trace else None
                    profile = f"{args.profile}-{kind}-{env_in}-{fmt}.json" if args.profile else None
                    t = b.throughput(fmt, args.pace, args.seconds, env_in, trace, profile)
                    lat = b.latency(fmt, args.presses, env_in) if args.presses else {}
                    kr["jupyter"][f"{env_in}/{fmt}"] = {"throughput": t, "latency": lat}
                    log(
                        f"{kind} env in {env_in}, {fmt}: painted {t['painted_fps']:.1f} fps "
                        f"(offered {t['offered_fps']:.0f}), "
                        f"{t['bytes_per_frame'] / 1000:.1f} kB/frame, keypress->frame p50 "
                        f"{lat.get('latency_p50')} p95 {lat.get('latency_p95')} ms (n={lat.get('latency_n')}), "
                        f"key reaches the kernel in {lat.get('key_to_kernel_ms')} ms (median), "
                        f"latencies {lat.get('latency_ms')}"
                    )
                kr["baseline_after"] = jb.baseline(args.seconds)
                if args.screenshot:
                    for b in [jb, *lab_benches.values()]:
                        shot = Path(args.screenshot).with_name(f"{Path(args.screenshot).stem}-{b.var}.png")
                        widget = page.locator(f".cj-play:has(.cj-play-title:text-is('{b.title}'))")
                        widget.scroll_into_view_if_needed()
                        widget.screenshot(path=str(shot))
            if args.recorded:
                report["recorded"] = recorded_key_latency(nb, root, args.recorded)
            if args.screenshot:
                nb.screenshot(Path(args.screenshot))
        browser.close()
    report["loadavg_end"] = os.getloadavg()
    return report


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def print_report(report: dict[str, Any]) -> None:
    load = (
        "/".join(f"{a:.1f}" for a in report["loadavg_start"])
        + " -> "
        + "/".join(f"{a:.1f}" for a in report["loadavg_end"])
    )
    print(
        f"\nplay widget benchmark (Chromium {report.get('chromium')}, {os.cpu_count()} cores, load average {load}, "
        f"harness TCP_NODELAY patch {'on' if report['nodelay'] else 'off'} (the server extension sets it: "
        f"kernel_nodelay), renderer {report.get('renderer', 'background')})"
    )
    for kind, kr in report["kinds"].items():
        h, w = kr["shape"][:2]
        base = statistics.mean([kr["baseline"]["steps_per_s"], kr.get("baseline_after", kr["baseline"])["steps_per_s"]])
        print(f"\n{kind} {w}x{h}: no display {base:.0f} steps/s (env step + render, same kernel, same run)")
        header = (
            f"{'env in':<9}{'format':<12}{'bytes/frame':>12}{'encode ms':>10}{'paint ms':>10}{'painted/s':>11}"
            f"{'x no-disp':>10}{'key p50':>9}{'key p95':>9}{'legs ms (to/paint/back)':>26}"
        )
        print(header)
        for key, jr in kr["jupyter"].items():
            env_in, fmt = key.split("/")
            t, lat = jr["throughput"], jr["latency"]
            legs = "/".join(f"{v:.0f}" if v is not None else "-" for v in t.get("legs_ms", []))
            print(
                f"{env_in:<9}{fmt:<12}{t['bytes_per_frame']:>12.0f}{kr['encode'][fmt]['encode_ms']:>10.2f}"
                f"{kr['decode_paint'][fmt]['median']:>10.2f}{t['painted_fps']:>11.1f}"
                f"{t['painted_fps'] / base:>10.3f}{_fmt(lat.get('latency_p50')):>9}{_fmt(lat.get('latency_p95')):>9}"
                f"{legs:>26}"
            )
        for key, jr in kr["jupyter"].items():
            t, lat = jr["throughput"], jr["latency"]
            print(f"\n  {kind} {key}: hop-by-hop, ms{'p50':>19}{'p95':>8}{'mean':>8}")
            cpu = dict(t.get("cpu_ms_per_painted", {}), kernel_itself=t.get("kernel_cpu_ms_per_frame"))
            print("  CPU ms per painted frame: " + ", ".join(f"{k} {v:.2f}" for k, v in cpu.items() if v is not None))
            print_breakdown(f"frames, throughput phase (paced at {report.get('pace')}/s)", t.get("frame_hops", []))
            print_breakdown("frames, latency phase (paced at 60/s)", lat.get("frame_hops", []))
            print_breakdown(
                f"key presses (comm handled on {', '.join(lat.get('key_threads', []))})", lat.get("key_hops", [])
            )
    if report.get("recorded"):
        print_recorded(report["recorded"])
    cp = report["kinds"].get("cartpole", {}).get("jupyter", {})
    if cp:
        print("\ntargets on CartPole: painted >= 60/s, keypress->frame p95 <= 35 ms")
        for key, jr in cp.items():
            fps, p95 = jr["throughput"]["painted_fps"], jr["latency"].get("latency_p95")
            ok = fps >= TARGET_FPS and p95 is not None and p95 <= TARGET_P95_MS
            print(f"  {key:<20} {fps:6.1f}/s  p95 {_fmt(p95):>6} ms  {'MET' if ok else 'not met'}")


def _fmt(v: float | None, digits: int = 1) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--formats", nargs="+", default=FORMATS, choices=FORMATS)
    p.add_argument("--kinds", nargs="*", default=KINDS, choices=KINDS, help="frame sources (none: skip 1.-4.)")
    p.add_argument(
        "--env-in",
        nargs="*",
        default=["process", "kernel", "lab"],
        choices=["lab", "lab-embedded", "process", "kernel"],
        help="lab: the real lab.play (a Cogment trial, on the Jupyter server's shared runtime; lab-embedded: on "
        "the kernel's own orchestrator; CartPole only); process / kernel: a thread steps the env "
        "(in another process that renders and encodes, or in the kernel) straight into a PlayWidget",
    )
    p.add_argument("--seconds", type=float, default=4.0, help="length of each throughput phase")
    p.add_argument("--pace", type=float, default=75.0, help="frames/s the kernel offers in the throughput phase")
    p.add_argument("--presses", type=int, default=30, help="key presses per latency phase (0: skip)")
    p.add_argument(
        "--recorded",
        type=int,
        default=30,
        help="key presses per condition of the key -> recorded action phase, idle and busy (0: skip)",
    )
    p.add_argument(
        "--nodelay", action="store_true", help="set TCP_NODELAY on kernel websockets (jupyter_server leaves Nagle on)"
    )
    p.add_argument("--switch-interval", type=float, help="sys.setswitchinterval in the kernel (default 0.005 s)")
    p.add_argument("--window", type=int, help="frames in flight (PlayWidget max_in_flight; default: the widget's)")
    p.add_argument(
        "--background-renderer",
        action="store_true",
        help="leave Chromium's renderer at a hidden page's priority (nice 5; the default is a visible tab's)",
    )
    p.add_argument("--profile", help="record the page's JS CPU profile of each throughput phase (PROFILE-...json)")
    p.add_argument("--json", help="also write the raw figures here")
    p.add_argument("--trace", help="record a Chromium trace of each throughput phase (TRACE-<kind>-<env>-<fmt>.json)")
    p.add_argument("--screenshot", help="save screenshots of the page and of each widget (NAME-<kind>.png)")
    args = p.parse_args(argv)
    if {"lab", "lab-embedded"} <= set(args.env_in):
        p.error("--env-in lab and lab-embedded need a kernel each: run them separately")
    report = run(args)
    print_report(report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
