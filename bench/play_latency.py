"""Play widget benchmark: frames painted per second, keypress -> frame latency, bytes per frame.

Runs in Debian's headless Chromium against a real JupyterLab (the project's browser harness in
tests/browser/jupyter_harness.py), for CartPole-v1 (600x400) and an Atari-sized 210x160 frame,
for each frame encoding, against the same environment stepped with no display in the same run:

1. encode cost in Python per format (median ms, bytes);
2. decode + paint cost of the widget's own front-end code in Chromium without Jupyter (the
   built bundle rendered with a stand-in model), per format;
3. the full path through JupyterLab: a kernel thread steps the env (in another process that
   renders and encodes, as the Cogment environment service does for lab.play, or in the kernel
   itself) and calls ``PlayWidget.show_frame`` (paced at --pace fps); frames/s actually painted;
   then, paced at 60 fps, Playwright presses arrow keys and the widget measures keydown ->
   first painted frame that reflects the key (p50, p95);
4. baseline: the same env stepped and rendered with no display, steps/s.

Targets (issue 5): >= 60 frames/s painted and keypress -> frame p95 <= 35 ms on CartPole.
Run:  uv run python bench/play_latency.py  [--formats rgb-deflate png] [--kinds cartpole]
       [--seconds 4] [--presses 30] [--json out.json]
Needs /usr/bin/chromium (apt-get install chromium) and Pillow for png/jpeg/webp.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
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
    from cogment_jupyter.notebook.frames import encode_frame

    env = make_env(kind)
    env.reset(seed=0)
    while (action := conn.recv()) is not None:
        _, r, term, trunc, _ = env.step(action)
        e = encode_frame(env.render(), fmt)
        if term or trunc:
            env.reset()
        conn.send((e.format, e.width, e.height, e.data, float(r), bool(term or trunc)))


class RemoteEnv:
    """The env in another process, frames arriving encoded (lab.play's case: the env runs in the
    Cogment environment service); the kernel only forwards bytes to the widget."""

    def __init__(self, kind: str, fmt: str) -> None:
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_remote_env_main, args=(child, kind, fmt), daemon=True)
        self.proc.start()

    def step(self, action: int) -> tuple[Any, float, bool]:
        from cogment_jupyter.notebook.frames import EncodedFrame

        self.conn.send(action)
        fmt, w, h, data, r, done = self.conn.recv()
        return EncodedFrame(fmt, w, h, data), r, done

    def close(self) -> None:
        self.conn.send(None)
        self.proc.join(timeout=10)


class KernelPump:
    """Runs inside the benchmark's kernel: steps an env into a PlayWidget on a background thread."""

    def __init__(self, kind: str, out_dir: str) -> None:
        from cogment_jupyter.notebook.widget import PlayWidget

        self.kind, self.out = kind, Path(out_dir)
        self.widget = PlayWidget(title=f"bench: {kind}", fps=60)
        self.stop_event = threading.Event()
        # a key press steps the env at once instead of at the next tick (Cogment Lab's pacing)
        self.key_event = threading.Event()
        self.key_delays_ms: list[float] = []  # browser key event -> kernel callback
        self.widget.on_keys(self._on_keys)

    def _on_keys(self, pressed: frozenset[str], t_ms: float) -> None:
        self.key_delays_ms.append(time.time() * 1000 - t_ms)
        self.key_event.set()

    def start(self, name: str, phase: str, **kw: Any) -> None:
        self.stop_event.clear()
        threading.Thread(target=self._run, args=(name, phase), kwargs=kw, daemon=True).start()

    def stop(self) -> None:
        self.stop_event.set()

    def _run(self, name: str, phase: str, **kw: Any) -> None:
        try:
            result = self.baseline(**kw) if phase == "baseline" else self.pump(**kw)
        except Exception as e:  # reported to the driver rather than lost on a thread
            result = {"error": repr(e)}
        (self.out / f"{name}.json").write_text(json.dumps(result))

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
        w = self.widget
        w.frame_format = fmt
        env = (LocalEnv if env_in == "kernel" else RemoteEnv)(self.kind, fmt)
        if env_in != "kernel":
            env.step(0)  # wait for the child to be up
        before = w.frame_stats()
        self.key_delays_ms.clear()
        period = 1.0 / pace
        t0 = next_t = time.perf_counter()
        tick, ret = 0, 0.0
        while time.perf_counter() - t0 < seconds and not self.stop_event.is_set():
            key_seq = w.key_seq
            pressed = w.pressed
            action = 0 if "ArrowLeft" in pressed else 1 if "ArrowRight" in pressed else tick % 2
            frame, r, done = env.step(action)
            tick, ret = tick + 1, ret + r
            w.show_frame(frame, key_seq=key_seq, tick=tick, episode_return=ret)
            if done:
                tick, ret = 0, 0.0
            next_t += period
            if self.key_event.wait(max(0.0, next_t - time.perf_counter())):
                self.key_event.clear()
                next_t = time.perf_counter()  # a key: step now, the tick clock restarts
            elif time.perf_counter() - next_t > 5 * period:
                next_t = time.perf_counter()  # fell behind: do not burst to catch up
        elapsed = time.perf_counter() - t0
        env.close()
        after = w.frame_stats()
        delta = {k: after[k] - before[k] for k in ("submitted", "sent", "dropped", "acked", "bytes_sent", "encode_s")}
        return {
            "seconds": elapsed,
            "offered_fps": delta["submitted"] / elapsed,
            "sent_fps": delta["sent"] / elapsed,
            "acked_fps": delta["acked"] / elapsed,
            "bytes_per_frame": delta["bytes_sent"] / max(delta["sent"], 1),
            "encode_ms": 1000 * delta["encode_s"] / max(delta["sent"], 1),
            "legs_ms": [after.get(k) for k in ("to_browser_ms", "paint_ms", "ack_back_ms")],
            "key_to_kernel_ms": statistics.median(self.key_delays_ms) if self.key_delays_ms else None,
        }


