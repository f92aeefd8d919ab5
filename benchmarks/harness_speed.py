"""The harness's own speed: `bp-parity check` on impl, `bp-parity zoo`, and (with --tox) the default `tox` run.

    python benchmarks/harness_speed.py [--repeats 3] [--only check|zoo|tox ...] [--tox]

Each command runs --repeats times as a user runs it (a fresh process from the repository's root, its output kept
out of the timing's way), and the median wall time of each is printed with the machine; a run that exits non-zero
stops the benchmark with its output (a fast wrong answer is no measure).  `tox` takes about 17 minutes a run on 2
cores, so it runs only with --tox; CI's `.ci/run` prints its wall time on every stop (docs/benchmarks.md keeps
those).  Targets (issue 28): the zoo under 90 s with every mutant caught; CI under 20 minutes (`tox`, the
environments built included).
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
BIN = Path(sys.executable).parent
COMMANDS = {
    "check": [str(BIN / "bp-parity"), "check"],
    "zoo": [str(BIN / "bp-parity"), "zoo"],
    "tox": [str(BIN / "tox")],
}
TARGETS = {"zoo": 90.0, "tox": 1200.0}


def _once(name):
    started = time.perf_counter()
    done = subprocess.run(COMMANDS[name], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(COMMANDS[name])} exited {done.returncode}:\n{done.stdout[-3000:]}"
                         f"{done.stderr[-2000:]}")
    return seconds, (done.stdout.strip().splitlines() or [""])[-1]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", action="append", choices=sorted(COMMANDS), help="time only this command")
    parser.add_argument("--tox", action="store_true", help="time the default tox run too (about 17 min a run)")
    args = parser.parse_args(argv)
    names = args.only or ["check", "zoo"] + (["tox"] if args.tox else [])
    missing = [n for n in names if not Path(COMMANDS[n][0]).is_file()]
    if missing:
        raise SystemExit(f"not installed beside {sys.executable}: {', '.join(COMMANDS[n][0] for n in missing)} "
                         "(pip install -e '.[test,plot]' tox)")
    import numpy as np

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; python {platform.python_version()}, "
          f"numpy {np.__version__}; median wall time of {args.repeats} runs each", flush=True)
    for name in names:
        times = []
        for repeat in range(args.repeats):
            seconds, last = _once(name)
            times.append(seconds)
            print(f"  {name} run {repeat + 1}: {seconds:.1f} s  ({last[:100]})", file=sys.stderr, flush=True)
        median = statistics.median(times)
        target = f"; target under {TARGETS[name]:g} s: {'met' if median < TARGETS[name] else 'NOT met'}" \
            if name in TARGETS else ""
        print(f"{' '.join(Path(COMMANDS[name][0]).name for _ in [0])} {' '.join(COMMANDS[name][1:])}: median "
              f"{median:.1f} s (runs: {', '.join(f'{t:.1f}' for t in times)}){target}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
