"""Model registry benchmark: publish and retrieve throughput of a 100 MB model, next to a plain
file copy of the same bytes measured in the same run.

    uv run python bench/model_registry.py [--megabytes 100] [--repeats 3]

The registry runs as its own process (``cogment-jupyter services model_registry``, as in the
shared runtime), its archive on the same disk as the reference copy. The model is a float32
numpy array. Measured, median of ``--repeats`` runs:

- ``lab.models.publish`` / ``lab.models.store``: the array streamed from its memory in 2 MiB
  chunks over gRPC, written and hashed by the registry (published: kept while it runs; stored:
  kept for good; the same disk work);
- ``lab.models.load``: the latest iteration streamed into a spool file, checked (size, SHA-256),
  and read back as an array;
- the official SDK's ``store_model`` / ``retrieve_model`` on the same registry (``bytes`` in and out);
- reference: ``shutil.copyfile`` of a file holding the same bytes (read + write, page cache warm).

It also reports how much the registry process's peak memory grew while handling all of it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def timed(action: Callable[[], object], repeats: int) -> float:
    """Median seconds of ``repeats`` runs of ``action``."""
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def sdk_timings(endpoint: str, data: bytes, repeats: int) -> tuple[float, float]:
    import cogment

    from tests import sdk_cog_settings

    async def run() -> tuple[float, float]:
        context = cogment.Context(user_id="bench", cog_settings=sdk_cog_settings, prometheus_registry=None)
        models = await context.get_model_registry_v2(cogment.Endpoint(endpoint))
        stores, retrieves = [], []
        for _ in range(repeats):
            started = time.perf_counter()
            await models.store_model("sdk", data)
            stores.append(time.perf_counter() - started)
            started = time.perf_counter()
            back = await models.retrieve_model("sdk")
            retrieves.append(time.perf_counter() - started)
            assert len(back) == len(data)
        return statistics.median(stores), statistics.median(retrieves)

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=100, help="model size in MiB (default 100)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-sdk", action="store_true", help="skip the official SDK's client")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("TQDM_DISABLE", "1")  # no progress bars in the figures
    logging.basicConfig(level=logging.WARNING)  # (the SDK warns without a handler)
    from cogment_jupyter import Lab

    work = Path(tempfile.mkdtemp(prefix="registry-bench-"))
    size = args.megabytes * 1024 * 1024
    model = np.random.default_rng(0).random(size // 4, dtype=np.float32)
    megabytes = model.nbytes / 1e6
    print(
        f"model registry benchmark in {work}: a {model.nbytes / 2**20:.0f} MiB float32 array, median of "
        f"{args.repeats} runs (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
    )

    source = work / "model.bin"
    source.write_bytes(model.tobytes())
    copy = timed(lambda: shutil.copyfile(source, work / "copy.bin"), args.repeats)

    from tests.model_registry.registry_process import start_registry_process

    registry = start_registry_process(work / "archive")
    endpoint = registry.endpoint
    try:
        baseline = registry.peak_rss_mb()
        with Lab(datastore=work / "lab", model_registry=endpoint) as lab:
            lab.models.store("warm-up", b"x")
            publish = timed(lambda: lab.models.publish("model", model), args.repeats)
            store = timed(lambda: lab.models.store("model", model), args.repeats)
            load = timed(lambda: lab.models.load("model"), args.repeats)
            assert np.array_equal(lab.models.load("model"), model)
        sdk = None if args.no_sdk else sdk_timings(endpoint, model.tobytes(), args.repeats)
        growth = registry.peak_rss_mb() - baseline
    finally:
        registry.stop()

    reference = megabytes / copy
    print(f"  {'plain file copy (shutil.copyfile)':<40} {reference:>8,.0f} MB/s   reference")
    rows = [
        ("publish: lab.models.publish", publish),
        ("publish: lab.models.store", store),
        ("retrieve: lab.models.load", load),
    ]
    if sdk is not None:
        rows += [("publish: SDK store_model", sdk[0]), ("retrieve: SDK retrieve_model", sdk[1])]
    for label, seconds in rows:
        rate = megabytes / seconds
        print(f"  {label:<40} {rate:>8,.0f} MB/s   {rate / reference:.2f}x the file copy   ({seconds:.3f} s)")
    print(f"  the registry process's peak memory grew {growth:.0f} MiB while handling {megabytes:.0f} MB models")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
