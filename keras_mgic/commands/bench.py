"""``keras-mgic bench NAME [ARGS...]``: run a benchmark script from a source checkout.

The scripts live in the repository's ``benchmarks/`` folder (they are not installed with the
package); ``keras-mgic bench`` with no name (or ``--list``) lists them, one line each with the
first line of the script's docstring. Arguments after NAME go to the script, e.g.
``keras-mgic bench resnet56 --quick``.
"""

import argparse
import ast
import pathlib
import runpy
import sys

#: Listing needs no Keras: the CLI does not import the core for this command.
NEEDS_CORE = False


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


def summary_line(script):
    """The first line of a script's module docstring (read without running it), or ''."""
    try:
        docstring = ast.get_docstring(ast.parse(pathlib.Path(script).read_text()))
    except (OSError, SyntaxError, ValueError):
        return ""
    return docstring.strip().splitlines()[0] if docstring else ""


def add_arguments(parser):
    parser.add_argument("name", nargs="?", help="benchmark name (none: list them)")
    parser.add_argument("--list", action="store_true", help="list the benchmarks")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the script")


def _print_list(folder, names):
    width = max(len(name) for name in names)
    for name in names:
        print(f"{name:<{width}}  {summary_line(folder / f'{name}.py')}".rstrip())


def run(args):
    folder = _benchmarks_dir()
    if folder is None:
        print(
            "keras-mgic bench: error: no benchmarks/ folder found; run `keras-mgic bench` "
            "from a source checkout of keras_mgic",
            file=sys.stderr,
        )
        return 2
    names = _available(folder)
    if args.list or not args.name:
        _print_list(folder, names)
        return 0
    if args.name not in names:
        print(
            f"keras-mgic bench: error: unknown benchmark {args.name!r}; choose from {names}",
            file=sys.stderr,
        )
        return 2
    script = folder / f"{args.name}.py"
    saved_argv = sys.argv
    sys.argv = [str(script), *args.args]
    try:
        runpy.run_path(str(script), run_name="__main__")
    finally:
        sys.argv = saved_argv
    return 0
