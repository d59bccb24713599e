"""The whole course, one command: run every lesson with its default settings and time it.

    python -m toygrad.course            # every lessons/NN_*.py, in order; refreshes figures/ and metrics.json
    python -m toygrad.course 05 01      # only the lessons whose names start with these

Each lesson runs in its own process, exactly as a reader would run it (`python lessons/NN_name.py`), so the
committed figures can be checked against what the code produces. Prints a table of wall times at the end.
"""
import argparse
import subprocess
import sys
import time
from pathlib import Path

LESSONS = Path(__file__).resolve().parent.parent / "lessons"


def lessons(prefixes=()):
    """The lesson scripts in order, optionally only those whose file names start with one of `prefixes`."""
    if not LESSONS.is_dir():
        raise FileNotFoundError(f"course: no lessons/ folder at {LESSONS}; run from a checkout of the repository "
                                "(pip install -e .)")
    found = sorted(LESSONS.glob("[0-9][0-9]_*.py"))
    chosen = [p for p in found if not prefixes or p.name.startswith(tuple(prefixes))]
    if prefixes and not chosen:
        raise ValueError(f"course: no lesson starts with {list(prefixes)}; found {[p.name for p in found]}")
    return chosen


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m toygrad.course", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("prefixes", nargs="*", help="run only lessons whose names start with these (e.g. 05)")
    args = parser.parse_args(argv)
    times = []
    for path in lessons(args.prefixes):
        print(f"\n=== {path.name}", flush=True)
        start = time.perf_counter()
        result = subprocess.run([sys.executable, str(path)], cwd=LESSONS.parent)
        times.append((path.name, time.perf_counter() - start, result.returncode))
    print(f"\n{'lesson':32s} {'wall time':>10s}  status")
    for name, seconds, code in times:
        print(f"{name:32s} {seconds:9.0f}s  {'ok' if code == 0 else f'FAILED (exit {code})'}")
    return max((code for _, _, code in times), default=0)


if __name__ == "__main__":
    sys.exit(main())
