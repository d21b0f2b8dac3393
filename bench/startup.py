"""Start-up costs a user feels: ``%load_ext cogment_jupyter`` in a fresh kernel, ``%cogment launch``
after it, and ``cogment-jupyter services orchestrator`` until it listens.

Run: ``uv run python bench/startup.py [--repeat 5]`` (or with any interpreter that has the
package, e.g. a pip-installed venv's ``python bench/startup.py``).

Reference (same run, same interpreter): a fresh ``python -c "import gymnasium"``, CPU and wall
time. Each figure is the median of ``--repeat`` fresh processes / kernels, printed with its
ratio to the reference. CPU time is what a kernel spends (``time.process_time`` inside it);
"listening" is the time from starting the command to its status file saying ``R`` (ready: both
gRPC services bound), which is when a client can connect.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEAVY = ("pandas", "pyarrow", "torch", "matplotlib", "minari", "pettingzoo")

KERNEL_CODE = """
import sys as _s, time as _t
_c0, _w0 = _t.process_time(), _t.perf_counter()
get_ipython().run_line_magic("load_ext", "cogment_jupyter")
_c1, _w1 = _t.process_time(), _t.perf_counter()
get_ipython().run_line_magic("cogment", "launch --embedded --datastore {datastore}")
_c2, _w2 = _t.process_time(), _t.perf_counter()
print("RESULT", _c1 - _c0, _w1 - _w0, _c2 - _c1, _w2 - _w1, ",".join(m for m in {heavy!r} if m in _s.modules))
get_ipython().run_line_magic("cogment", "stop")
"""


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def reference(repeat: int) -> tuple[float, float]:
    """CPU and wall seconds of a fresh ``python -c "import gymnasium"`` (medians)."""
    cpu, wall = [], []
    for _ in range(repeat):
        before, start = _child_cpu(), time.perf_counter()
        subprocess.run([sys.executable, "-c", "import gymnasium"], check=True)
        wall.append(time.perf_counter() - start)
        cpu.append(_child_cpu() - before)
    return statistics.median(cpu), statistics.median(wall)


def kernel_startup(repeat: int) -> tuple[list[tuple[float, float, float, float]], str]:
    """(load_ext CPU, wall, launch CPU, wall) per fresh kernel; heavy modules loaded after launch."""
    from jupyter_client.manager import start_new_kernel

    rows, heavy = [], ""
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            manager, client = start_new_kernel(kernel_name="python3", cwd=tmp, stderr=subprocess.DEVNULL)
            try:
                lines: list[str] = []

                def keep(message, lines=lines):
                    if message["msg_type"] == "stream":
                        lines.extend(message["content"]["text"].splitlines())
                    elif message["msg_type"] == "error":
                        lines.append("ERROR " + message["content"]["evalue"])

                code = KERNEL_CODE.format(datastore=Path(tmp) / "store", heavy=HEAVY)
                client.execute_interactive(code, timeout=120, output_hook=keep)
                result = next((line for line in lines if line.startswith("RESULT")), None)
                if result is None:
                    raise RuntimeError("the kernel did not report its timings:\n" + "\n".join(lines))
                fields = result.split(" ")
                rows.append(tuple(float(v) for v in fields[1:5]))
                heavy = fields[5] if len(fields) > 5 else ""
            finally:
                client.stop_channels()
                manager.shutdown_kernel(now=True)
    return rows, heavy


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _process_cpu(pid: int) -> float:
    """CPU seconds a process has used so far (Linux ``/proc``; NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def orchestrator_listening(repeat: int) -> list[tuple[float, float]]:
    """(wall, CPU) seconds from starting ``cogment-jupyter services orchestrator`` to its ``R``."""
    script = Path(sys.executable).with_name("cogment-jupyter")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "cogment_jupyter"]
    times = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            fifo = os.path.join(tmp, "status")
            os.mkfifo(fifo)
            port = _free_port()
            start = time.perf_counter()
            flags = [f"--lifecycle_port={port}", f"--actor_port={port}", f"--status_file={fifo}", "--log_level=warning"]
            process = subprocess.Popen([*command, "services", "orchestrator", *flags])
            try:
                with open(fifo) as status:
                    seen = ""
                    while "R" not in seen:
                        chunk = status.read(1)
                        if not chunk:
                            raise RuntimeError(f"the orchestrator exited before it was ready (status {seen!r})")
                        seen += chunk
                    times.append((time.perf_counter() - start, _process_cpu(process.pid)))
                    process.terminate()
                    status.read()  # its T, so that it exits cleanly
            finally:
                if process.poll() is None:
                    process.terminate()
                process.wait(10)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if shutil.which("cogment-jupyter") is None and not Path(sys.executable).with_name("cogment-jupyter").exists():
        print("note: no cogment-jupyter script beside this interpreter; using python -m cogment_jupyter")

    ref_cpu, ref_wall = reference(args.repeat)
    rows, heavy = kernel_startup(args.repeat)
    listening = orchestrator_listening(args.repeat)
    load_cpu = statistics.median(r[0] for r in rows)
    load_wall = statistics.median(r[1] for r in rows)
    launch_cpu = statistics.median(r[2] for r in rows)
    launch_wall = statistics.median(r[3] for r in rows)
    listen = statistics.median(wall for wall, _ in listening)
    listen_cpu = statistics.median(cpu for _, cpu in listening)

    print(f"Python {sys.version.split()[0]}, medians of {args.repeat} fresh processes / kernels")
    print(f"reference  python -c 'import gymnasium'          {ref_cpu:6.3f} s CPU   {ref_wall:6.3f} s wall")
    print(
        f"%load_ext cogment_jupyter (fresh kernel)        {load_cpu:6.3f} s CPU   {load_wall:6.3f} s wall"
        f"   {load_cpu / ref_cpu:5.2f}x the reference's CPU   (goal: <= 0.5 s CPU)"
    )
    print(
        f"%cogment launch --embedded (after it)           {launch_cpu:6.3f} s CPU   {launch_wall:6.3f} s wall"
        f"   {launch_cpu / ref_cpu:5.2f}x the reference's CPU"
    )
    print(f"  heavy modules loaded after launch: {heavy or 'none'} (of {', '.join(HEAVY)})")
    print(
        f"cogment-jupyter services orchestrator, ready   {listen_cpu:6.3f} s CPU   {listen:6.3f} s wall"
        f"   {listen / ref_wall:5.2f}x the reference's wall   (goal: listening <= 0.3 s)"
    )


if __name__ == "__main__":
    main()
