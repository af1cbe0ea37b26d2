"""The MGIC block against the light blocks a user would pick instead, at about equal params.

Usage: python benchmarks/alternatives.py [--write] [--quick] [--rounds N] [--repeat N] [--size S]

One ``MGICBlock(group_size=16, coarsest_size=32)`` (residual per-level block) against, at the
same width (64 to 1024 channels), each block a residual ``act(x + BN(f2(act(BN(f1(x))))))``:

- ``separable``: two ``keras.layers.SeparableConv2D`` 3x3 (depthwise 3x3 + pointwise 1x1 in
  one layer), MobileNet / Xception style;
- ``dw + 1x1``: the same as separate ``DepthwiseConv2D`` 3x3 and 1x1 ``Conv2D`` layers, with
  BatchNorm and ReLU after each (MobileNetV1 style);
- ``shuffle``: two grouped 3x3 ``keras_mgic.layers.GroupedConv2D`` with a channel shuffle
  between them (ShuffleNet style), their groups chosen (a power of two) so that the block's
  parameters come closest to the MGIC block's;
- ``dense``: the dense ResNet basic block (two 3x3 convolutions), the MGIC block's level
  block at full width.

The separable blocks cannot be tuned to the MGIC block's parameters (their count is about
``2 c^2``); the table gives the ratio. Parameters (``keras_mgic.count_params``), MACs
(``keras_mgic.count_flops``) and times are ratios **against the MGIC block** (> 1: the
alternative costs more). A training step is forward, input and weight gradients and an SGD
update, inference the forward pass (``feed_forward.py``'s steps); all blocks of one width and
mode are timed interleaved (``_common.compare``); from 512 channels on, the dense block,
whose one call then takes seconds, is called once per round instead of ``--repeat`` times.
Batch 8 and 16x16 maps by default; each map size (``--size``) has its BENCHMARKS.md section.
"""

import sys

import keras
import numpy as np
import tensorflow as tf

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
import _common as bench  # noqa: E402
from feed_forward import _inference, _train_step  # noqa: E402

from keras_mgic import MGICBlock, count_flops, count_params  # noqa: E402
from keras_mgic.layers import GroupedConv2D, ResidualBlock  # noqa: E402

WIDTHS = (64, 128, 256, 512, 1024)
GROUP_SIZE, COARSEST_SIZE = 16, 32
NAMES = ("mgic", "separable", "dw + 1x1", "shuffle", "dense")


