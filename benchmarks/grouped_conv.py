"""Target 1: GroupedConv2D vs keras.layers.Conv2D(groups=...) training step, same weights.

Usage: python benchmarks/grouped_conv.py [--write] [--quick] [--rounds 15] [--repeat 5]

Times one forward+backward step (input and kernel gradients) of each layer on the same
input and weights for 3x3 and 1x1 kernels, 64 to 1024 channels and group sizes 8 to 64, the
layers alternating over interleaved rounds after warm-up (``_common.compare``; Keras's layer,
far the slowest, runs one call a round, the others ``--repeat``), and prints the median times
and ``GroupedConv2D / Conv2D``, the median of the per-round ratios with their spread (target:
at most 0.2). The 1x1 lowering (native grouped conv vs reshape + batched matmul) was chosen
by measurement; the script also times the batched-matmul lowering for 1x1 kernels in the same
rounds, with ``batched matmul / GroupedConv2D``, so the choice stays checked. ``--quick``:
64 channels at 3x3 and 1x1, 2 rounds of 2 calls (under a minute on 2 cores); the default run
takes about 5 minutes on 2 idle cores, most of it Keras's layer at 512 and 1024 channels.
"""

import sys

import keras
import numpy as np
import tensorflow as tf

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
import _common as bench  # noqa: E402
from _common import markdown_table, write_section  # noqa: E402

from keras_mgic.layers import GroupedConv2D  # noqa: E402

CASES = [
    (3, 64, 8),
    (3, 256, 16),
    (3, 512, 32),
    (3, 1024, 64),
    (1, 64, 8),
    (1, 256, 16),
    (1, 512, 32),
    (1, 1024, 64),
]
QUICK_CASES = [(3, 64, 8), (1, 64, 8)]
HEADER = [
    "kernel",
    "channels",
    "group size",
    "Conv2D(groups) ms",
    "GroupedConv2D ms",
    "batched matmul ms",
    "ratio",
    "batched matmul / GroupedConv2D",
]


def _train_step(layer, x):
    @tf.function
    def step():
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(tf.square(layer(x)))
        grads = tape.gradient(loss, [x, layer.kernel])
        return [tf.reduce_sum(g) for g in grads]

    return lambda: [t.numpy() for t in step()]


def _matmul_step(kernel, x, groups):
    batch, height, width, channels = x.shape
    size = channels // groups
    filters = kernel.shape[-1]

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            tape.watch(x)
            xs = tf.reshape(x, (batch, height, width, groups, size))
            ks = tf.transpose(tf.reshape(kernel, (size, groups, filters // groups)), (1, 0, 2))
            y = tf.einsum("nhwgi,gio->nhwgo", xs, ks)
            loss = tf.reduce_sum(tf.square(y))
        grads = tape.gradient(loss, [x, kernel])
        return [tf.reduce_sum(g) for g in grads]

    return lambda: [t.numpy() for t in step()]


def case_fns(kernel_size, channels, group_size, batch, size):
    """``{"keras": ..., "ours": ..., ["matmul": ...]}`` training steps of one case, on the
    same input and weights (checked to agree)."""
    groups = channels // group_size
    x = tf.random.normal((batch, size, size, channels))
    ours = GroupedConv2D(channels, kernel_size, padding="same", groups=groups, use_bias=False)
    keras_conv = keras.layers.Conv2D(
        channels, kernel_size, padding="same", groups=groups, use_bias=False
    )
    ours.build(x.shape)
    keras_conv.build(x.shape)
    keras_conv.kernel.assign(ours.kernel)
    np.testing.assert_allclose(ours(x), keras_conv(x), rtol=1e-4, atol=1e-3)
    fns = {"keras": _train_step(keras_conv, x), "ours": _train_step(ours, x)}
    if kernel_size == 1:
        fns["matmul"] = _matmul_step(ours.kernel, x, groups)
    return fns


def case_row(kernel_size, channels, group_size, comparison):
    """Median ms of each step, GroupedConv2D / Conv2D and, for 1x1, batched matmul /
    GroupedConv2D (medians of the per-round ratios, with their spread)."""
    has_matmul = "matmul" in comparison.ms
    return (
        f"{kernel_size}x{kernel_size}",
        channels,
        group_size,
        f"{comparison.median_ms('keras'):.2f}",
        f"{comparison.median_ms('ours'):.2f}",
        f"{comparison.median_ms('matmul'):.2f}" if has_matmul else "-",
        comparison.describe("ours", digits=3),
        comparison.against("ours").describe("matmul") if has_matmul else "-",
    )


def main(argv=None):
    parser = bench.parser(
        __doc__, quick="two 64-channel cases, 2 rounds of 2 calls", rounds=15, repeat=5
    )
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=16)
    args = parser.parse_args(argv)
    env = bench.announce()
    cases, rounds, repeat = (QUICK_CASES, 2, 2) if args.quick else (CASES, args.rounds, args.repeat)
    rows, timed = [], {}
    for case in cases:
        fns = case_fns(*case, args.batch, args.size)
        calls = {key: 1 if key == "keras" else repeat for key in fns}
        comparison = bench.compare(fns, "keras", rounds, calls)
        timed[f"{case[0]}x{case[0]}, {case[1]} channels"] = comparison
        rows.append(case_row(*case, comparison))
        print(rows[-1], flush=True)
    table = markdown_table(HEADER, rows)
    print(table)
    if args.write:
        text = (
            "## GroupedConv2D vs keras.layers.Conv2D(groups=...): training step\n\n"
            f"{bench.header(timed, env=env)}\n\n"
            f"Batch {args.batch}, {args.size}x{args.size}, forward + input and kernel "
            f"gradients; per round the median of {repeat} calls (one call of "
            "Conv2D(groups), the slowest). Times are medians over the rounds; ratio is "
            "GroupedConv2D / Conv2D(groups), the median of the per-round ratios (spread in "
            f"brackets).\n\n{table}\n\nTarget: ratio at most 0.2."
        )
        write_section("grouped_conv", text)


if __name__ == "__main__":
    main()