# ---------------------------------------------------------------------------------------------
# 1. Python encode cost


def encode_costs(frames: list[np.ndarray], formats: list[str], repeat: int = 60) -> dict[str, dict[str, float]]:
    from cogment_jupyter.notebook.frames import encode_frame

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
    from cogment_jupyter.notebook.frames import encode_frame

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

    def __init__(self, nb: Any, root: Path, kind: str, switch_interval: float | None = None) -> None:
        self.nb, self.root, self.kind = nb, root, kind
        self.switch_interval = switch_interval
        self.n = 0

    def setup(self) -> None:
        self.nb.append_and_run(
            f"import sys; sys.path.insert(0, {str(REPO / 'bench')!r})\n"
            + (f"sys.setswitchinterval({self.switch_interval})\n" if self.switch_interval else "")
            + f"from play_latency import KernelPump\n"
            f"pump_{self.kind} = KernelPump({self.kind!r}, {str(self.root)!r})\n"
            f"pump_{self.kind}.widget"
        )
        self.nb.page.locator(f".cj-play-title:text-is('bench: {self.kind}')").wait_for(timeout=30000)

    def _call(self, code: str, name: str, timeout_s: float) -> dict[str, Any]:
        self.n += 1
        result_name = f"{self.kind}-{self.n}-{name}"
        self.nb.append_and_run(code.replace("NAME", result_name))
        return _wait_json(self.root / f"{result_name}.json", timeout_s)

    def view_js(self, expr: str) -> Any:
        return self.nb.page.evaluate(
            f"() => {{ const v = [...document.querySelectorAll('.cj-play')].find(e => "
            f"e.querySelector('.cj-play-title').textContent === 'bench: {self.kind}'); return {expr}; }}"
        )

    def baseline(self, seconds: float) -> dict[str, Any]:
        return self._call(f"pump_{self.kind}.start('NAME', 'baseline', seconds={seconds})", "base", seconds + 30)

    def throughput(self, fmt: str, pace: float, seconds: float, env_in: str) -> dict[str, Any]:
        painted0 = self.view_js("v.cjPlay.stats().painted")
        t0 = time.monotonic()
        r = self._call(
            f"pump_{self.kind}.start('NAME', 'pump', fmt={fmt!r}, pace={pace}, seconds={seconds}, env_in={env_in!r})",
            "tput",
            seconds + 30,
        )
        time.sleep(0.3)  # the last acks
        painted = self.view_js("v.cjPlay.stats().painted") - painted0
        r["painted_fps"] = painted / r["seconds"]
        r["wall_s"] = time.monotonic() - t0
        return r

    def latency(self, fmt: str, presses: int, env_in: str) -> dict[str, Any]:
        page = self.nb.page
        self.view_js("v.cjPlay.resetLatency()")
        stage = f".cj-play:has(.cj-play-title:text-is('bench: {self.kind}')) .cj-play-stage"
        page.locator(stage).click()
        page.wait_for_function(
            "k => [...document.querySelectorAll('.cj-play')].some(e => e.dataset.focused === 'true')", arg=self.kind
        )
        self.n += 1
        name = f"{self.kind}-{self.n}-lat"
        self.nb.append_and_run(
            f"pump_{self.kind}.start({name!r}, 'pump', fmt={fmt!r}, pace=60, seconds=120, env_in={env_in!r})"
        )
        page.locator(stage).click()
        time.sleep(0.5)
        rng = random.Random(0)
        for i in range(presses):
            key = "ArrowLeft" if i % 2 else "ArrowRight"
            page.keyboard.down(key)
            page.wait_for_timeout(rng.uniform(60, 120))
            page.keyboard.up(key)
            page.wait_for_timeout(rng.uniform(90, 180))
        time.sleep(0.3)
        stats = self.view_js("v.cjPlay.stats()")
        self.nb.append_and_run(f"pump_{self.kind}.stop()")
        r = _wait_json(self.root / f"{name}.json", 30)
        lat = stats["latency_ms"]
        r.update(
            latency_ms=[round(v) for v in lat],
            latency_n=len(lat),
            latency_p50=_pct(lat, 50),
            latency_p95=_pct(lat, 95),
            latency_max=max(lat) if lat else None,
        )
        return r


