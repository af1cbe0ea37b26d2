"""``keras-mgic bench NAME [ARGS...]``: run a benchmark script from a source checkout.

The scripts live in the repository's ``benchmarks/`` folder (they are not installed with the
package); ``keras-mgic bench --list`` shows them. Arguments after NAME go to the script,
e.g. ``keras-mgic bench resnet56 --quick``.
"""

import argparse
import pathlib
import runpy
import sys


def _benchmarks_dir():
    candidates = [
        pathlib.Path.cwd() / "benchmarks",
        pathlib.Path(__file__).resolve().parents[2] / "benchmarks",
    ]
    for folder in candidates:
        if folder.is_dir():
            return folder
    return None


def _available(folder):
    return sorted(p.stem for p in folder.glob("*.py") if not p.stem.startswith("_"))


def add_arguments(parser):
    parser.add_argument("name", nargs="?", help="benchmark name (see --list)")
    parser.add_argument("--list", action="store_true", help="list the benchmarks")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the script")


def run(args):
    folder = _benchmarks_dir()
    if folder is None:
        print(
            "error: no benchmarks/ folder found; run `keras-mgic bench` from a source checkout "
            "of keras_mgic",
            file=sys.stderr,
        )
        return 2
    names = _available(folder)
    if args.list or not args.name:
        print("\n".join(names))
        return 0 if args.list else 2
    if args.name not in names:
        print(f"error: unknown benchmark {args.name!r}; choose from {names}", file=sys.stderr)
        return 2
    script = folder / f"{args.name}.py"
    saved_argv = sys.argv
    sys.argv = [str(script), *args.args]
    try:
        runpy.run_path(str(script), run_name="__main__")
    finally:
        sys.argv = saved_argv
    return 0
