"""The ``keras-mgic`` console script: ``summary``, ``train``, ``export`` and ``bench``.

Each subcommand lives in its own module under ``keras_mgic.commands`` with two functions,
``add_arguments(parser)`` and ``run(args) -> int``. Building the parser imports neither Keras
nor TensorFlow (``--help`` answers at once); the core is imported only to run a subcommand
(unless its module sets ``NEEDS_CORE = False``).
"""

import argparse
import importlib
import os
import sys

SUBCOMMANDS = {
    "summary": "Parameters and FLOPs of a model, MGIC vs its dense twin.",
    "train": "Train a model with model.fit on a data set.",
    "export": "Export a .keras model to SavedModel or TFLite, with a parity check.",
    "bench": "Run a benchmark from benchmarks/ (no name: list them).",
}


def build_parser():
    parser = argparse.ArgumentParser(
        prog="keras-mgic", description="Multigrid-in-Channels networks for Keras."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, help_text in SUBCOMMANDS.items():
        module = importlib.import_module(f"keras_mgic.commands.{name}")
        command = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(command)
        command.set_defaults(_run=module.run, _needs_core=getattr(module, "NEEDS_CORE", True))
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # no TensorFlow INFO/WARNING lines
    if args._needs_core:
        import keras_mgic

        keras_mgic._import_core()  # registers the layers, so .keras files load
    return args._run(args)


if __name__ == "__main__":
    sys.exit(main())
