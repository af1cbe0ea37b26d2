"""Where MGIC-ResNet-56's inference time goes: its 3x3 convolutions against ResNet-56's.

Usage: python benchmarks/resnet56_convs.py [--write] [--quick] [--batch 64] [--rounds 15]
       [--repeat 5]

Explains the inference ratio of ``benchmarks/resnet56.py``. For every stage of ResNet-56
(32x32x16, 16x16x32, 8x8x64 at batch 64), it times the dense 3x3 convolution of the stage and
the 3x3 convolution of every level of the stage's MGICBlock (group size 8, coarsest size 16:
the level widths and groups are read off a built ``MGICBlock``), each through
``keras_mgic.ops.grouped_conv2d`` (TensorFlow's native grouped kernel) in inference, all of
them alternating over interleaved rounds after warm-up (``_common.compare``), and prints
milliseconds, each conv's time over the dense conv of its stage (the median of the per-round
ratios, with their spread), MACs, and the MACs per microsecond each kernel achieves. Each
time is the median over a round's calls of a ``tf.function`` that chains ten convolutions of
the same shape, divided by ten, so the per-call overhead is spread out; the summary's time
ratio (MGIC levels over the dense convs, summed over the stages) is the median of the
per-round ratios of the sums. It also counts the ops of both models' inference graphs
(``model(x, training=False)`` traced in a ``tf.function``). ``--quick``: 2 rounds of 2 calls
(under a minute on 2 cores, most of it building the two models); the default run takes about
a minute on 2 idle cores.
"""

import collections
import sys

import numpy as np
import tensorflow as tf

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
import _common as bench  # noqa: E402
from _common import markdown_table, write_section  # noqa: E402

from keras_mgic import MGICBlock, models, ops  # noqa: E402

STAGES = [(32, 16), (16, 32), (8, 64)]  # (image size, width) of ResNet-56's stages
GROUP_SIZE, COARSEST_SIZE = 8, 16
CHAIN = 10  # convolutions chained in one tf.function call
DENSE = "ResNet-56"
HEADER = ["stage", "conv", "width", "groups", "ms", "time / dense", "MMACs", "MMACs per ms"]


def conv_fn(batch, size, width, groups):
    """One call of ``CHAIN`` chained 3x3 'same' convolutions ``width -> width`` with
    ``groups`` (a ``tf.function``, blocking until done)."""
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

    return lambda: chained(x).numpy()


def conv_shapes():
    """``[(stage, label, width, groups), ...]``: the dense conv and the MGIC levels of every
    stage; ``(stage, label)`` keys the comparison."""
    shapes = []
    for size, width in STAGES:
        stage = f"{size}x{size}"
        shapes.append((stage, DENSE, width, 1))
        for level, (w, g) in enumerate(level_shapes(width)):
            shapes.append((stage, f"MGIC level {level}", w, g))
    return shapes


def time_convs(batch, shapes, rounds, repeat):
    """A ``Comparison`` of every conv (keys ``(stage, label)``), interleaved, against the
    first stage's dense conv (``conv_rows`` compares each with its own stage's)."""
    sizes = {f"{size}x{size}": size for size, _ in STAGES}
    fns = {(stage, label): conv_fn(batch, sizes[stage], w, g) for stage, label, w, g in shapes}
    return bench.compare(fns, next(iter(fns)), rounds, repeat)


def macs(batch, stage, width, groups):
    size = int(stage.split("x")[0])
    return batch * size * size * 9 * width * width // groups


def conv_rows(batch, shapes, comparison):
    """Per conv: ms per convolution, time over its stage's dense conv (median of the
    per-round ratios, with their spread), MMACs and MMACs per ms."""
    rows = []
    for stage, label, w, groups in shapes:
        ms = comparison.median_ms((stage, label)) / CHAIN
        count = macs(batch, stage, w, groups)
        ratio = comparison.against((stage, DENSE)).describe((stage, label))
        rows.append(
            (
                stage,
                label,
                w,
                groups,
                f"{ms:.3f}",
                ratio,
                f"{count / 1e6:.1f}",
                f"{count / 1e3 / ms / 1e3:.0f}",
            )
        )
    return rows


def summary(batch, shapes, comparison):
    """One sentence: the dense convs and the MGIC levels summed over the stages, their ms
    and MACs, and the time ratio as the median of the per-round ratios of the sums."""
    per_round = {"dense": [0.0] * comparison.rounds, "mgic": [0.0] * comparison.rounds}
    counts = {"dense": 0, "mgic": 0}
    for stage, label, w, groups in shapes:
        key = "dense" if label == DENSE else "mgic"
        counts[key] += macs(batch, stage, w, groups)
        for i, ms in enumerate(comparison.ms[stage, label]):
            per_round[key][i] += ms / CHAIN
    sums = bench.Comparison("dense", per_round)
    return (
        f"One 3x3 conv per stage, summed over the three stages: ResNet-56 "
        f"{sums.median_ms('dense'):.2f} ms for {counts['dense'] / 1e6:.0f}M MACs, MGIC levels "
        f"{sums.median_ms('mgic'):.2f} ms for {counts['mgic'] / 1e6:.0f}M MACs (time ratio "
        f"{sums.describe('mgic')}, MACs ratio {counts['mgic'] / counts['dense']:.2f})."
    )


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


def op_table():
    """Counts of the main op kinds, and of all ops, in both models' inference graphs."""
    counts = {name: graph_op_counts(name) for name in ("resnet56", "mgic_resnet56")}
    kinds = ["Conv2D", "FusedBatchNormV3", "Relu", "AddV2", "Sub"]
    rows = [
        (kind, counts["resnet56"].get(kind, 0), counts["mgic_resnet56"].get(kind, 0))
        for kind in kinds
    ]
    rows.append(
        ("all ops", sum(counts["resnet56"].values()), sum(counts["mgic_resnet56"].values()))
    )
    return markdown_table(["op", "ResNet-56", "MGIC-ResNet-56 (8/16)"], rows), counts


def main(argv=None):
    parser = bench.parser(__doc__, quick="2 rounds of 2 calls", rounds=15, repeat=5)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args(argv)
    rounds, repeat = (2, 2) if args.quick else (args.rounds, args.repeat)
    env = bench.announce()
    shapes = conv_shapes()
    comparison = time_convs(args.batch, shapes, rounds, repeat)
    rows = conv_rows(args.batch, shapes, comparison)
    conv_table = markdown_table(HEADER, rows)
    ops_text, counts = op_table()
    text = summary(args.batch, shapes, comparison)
    print(f"{conv_table}\n\n{ops_text}\n\n{text}")
    if args.write:
        body = "\n\n".join(
            [
                "## Where MGIC-ResNet-56's inference time goes",
                bench.header(comparison, env=env),
                f"Batch {args.batch}; a 3x3 'same' conv, inference; per round the median of "
                f"{repeat} calls of {CHAIN} chained convs, / {CHAIN}; MGIC levels of an "
                f"MGICBlock with group size {GROUP_SIZE}, coarsest size {COARSEST_SIZE}. "
                "`time / dense` is the conv's time over its stage's dense conv, the median of "
                "the per-round ratios (spread in brackets).",
                conv_table,
                text,
                "Ops in the inference graph (`model(x, training=False)` in a `tf.function`; "
                "variable reads and constants not counted):",
                ops_text,
            ]
        )
        write_section("resnet56_convs", body)
    return rows, counts


if __name__ == "__main__":
    main()
