"""What supervision costs: `python -m reference check` on impl through its workers against the same run in-process.

    python benchmarks/check_speed.py [--repeats 5] [-- extra check arguments]

Runs each side --repeats times, alternating (supervised, in-process, supervised, ...), each as a fresh process as a
user runs it, and prints the median wall time of each and their ratio.  The target (issue 22): the supervised run at
most 1.15 times the in-process one.  In-process (`check --in-process`) is the harness without workers: the
implementation loaded in the harness's own process, as every run was before the workers; the checks planned and run
are the same, so the ratio is what the workers cost (forking, the JSON that crosses back, the guard around every call).
"""

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 1.15


def _once(extra, in_process):
    command = [sys.executable, "-m", "reference", "check", *extra] + (["--in-process"] if in_process else [])
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return seconds, done.stdout.strip().splitlines()[-1]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("extra", nargs="*", help="arguments for check (after --)")
    args = parser.parse_args(argv)
    import numpy as np
    import torch

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; python {platform.python_version()}, "
          f"numpy {np.__version__}, torch {torch.__version__}")
    print(f"python -m reference check {' '.join(args.extra)}, median wall time of {args.repeats} runs each "
          "(alternating)\n", flush=True)
    times = {"supervised": [], "in-process": []}
    last = {}
    for repeat in range(args.repeats):
        for side in times:
            seconds, last[side] = _once(args.extra, side == "in-process")
            times[side].append(seconds)
            print(f"  run {repeat + 1} {side:<10} {seconds:6.2f} s", file=sys.stderr, flush=True)
    for side, values in times.items():
        print(f"{side:<10}  median {statistics.median(values):6.2f} s  (min {min(values):.2f}, max {max(values):.2f})"
              f"  last line: {last[side]}")
    ratio = statistics.median(times["supervised"]) / statistics.median(times["in-process"])
    verdict = "within" if ratio <= TARGET else "OVER"
    print(f"\nsupervised / in-process: {ratio:.3f} ({verdict} the target of {TARGET:.2f})")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
