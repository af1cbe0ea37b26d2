"""Target 1: GroupedConv2D vs keras.layers.Conv2D(groups=...) training step, same weights.

Usage: python benchmarks/grouped_conv.py [--write] [--quick]

Times one forward+backward step (input and kernel gradients) of each layer on the same
input and weights for 3x3 and 1x1 kernels, 64 to 1024 channels and group sizes 8 to 64,
and prints the ratio ``GroupedConv2D / Conv2D`` (target: at most 0.2). The 1x1 lowering
(native grouped conv vs reshape + batched matmul) was chosen by measurement; the script
also times the batched-matmul lowering for 1x1 kernels so the choice stays checked.
"""

import sys

import keras
import numpy as np
import tensorflow as tf

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
import _common as bench  # noqa: E402
from _common import markdown_table, median_ms, write_section  # noqa: E402

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


def main(argv=None):
    parser = bench.parser(__doc__, quick="fewer cases and repeats")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=16)
    args = parser.parse_args(argv)
    env = bench.announce()
    cases = CASES[::2] if args.quick else CASES
    repeat = 3 if args.quick else 7
    rows = []
    for kernel_size, channels, group_size in cases:
        groups = channels // group_size
        x = tf.random.normal((args.batch, args.size, args.size, channels))
        ours = GroupedConv2D(channels, kernel_size, padding="same", groups=groups, use_bias=False)
        keras_conv = keras.layers.Conv2D(
            channels, kernel_size, padding="same", groups=groups, use_bias=False
        )
        ours.build(x.shape)
        keras_conv.build(x.shape)
        keras_conv.kernel.assign(ours.kernel)
        np.testing.assert_allclose(ours(x), keras_conv(x), rtol=1e-4, atol=1e-3)
        t_ours = median_ms(_train_step(ours, x), repeat=repeat)
        t_keras = median_ms(_train_step(keras_conv, x), repeat=max(2, repeat // 2), warmup=1)
        t_matmul = (
            f"{median_ms(_matmul_step(ours.kernel, x, groups), repeat=repeat):.2f}"
            if kernel_size == 1
            else "-"
        )
        row = (
            f"{kernel_size}x{kernel_size}",
            channels,
            group_size,
            f"{t_keras:.2f}",
            f"{t_ours:.2f}",
            t_matmul,
            f"{t_ours / t_keras:.3f}",
        )
        print(row, flush=True)
        rows.append(row)
    header = [
        "kernel",
        "channels",
        "group size",
        "Conv2D(groups) ms",
        "GroupedConv2D ms",
        "batched matmul ms",
        "ratio",
    ]
    table = markdown_table(header, rows)
    print(table)
    if args.write:
        text = (
            "## GroupedConv2D vs keras.layers.Conv2D(groups=...): training step\n\n"
            f"`python benchmarks/grouped_conv.py {' '.join(sys.argv[1:])}` (batch {args.batch}, "
            f"{args.size}x{args.size}, forward + input and kernel gradients, median).\n"
            f"{env}\n\n{table}\n\nTarget: ratio at most 0.2."
        )
        write_section("grouped_conv", text)


if __name__ == "__main__":
    main()
