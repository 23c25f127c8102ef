"""Where the daemon's memory goes: tracemalloc of a real `reconciler run` (prints figures, asserts nothing).

The measured daemon is the same process `bench/noop_cycle.py` measures, started under a wrapper that
turns tracemalloc on and dumps a snapshot on SIGUSR1 (nothing in the reconciler changes). After the
first (cold) full cycle and one warm no-op cycle the bench takes a snapshot and prints:
- the Python heap traced now and at its peak (the peak is what sets RSS);
- the retained heap by the reconciler line that caused each allocation (the innermost frame inside
  `reconciler/`, so a botocore or PyYAML allocation is charged to our call that asked for it);
- the process's RSS and peak RSS, beside the traced figures (tracemalloc's own bookkeeping inflates
  RSS: compare RSS figures only with `bench/noop_cycle.py`'s).

    .venv/bin/python bench/memory.py [--services 1000] [--top 25] [--frames 25]
"""
from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import tempfile
import time
import tracemalloc
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from noop_cycle import DRIFT, bench_seed, full_cycles, metrics, populate, proc_status, wait  # noqa: E402
from noop_cycle import daemon as start_daemon  # noqa: E402

from reconciler.sandbox import Sandbox  # noqa: E402

WRAPPER = """
import json, os, runpy, signal, sys, threading, time, tracemalloc
tracemalloc.start({frames})
def dump(signum, frame):
    tracemalloc.take_snapshot().dump({path!r})
    current, peak = tracemalloc.get_traced_memory()
    with open({path!r} + ".json", "w") as f:
        json.dump({{"current": current, "peak": peak}}, f)
def watch_peak():  # a snapshot near the peak: whenever the heap grew 5 % past the last one
    taken = 0
    while True:
        time.sleep(0.25)
        current, _ = tracemalloc.get_traced_memory()
        if current > taken * 1.05:
            tracemalloc.take_snapshot().dump({path!r} + ".peak-next")
            os.replace({path!r} + ".peak-next", {path!r} + ".peak")
            taken = current
signal.signal(signal.SIGUSR1, dump)
threading.Thread(target=watch_peak, daemon=True).start()
sys.argv = ["reconciler", "run"]
runpy.run_module("reconciler", run_name="__main__", alter_sys=True)
"""

OURS = "/reconciler/"


def charged_to(trace: tracemalloc.Trace, depth: int = 3) -> str:
    """The innermost frames in the reconciler (not the sandbox), innermost first: the lines that asked
    for the memory (a botocore or PyYAML allocation is charged to our call that led to it)."""
    ours = [f"{f.filename.split(OURS, 1)[1]}:{f.lineno}" for f in reversed(trace.traceback)  # stored oldest first
            if OURS in f.filename and "/sandbox/" not in f.filename]
    if ours:
        return " < ".join(ours[:depth])
    top = trace.traceback[-1]
    return f"(outside) {Path(top.filename).name}"


def by_line(snapshot_path: Path, top: int) -> dict[str, float]:
    snapshot = tracemalloc.Snapshot.load(str(snapshot_path))
    sizes: dict[str, int] = defaultdict(int)
    for trace in snapshot.traces:
        sizes[charged_to(trace)] += trace.size
    ranked = sorted(sizes.items(), key=lambda kv: -kv[1])[:top]
    return {"(total)": round(sum(sizes.values()) / 2**20, 1), **{k: round(v / 2**20, 2) for k, v in ranked}}


def report(snapshot_path: Path, top: int) -> dict[str, object]:
    traced = json.loads(Path(str(snapshot_path) + ".json").read_text())
    return {"traced_mib": round(traced["current"] / 2**20, 1), "traced_peak_mib": round(traced["peak"] / 2**20, 1),
            "retained_by_line_mib": by_line(snapshot_path, top),
            "near_peak_by_line_mib": by_line(Path(str(snapshot_path) + ".peak"), top)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--services", type=int, default=1000)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--frames", type=int, default=25, help="traceback depth kept by tracemalloc")
    ap.add_argument("--keep", type=Path, help="copy the snapshot (and its .json) here")
    ap.add_argument("--report", type=Path, help="only report on a snapshot kept earlier")
    args = ap.parse_args()
    if args.report:
        print(json.dumps(report(args.report, args.top), indent=1))
        return
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        from gitserver import GitDaemon

        with Sandbox(seed=bench_seed(), speed=600.0) as sandbox, GitDaemon(tmp / "srv") as server:
            _, setup_s = populate(args.services, tmp, sandbox, server)
            snap = tmp / "heap.snapshot"
            d = start_daemon(tmp, "memory", sandbox, server, drift_interval=str(DRIFT),
                             command=[sys.executable, "-c", WRAPPER.format(frames=args.frames, path=str(snap))])
            try:
                wait(lambda: full_cycles(metrics(d)) >= 2, 3600, "a cold and a warm full cycle", 0.2)
                assert d.proc is not None
                d.proc.send_signal(signal.SIGUSR1)
                wait(lambda: Path(str(snap) + ".json").exists(), 600, "the heap snapshot", 0.2)
                time.sleep(1)  # the .json is written after the snapshot file is complete
                if args.keep:
                    for suffix in ("", ".json", ".peak"):
                        shutil.copy(str(snap) + suffix, str(args.keep) + suffix)
                out = {"services": args.services, "setup_s": round(setup_s, 1), **proc_status(d.proc.pid),
                       **report(snap, args.top)}
            finally:
                d.stop()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