class ChannelShuffle(keras.layers.Layer):
    """ShuffleNet's channel shuffle: ``groups`` groups of channels interleaved."""

    def __init__(self, groups, **kwargs):
        super().__init__(**kwargs)
        self.groups = groups

    def call(self, x):
        _, h, w, c = x.shape
        x = keras.ops.reshape(x, (-1, h, w, self.groups, c // self.groups))
        x = keras.ops.transpose(x, (0, 1, 2, 4, 3))
        return keras.ops.reshape(x, (-1, h, w, c))


def _residual(inputs, first, second, middle=()):
    """``relu(x + BN(second(middle(relu(BN(first(x)))))))``."""
    x = keras.layers.ReLU()(keras.layers.BatchNormalization()(first(inputs)))
    for layer in middle:
        x = layer(x)
    x = keras.layers.BatchNormalization()(second(x))
    return keras.layers.ReLU()(keras.layers.Add()([inputs, x]))


def _dw_pointwise(width):
    """Depthwise 3x3 -> BN -> ReLU -> 1x1 (the BN of ``_residual`` follows)."""
    return keras.Sequential(
        [
            keras.layers.DepthwiseConv2D(3, padding="same", use_bias=False),
            keras.layers.BatchNormalization(),
            keras.layers.ReLU(),
            keras.layers.Conv2D(width, 1, use_bias=False),
        ]
    )


def shuffle_params(width, groups):
    """Trainable parameters (``count_params``) of the shuffle block: two grouped 3x3 kernels
    and the scales and offsets of two BatchNorms."""
    return 2 * 9 * width * width // groups + 2 * 2 * width


def match_groups(width, target):
    """The power-of-two group count (at most ``width``) whose shuffle block's parameters are
    closest to ``target`` (on a log scale)."""
    candidates = [2**k for k in range(int(np.log2(width)) + 1) if width % 2**k == 0]
    return min(candidates, key=lambda g: abs(np.log(shuffle_params(width, g) / target)))


def build_blocks(width, size):
    """``{name: keras.Model}`` of every block at ``width`` channels, ``size x size`` inputs,
    and the shuffle block's group count."""
    inputs = keras.Input((size, size, width))
    models = {"mgic": keras.Model(inputs, MGICBlock(GROUP_SIZE, COARSEST_SIZE)(inputs))}

    def separable():
        return keras.layers.SeparableConv2D(width, 3, padding="same", use_bias=False)

    models["separable"] = keras.Model(inputs, _residual(inputs, separable(), separable()))
    dw = _residual(inputs, _dw_pointwise(width), _dw_pointwise(width))
    models["dw + 1x1"] = keras.Model(inputs, dw)
    groups = match_groups(width, count_params(models["mgic"]))

    def grouped():
        return GroupedConv2D(width, 3, groups=groups, padding="same", use_bias=False)

    shuffled = _residual(inputs, grouped(), grouped(), middle=[ChannelShuffle(groups)])
    models["shuffle"] = keras.Model(inputs, shuffled)
    models["dense"] = keras.Model(inputs, ResidualBlock(width)(inputs))
    return models, groups


def main(argv=None):
    parser = bench.parser(__doc__, quick="widths 16 and 32, 8x8, 2 rounds", rounds=15, repeat=3)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=16)
    parser.add_argument("--widths", type=int, nargs="+", default=list(WIDTHS))
    args = parser.parse_args(argv)
    env = bench.announce()
    widths, size = ((16, 32), 8) if args.quick else (args.widths, args.size)
    rounds, repeat = (2, 1) if args.quick else (args.rounds, args.repeat)
    rows, comparisons = [], {}
    for width in widths:
        models, groups = build_blocks(width, size)
        params = {name: count_params(model) for name, model in models.items()}
        macs = {name: count_flops(model) for name, model in models.items()}
        repeats = {name: 1 if name == "dense" and width >= 512 else repeat for name in NAMES}
        x = tf.random.normal((args.batch, size, size, width))
        times = {}
        for mode, make in (("train", _train_step), ("infer", _inference)):
            fns = {name: make(models[name], x) for name in NAMES}
            times[mode] = bench.compare(fns, "mgic", rounds=rounds, repeat=repeats)
            comparisons[f"{width} {mode}"] = times[mode]
        for name in NAMES:
            label = f"shuffle (g={groups})" if name == "shuffle" else name
            row = [width, label, f"{params[name]:,}", f"{macs[name] / 1e6:.1f}M"]
            if name != "mgic":
                row[2:4] = [
                    f"{row[2]} ({params[name] / params['mgic']:.2f})",
                    f"{row[3]} ({macs[name] / macs['mgic']:.2f})",
                ]
            for mode in ("train", "infer"):
                comparison = times[mode]
                row.append(f"{comparison.median_ms(name):.1f}")
                row.append("1" if name == "mgic" else comparison.describe(name))
            print(row, flush=True)
            rows.append(row)
        keras.backend.clear_session()
    text = report(rows, comparisons, env, args.batch, size, repeat)
    print(text)
    if args.write:
        suffix = "" if size == 16 else f"_{size}x{size}"  # one section per map size
        bench.write_section(bench.section_name(f"alternatives{suffix}"), text)


COLUMNS = (
    "width",
    "block",
    "params (/ MGIC)",
    "MACs (/ MGIC)",
    "train ms",
    "train time / MGIC",
    "infer ms",
    "infer time / MGIC",
)


def report(rows, comparisons, env, batch, size, repeat):
    """The BENCHMARKS.md section: the harness header (with each comparison's load), the
    setting and the table."""
    return (
        f"## The MGIC block against the light alternatives, {size}x{size} maps\n\n"
        f"{bench.header(comparisons, env=env)}\n\n"
        f"Batch {batch}, {size}x{size}, float32, `tf.function`; `MGICBlock(group_size="
        f"{GROUP_SIZE}, coarsest_size={COARSEST_SIZE})`. Ratios are against the MGIC block "
        "(> 1: the alternative costs more); `shuffle (g=G)`: G groups, chosen to match the "
        "MGIC block's parameters. From 512 channels on the dense block was called once per "
        f"round ({repeat} calls for the others).\n\n" + bench.markdown_table(COLUMNS, rows)
    )


if __name__ == "__main__":
    np.random.seed(0)
    main()
