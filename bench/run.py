"""Run the benchmarks: every ``bench/bench_*.py``, in sorted order.

Usage::

    python bench/run.py               # all of them
    python bench/run.py conv matmul   # those whose name contains "conv" or "matmul"

Each benchmark is a standalone script ending in ``if __name__ == "__main__": main()``.
It runs in its own subprocess with this interpreter (the venv's under ``make bench``),
from the repository root, and its output goes straight to the terminal. All selected
benchmarks run even if one fails; the exit status is non-zero if any failed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent


def select(scripts: list[Path], names: list[str]) -> list[Path]:
    if not names:
        return scripts
    wanted = [n.removesuffix(".py").removeprefix("bench_") for n in names]
    return [s for s in scripts if any(w in s.stem.removeprefix("bench_") for w in wanted)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*",
                        help="run only benchmarks whose name contains one of these")
    args = parser.parse_args(argv)

    scripts = sorted(BENCH.glob("bench_*.py"))
    chosen = select(scripts, args.names)
    if not chosen:
        known = ", ".join(s.stem for s in scripts) or "none"
        if args.names:
            print(f"no benchmark matches {' '.join(args.names)} (available: {known})",
                  file=sys.stderr)
            return 2
        print("no benchmarks found (bench/bench_*.py)")
        return 0

    failed = []
    for script in chosen:
        print(f"== {script.stem} ==", flush=True)
        start = time.perf_counter()
        rc = subprocess.run([sys.executable, str(script)], cwd=ROOT).returncode
        seconds = time.perf_counter() - start
        if rc != 0:
            failed.append(script.stem)
            print(f"== {script.stem}: FAILED (exit {rc}) after {seconds:.1f} s ==\n", flush=True)
        else:
            print(f"== {script.stem}: done in {seconds:.1f} s ==\n", flush=True)

    if failed:
        print(f"{len(failed)} of {len(chosen)} benchmarks failed: {', '.join(failed)}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
