"""Target 5: every builder trains with ``jit_compile=True``; its speed beside the default.

Usage: python benchmarks/jit_compile.py [--write] [--quick] [--models a,b,...]

For each builder in ``keras_mgic.models.MODELS`` at a small input size, times one
``train_on_batch`` step with ``jit_compile=False`` and with ``jit_compile=True`` (XLA) in
the same process, and prints both and their ratio.
"""

import sys

import keras

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
import _common as bench  # noqa: E402
from _common import markdown_table, write_section  # noqa: E402
from resnet56 import time_model  # noqa: E402

from keras_mgic import models  # noqa: E402

INPUT_SIZE = {"resnet50": 64, "mgic_resnet50": 64}


def main(argv=None):
    parser = bench.parser(__doc__, quick="fewer repeats")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--models", default=",".join(models.MODELS))
    args = parser.parse_args(argv)
    env = bench.announce()
    repeat = 2 if args.quick else 5
    rows = []
    for name in args.models.split(","):
        size = INPUT_SIZE.get(name, 32 if "resnet" in name else 64)
        default = time_model(name, args.batch, repeat, input_size=size, num_classes=10)
        keras.backend.clear_session()
        xla = time_model(
            name, args.batch, repeat, jit_compile=True, input_size=size, num_classes=10
        )
        keras.backend.clear_session()
        row = (
            name,
            f"{size}x{size}",
            f"{default['train']:.0f}",
            f"{xla['train']:.0f}",
            f"{xla['train'] / default['train']:.2f}",
        )
        print(row, flush=True)
        rows.append(row)
    table = markdown_table(
        ["model", "input", "default train ms", "jit_compile train ms", "XLA / default"], rows
    )
    print(table)
    if args.write:
        text = (
            "## `jit_compile=True` for every builder\n\n"
            f"`python benchmarks/jit_compile.py {' '.join(sys.argv[1:])}` "
            f"(batch {args.batch}, 10 classes, "
            f"median `train_on_batch`).\n{env}\n\n{table}"
        )
        write_section("jit_compile", text)


if __name__ == "__main__":
    main()
