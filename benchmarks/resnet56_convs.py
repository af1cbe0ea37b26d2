"""Where MGIC-ResNet-56's inference time goes: its 3x3 convolutions against ResNet-56's.

Usage: python benchmarks/resnet56_convs.py [--write] [--quick] [--batch 64]

Explains the inference ratio of ``benchmarks/resnet56.py``. For every stage of ResNet-56
(32x32x16, 16x16x32, 8x8x64 at batch 64), it times the dense 3x3 convolution of the stage and
the 3x3 convolution of every level of the stage's MGICBlock (group size 8, coarsest size 16:
the level widths and groups are read off a built ``MGICBlock``), each through
``keras_mgic.ops.grouped_conv2d`` (TensorFlow's native grouped kernel) in inference, and
prints milliseconds, MACs, and the MACs per microsecond each kernel achieves. Each time is
the median over calls of a ``tf.function`` that chains ten convolutions of the same shape,
divided by ten, so the per-call overhead is spread out. It also counts the ops of both
models' inference graphs (``model(x, training=False)`` traced in a ``tf.function``).
"""

import collections
import sys

import numpy as np
import tensorflow as tf

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
import _common as bench  # noqa: E402
from _common import environment, markdown_table, median_ms, write_section  # noqa: E402

from keras_mgic import MGICBlock, models, ops  # noqa: E402

STAGES = [(32, 16), (16, 32), (8, 64)]  # (image size, width) of ResNet-56's stages
GROUP_SIZE, COARSEST_SIZE = 8, 16
CHAIN = 10  # convolutions chained in one tf.function call


def conv_ms(batch, size, width, groups, repeat):
    """Milliseconds of one 3x3 'same' convolution ``width -> width`` with ``groups``."""
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(batch, size, size, width)).astype("float32"))
    fan_in = 9 * width // groups
    kernel = tf.constant(
        rng.normal(scale=fan_in**-0.5, size=(3, 3, width // groups, width)).astype("float32")
    )

    @tf.function
    def chained(h):
        for _ in range(CHAIN):
            h = ops.grouped_conv2d(h, kernel, padding="same")
        return h

    return median_ms(lambda: chained(x).numpy(), repeat=repeat, warmup=2) / CHAIN


def level_shapes(width):
    """``[(width, groups), ...]`` of every level of the stage's MGICBlock, finest first."""
    block = MGICBlock(group_size=GROUP_SIZE, coarsest_size=COARSEST_SIZE)
    block.build((None, 8, 8, width))
    return [(w, level.groups) for w, level in zip(block.widths, block.level_blocks, strict=True)]


def graph_op_counts(name):
    """Op types in the inference graph of ``name`` (variable reads and constants left out)."""
    model = models.get_model(name, classifier_activation=None)
    function = tf.function(lambda x: model(x, training=False))
    graph = function.get_concrete_function(tf.TensorSpec((None, 32, 32, 3))).graph
    skip = {"ReadVariableOp", "Const", "Identity", "NoOp", "Placeholder"}
    return collections.Counter(op.type for op in graph.get_operations() if op.type not in skip)


def main(argv=None):
    parser = bench.parser(__doc__, quick="fewer repeats")
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args(argv)
    repeat = 5 if args.quick else 20
    env = environment()
    print(env, flush=True)

    rows, totals = [], {"dense": [0.0, 0], "mgic": [0.0, 0]}
    for size, width in STAGES:
        shapes = [("ResNet-56", width, 1)] + [
            (f"MGIC level {level}", w, g) for level, (w, g) in enumerate(level_shapes(width))
        ]
        for label, w, groups in shapes:
            ms = conv_ms(args.batch, size, w, groups, repeat)
            macs = args.batch * size * size * 9 * w * w // groups
            key = "dense" if label == "ResNet-56" else "mgic"
            totals[key][0] += ms
            totals[key][1] += macs
            row = (
                f"{size}x{size}",
                label,
                w,
                groups,
                f"{ms:.3f}",
                f"{macs / 1e6:.1f}",
                f"{macs / 1e3 / ms / 1e3:.0f}",
            )
            rows.append(row)
            print(" | ".join(str(cell) for cell in row), flush=True)
    header = ["stage", "conv", "width", "groups", "ms", "MMACs", "MMACs per ms"]
    conv_table = markdown_table(header, rows)

    counts = {name: graph_op_counts(name) for name in ("resnet56", "mgic_resnet56")}
    kinds = ["Conv2D", "FusedBatchNormV3", "Relu", "AddV2", "Sub"]
    op_rows = [
        (kind, counts["resnet56"].get(kind, 0), counts["mgic_resnet56"].get(kind, 0))
        for kind in kinds
    ]
    op_rows.append(
        ("all ops", sum(counts["resnet56"].values()), sum(counts["mgic_resnet56"].values()))
    )
    op_table = markdown_table(["op", "ResNet-56", "MGIC-ResNet-56 (8/16)"], op_rows)

    dense_ms, dense_macs = totals["dense"]
    mgic_ms, mgic_macs = totals["mgic"]
    summary = (
        f"One 3x3 conv per stage, summed over the three stages: ResNet-56 {dense_ms:.2f} ms "
        f"for {dense_macs / 1e6:.0f}M MACs, MGIC levels {mgic_ms:.2f} ms for "
        f"{mgic_macs / 1e6:.0f}M MACs (time ratio {mgic_ms / dense_ms:.2f}, MACs ratio "
        f"{mgic_macs / dense_macs:.2f})."
    )
    print()
    print(conv_table)
    print()
    print(op_table)
    print()
    print(summary)
    if args.write:
        text = "\n\n".join(
            [
                "## Where MGIC-ResNet-56's inference time goes",
                f"`python benchmarks/resnet56_convs.py --write{' --quick' if args.quick else ''}`"
                f" (batch {args.batch}; a 3x3 'same' conv, inference, median over calls of "
                f"{CHAIN} chained convs / {CHAIN}; MGIC levels of an MGICBlock with group "
                f"size {GROUP_SIZE}, coarsest size {COARSEST_SIZE}).\n{env}",
                conv_table,
                summary,
                "Ops in the inference graph (`model(x, training=False)` in a `tf.function`; "
                "variable reads and constants not counted):",
                op_table,
            ]
        )
        write_section("resnet56_convs", text)
    return rows, counts


if __name__ == "__main__":
    main()
