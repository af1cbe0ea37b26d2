"""Target 5: every builder trains with ``jit_compile=True``; its speed beside the default.

Usage: python benchmarks/jit_compile.py [--write] [--quick] [--models a,b,...] [--batch 16]
       [--rounds 5] [--repeat 1]

For each ResNet and MobileNetV3 classifier of ``keras_mgic.models.MODELS`` (``MODELS``; the
Wide ResNets, segmenters, point-cloud and token models are left out) at a small input size,
builds the model twice
in the same process, compiled with ``jit_compile=False`` (the default on a CPU) and with
``jit_compile=True`` (XLA), and times one ``train_on_batch`` step of each in interleaved
rounds after warm-up (``_common.compare``). Prints the median step times and the ratio
XLA / default: the median of the per-round ratios, with their spread.

The default of 5 rounds keeps the full run near a quarter of an hour on 2 cores: XLA's
grouped convolution makes an MGIC-ResNet-50 step take about a minute there. ``--quick``:
ResNet-20 and MGIC-ResNet-20 only (unless ``--models`` is given), 2 rounds.
"""

import sys

import keras

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
import _common as bench  # noqa: E402
from _common import markdown_table, write_section  # noqa: E402
from resnet56 import prepare  # noqa: E402

from keras_mgic import models  # noqa: E402

#: The builders timed by default: the ResNets and MobileNetV3 classifiers, dense and MGIC.
MODELS = tuple(
    name
    for name in models.MODELS
    if name.removeprefix("mgic_").startswith(("resnet", "mobilenet_v3"))
)
INPUT_SIZE = {"resnet50": 64, "mgic_resnet50": 64}
QUICK_MODELS = ("resnet20", "mgic_resnet20")
CLASSES = 10


def input_size(name):
    """The input side a builder is timed at: 32 for the CIFAR ResNets, else 64."""
    return INPUT_SIZE.get(name, 32 if "resnet" in name else 64)


def compare_model(name, batch, rounds, repeat):
    """A ``Comparison`` of one ``train_on_batch`` step with ``jit_compile`` off (``"default"``,
    the baseline) and on (``"xla"``), the two models interleaved."""
    size = input_size(name)
    steps = {
        key: prepare(name, batch, jit, input_size=size, num_classes=CLASSES)[0]
        for key, jit in (("default", False), ("xla", True))
    }
    comparison = bench.compare(steps, "default", rounds, repeat)
    keras.backend.clear_session()
    return comparison


def row(name, comparison):
    """The table row of one builder: input, median ms of each and the ratio XLA / default."""
    size = input_size(name)
    return (
        name,
        f"{size}x{size}",
        f"{comparison.median_ms('default'):.0f}",
        f"{comparison.median_ms('xla'):.0f}",
        comparison.describe("xla"),
    )


def table(comparisons):
    """The markdown table of ``{name: Comparison}``."""
    header = ["model", "input", "default train ms", "jit_compile train ms", "XLA / default"]
    return markdown_table(header, [row(name, c) for name, c in comparisons.items()])


def main(argv=None):
    parser = bench.parser(__doc__, quick="two small models, 2 rounds", rounds=5, repeat=1)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--models", default=None, help="comma-separated (default: MODELS)")
    args = parser.parse_args(argv)
    env = bench.announce()
    default = QUICK_MODELS if args.quick else MODELS
    names = args.models.split(",") if args.models else default
    rounds = 2 if args.quick else args.rounds
    comparisons = {}
    for name in names:
        comparisons[name] = compare_model(name, args.batch, rounds, args.repeat)
        print(row(name, comparisons[name]), flush=True)
    text = table(comparisons)
    print(text)
    if args.write:
        body = (
            "## `jit_compile=True` for every builder\n\n"
            f"{bench.header(comparisons, env=env)}\n\n"
            f"Batch {args.batch}, {CLASSES} classes; per round the median of {args.repeat} "
            f"`train_on_batch` steps.\n\n{text}"
        )
        write_section("jit_compile", body)


if __name__ == "__main__":
    main()