def _pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(np.ceil(p / 100 * len(s))) - 1))]


BENCH_NOTEBOOK = ["# %% md\n# play widget benchmark\nCells are appended and run by bench/play_latency.py."]


def run(args: argparse.Namespace) -> dict[str, Any]:
    sys.path.insert(0, str(REPO))
    from playwright.sync_api import sync_playwright

    from tests.browser.jupyter_harness import (
        NotebookPage,
        launch_chromium,
        missing_requirements,
        running_server,
        write_notebook,
    )

    why = missing_requirements()
    if why:
        raise SystemExit(f"cannot run the benchmark: {why}")
    report: dict[str, Any] = {"kinds": {}, "nodelay": args.nodelay, "loadavg_start": os.getloadavg()}
    frames = {kind: sample_frames(kind) for kind in args.kinds}
    with tempfile.TemporaryDirectory(prefix="cj-bench-") as tmp, sync_playwright() as pw:
        tmp_path = Path(tmp)
        root = tmp_path / "root"
        browser = launch_chromium(pw)
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
        with running_server(root, tmp_path, nodelay=args.nodelay) as server:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            nb = NotebookPage(page, server, "bench.ipynb")
            nb.open()
            for kind in args.kinds:
                jb = JupyterBench(nb, root, kind, args.switch_interval)
                jb.setup()
                kr = report["kinds"][kind]
                kr["baseline"] = jb.baseline(args.seconds)
                log(f"{kind}: no display {kr['baseline']['steps_per_s']:.0f} steps/s")
                for env_in, fmt in [(e, f) for e in args.env_in for f in args.formats]:
                    t = jb.throughput(fmt, args.pace, args.seconds, env_in)
                    lat = jb.latency(fmt, args.presses, env_in) if args.presses else {}
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
                    shot = Path(args.screenshot).with_name(f"{Path(args.screenshot).stem}-{kind}.png")
                    widget = page.locator(f".cj-play:has(.cj-play-title:text-is('bench: {kind}'))")
                    widget.scroll_into_view_if_needed()
                    widget.screenshot(path=str(shot))
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
        f"kernel websocket TCP_NODELAY {'on' if report['nodelay'] else 'off (jupyter_server default)'})"
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
    cp = report["kinds"].get("cartpole", {}).get("jupyter", {})
    if cp:
        print("\ntargets on CartPole: painted >= 60/s, keypress->frame p95 <= 35 ms")
        for key, jr in cp.items():
            fps, p95 = jr["throughput"]["painted_fps"], jr["latency"].get("latency_p95")
            ok = fps >= TARGET_FPS and p95 is not None and p95 <= TARGET_P95_MS
            print(f"  {key:<20} {fps:6.1f}/s  p95 {_fmt(p95):>6} ms  {'MET' if ok else 'not met'}")


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--formats", nargs="+", default=FORMATS, choices=FORMATS)
    p.add_argument("--kinds", nargs="+", default=KINDS, choices=KINDS)
    p.add_argument(
        "--env-in",
        nargs="+",
        default=["process", "kernel"],
        choices=["process", "kernel"],
        help="where the env steps and renders: another process (as lab.play) or the kernel itself",
    )
    p.add_argument("--seconds", type=float, default=4.0, help="length of each throughput phase")
    p.add_argument("--pace", type=float, default=75.0, help="frames/s the kernel offers in the throughput phase")
    p.add_argument("--presses", type=int, default=30, help="key presses per latency phase (0: skip)")
    p.add_argument(
        "--nodelay", action="store_true", help="set TCP_NODELAY on kernel websockets (jupyter_server leaves Nagle on)"
    )
    p.add_argument("--switch-interval", type=float, help="sys.setswitchinterval in the kernel (default 0.005 s)")
    p.add_argument("--json", help="also write the raw figures here")
    p.add_argument("--screenshot", help="save screenshots of the page and of each widget (NAME-<kind>.png)")
    args = p.parse_args(argv)
    report = run(args)
    print_report(report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
