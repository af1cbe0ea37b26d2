"""The ``keras-mgic`` console script: ``models``, ``summary``, ``train``, ``export``, ``bench``.

Each subcommand lives in its own module under ``keras_mgic.commands`` with two functions,
``add_arguments(parser)`` and ``run(args) -> int``. Building the parser imports neither Keras
nor TensorFlow (``--help`` answers at once); the core is imported only to run a subcommand
(unless its module sets ``NEEDS_CORE = False``).
"""

import argparse
import importlib
import sys

SUBCOMMANDS = {
    "models": "List the model and data-set names, one line each.",
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
        command = sub.add_parser(
            name,
            help=help_text,
            description=help_text,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(command)
        command.set_defaults(_run=module.run, _needs_core=getattr(module, "NEEDS_CORE", True))
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args._needs_core:
        import keras_mgic
        from keras_mgic.commands.quiet import import_tensorflow_quietly

        # No TensorFlow start-up lines: an error is one line on stderr.
        import_tensorflow_quietly()

        keras_mgic._import_core()  # registers the layers, so .keras files load
    return args._run(args)


if __name__ == "__main__":
    sys.exit(main())
