"""What supervision costs: `python -m reference check` on impl through its workers against the same run in-process.

    python benchmarks/check_speed.py [--repeats 5] [--against CHECKOUT] [-- extra check arguments]

Runs each side --repeats times, alternating (supervised, in-process, supervised, ...), each as a fresh process as a
user runs it, and prints the median wall time of each and their ratios.  In-process (`check --in-process`) is the
harness without workers: the implementation loaded in the harness's own process; the checks planned and run are the
same, so that ratio is what the workers cost (forking, the JSON that crosses back, the guard around every call).
--against CHECKOUT adds a third side: `python -m reference check` run in another checkout of this repository (a
worktree of the commit before the workers: `git worktree add ../before 02a5e5a`), with this environment's Python.
The target (issue 22): supervised at most 1.15 times the run before the workers (--against), or, without it, the
in-process run.
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


def _once(extra, side, against):
    command = [sys.executable, "-m", "reference", "check", *extra] + (["--in-process"] if side == "in-process" else [])
    started = time.perf_counter()
    # python -m puts the working directory first on the import path: the checkout's own reference/ and impl/ run
    done = subprocess.run(command, cwd=against if side == "before" else ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return seconds, done.stdout.strip().splitlines()[-1]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--against", help="another checkout of this repository whose check is timed too")
    parser.add_argument("extra", nargs="*", help="arguments for check (after --)")
    args = parser.parse_args(argv)
    import numpy as np
    import torch

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; python {platform.python_version()}, "
          f"numpy {np.__version__}, torch {torch.__version__}")
    print(f"python -m reference check {' '.join(args.extra)}, median wall time of {args.repeats} runs each "
          "(alternating)\n", flush=True)
    times = {"supervised": [], "in-process": []}
    if args.against:
        against = Path(args.against).resolve()
        if not (against / "reference" / "__main__.py").is_file():
            raise SystemExit(f"--against {against}: not a checkout of this repository (no reference/__main__.py)")
        commit = subprocess.run(["git", "-C", str(against), "log", "-1", "--format=%h %s"], capture_output=True,
                                text=True).stdout.strip()
        print(f"before: {against} at {commit[:90]}")
        times["before"] = []
    last = {}
    for repeat in range(args.repeats):
        for side in times:
            seconds, last[side] = _once(args.extra, side, args.against)
            times[side].append(seconds)
            print(f"  run {repeat + 1} {side:<10} {seconds:6.2f} s", file=sys.stderr, flush=True)
    for side, values in times.items():
        print(f"{side:<10}  median {statistics.median(values):6.2f} s  (min {min(values):.2f}, max {max(values):.2f})"
              f"  last line: {last[side]}")
    median = {side: statistics.median(values) for side, values in times.items()}
    print(f"\nsupervised / in-process: {median['supervised'] / median['in-process']:.3f}")
    base = "before" if args.against else "in-process"
    ratio = median["supervised"] / median[base]
    if args.against:
        print(f"supervised / before: {ratio:.3f}; in-process / before: {median['in-process'] / median['before']:.3f}")
    verdict = "within" if ratio <= TARGET else "OVER"
    print(f"target: supervised at most {TARGET:.2f} times {base}: {verdict}")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
