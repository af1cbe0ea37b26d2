"""Where MGIC-WRN-28-10's TensorFlow time goes: one block per stage, and grouped-conv lowerings.

Usage: python benchmarks/wide_resnet_stages.py [--write] [--quick] [--batch 32] [--rounds 15]
       [--repeat 3]

Explains the whole-model ratios of ``benchmarks/wide_resnet.py``. Per stage of WRN-28-10
(32x32x160, 16x16x320, 8x8x640 at batch 32) it times one ``MGICBlock`` of pre-activation
blocks (group size 16, coarsest size 32) against one dense ``PreActResidualBlock``: inference
(``training=False``) and forward + backward (input and weight gradients), each in a
``tf.function``, alternating over rounds (``_common.compare``; each ratio is the median of
the per-round ratios, with their spread). The stages of a Wide ResNet cost the same dense
MACs, so the mean of the three ratios is what a whole-MGIC network can reach.

Then, for the grouped 3x3 convolutions of those levels (16 channels per group), it times
lowerings of one grouped convolution: ``native`` (``keras_mgic.ops.grouped_conv2d``: one
grouped ``Conv2D``, with TensorFlow's gradients under oneDNN, else the portable ones), ``split``
(per-group dense convolutions and a concat), ``patches`` (``extract_patches`` and a batched
matmul) and ``taps`` (nine shifted slices times a grouped ``einsum``), and the dense 3x3
convolution of the same width; forward times are per convolution over a chain of five.
"""

import pathlib
import statistics
import sys

import keras
import numpy as np
import tensorflow as tf

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _common as bench  # noqa: E402
from _common import (  # noqa: E402
    markdown_table,
    section_name,
    write_section,
)

from keras_mgic import ops  # noqa: E402
from keras_mgic.layers import MGICBlock, PreActResidualBlock  # noqa: E402

STAGES = [(32, 160), (16, 320), (8, 640)]  # (image size, width) of WRN-28-10's stages
LOWERING_CASES = [(32, 160), (32, 80), (16, 320), (16, 160), (8, 640), (8, 320)]
GROUP_SIZE, COARSEST_SIZE, CHAIN = 16, 32, 5
MODES = ("infer", "train")
TITLE = "Wide ResNet stages: where MGIC-WRN-28-10's TensorFlow time goes"


def _random(shape, scale=1.0, seed=0):
    return tf.constant(np.random.default_rng(seed).normal(size=shape).astype("float32") * scale)


def _model_fns(model, x):
    infer = tf.function(lambda: model(x, training=False))

    @tf.function
    def train():
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(model(x, training=True))
        return tape.gradient(loss, [x, *model.trainable_variables])

    return (lambda: infer().numpy()), (lambda: train()[0].numpy())


def stage_rows(batch, rounds, repeat):
    """``(stage, MGIC level widths, Comparison)`` per stage; the comparison's keys are
    ``(model, mode)``, its baseline the dense block's inference."""
    rows = []
    for size, width in STAGES:
        x = _random((batch, size, size, width))
        blocks = {
            "mgic": MGICBlock(GROUP_SIZE, COARSEST_SIZE, block="preact_residual"),
            "dense": PreActResidualBlock(width),
        }
        fns = {}
        for key, block in blocks.items():
            inputs = keras.Input((size, size, width))
            fns[key, "infer"], fns[key, "train"] = _model_fns(keras.Model(inputs, block(inputs)), x)
        comparison = bench.compare(fns, ("dense", "infer"), rounds, repeat)
        rows.append((f"{size}x{size}x{width}", blocks["mgic"].widths, comparison))
        print(rows[-1][:2], *(_ratios(comparison, m).describe(("mgic", m)) for m in MODES))
    return rows


def _ratios(comparison, mode):
    """The stage's comparison against the dense block in ``mode``."""
    return comparison.against(("dense", mode))


def stage_table(rows):
    """MGIC / dense per stage and mode (median of the per-round ratios, with the spread), and
    the mean of the medians over the stages."""
    cells = [
        (stage, widths, *(_ratios(c, m).describe(("mgic", m)) for m in MODES))
        for stage, widths, c in rows
    ]
    means = [statistics.mean(_ratios(c, m).ratio(("mgic", m)) for *_, c in rows) for m in MODES]
    cells.append(("mean (equal dense cost per stage)", "", *(f"{x:.2f}" for x in means)))
    header = ["stage (HxWxC)", "MGIC level widths", "inference MGIC / dense", "train MGIC / dense"]
    return markdown_table(header, cells)


def native(x, w):
    """What ``keras_mgic`` runs: TensorFlow's grouped ``Conv2D`` (gradients from the portable
    lowering when TensorFlow runs without oneDNN, which has no grouped gradients)."""
    return ops.grouped_conv2d(x, w, padding="same")


def split(x, w):
    groups = x.shape[-1] // w.shape[2]
    pieces = zip(tf.split(x, groups, -1), tf.split(w, groups, -1), strict=True)
    return tf.concat([tf.nn.conv2d(a, b, 1, "SAME") for a, b in pieces], -1)


def patches(x, w):
    kh, kw, c, f = w.shape
    groups, (n, h, wd, _) = x.shape[-1] // c, x.shape
    p = tf.image.extract_patches(x, [1, kh, kw, 1], [1, 1, 1, 1], [1, 1, 1, 1], "SAME")
    p = tf.transpose(tf.reshape(p, (n * h * wd, kh * kw, groups, c)), (2, 0, 1, 3))
    p = tf.reshape(p, (groups, n * h * wd, kh * kw * c))
    k = tf.transpose(tf.reshape(w, (kh * kw, c, groups, f // groups)), (2, 0, 1, 3))
    y = tf.matmul(p, tf.reshape(k, (groups, kh * kw * c, f // groups)))
    return tf.reshape(tf.transpose(y, (1, 0, 2)), (n, h, wd, f))


def taps(x, w):
    kh, kw, c, f = w.shape
    groups, (n, h, wd, _) = x.shape[-1] // c, x.shape
    padded = tf.pad(x, [[0, 0], [kh // 2] * 2, [kw // 2] * 2, [0, 0]])
    kernel = tf.transpose(tf.reshape(w, (kh, kw, c, groups, f // groups)), (0, 1, 3, 2, 4))
    out = 0.0
    for i in range(kh):
        for j in range(kw):
            tap = tf.reshape(padded[:, i : i + h, j : j + wd, :], (n, h, wd, groups, c))
            out += tf.einsum("nhwgc,gcf->nhwgf", tap, kernel[i, j])
    return tf.reshape(out, (n, h, wd, f))


LOWERINGS = {"native": native, "split": split, "patches": patches, "taps": taps}


def _conv_fns(conv, x, w):
    @tf.function
    def forward():
        y = x
        for _ in range(CHAIN):
            y = conv(y, w)
        return y

    @tf.function
    def train():
        with tf.GradientTape() as tape:
            tape.watch([x, w])
            loss = tf.reduce_sum(conv(x, w))
        return tape.gradient(loss, [x, w])

    return (lambda: forward().numpy()), (lambda: train()[0].numpy())


def lowering_rows(batch, rounds, repeat):
    rows = []
    for size, width in LOWERING_CASES:
        x = _random((batch, size, size, width))
        grouped = _random((3, 3, GROUP_SIZE, width), 0.05, seed=1)
        reference = native(x, grouped).numpy()
        fns = {}
        for name, conv in LOWERINGS.items():
            np.testing.assert_allclose(conv(x, grouped).numpy(), reference, rtol=1e-3, atol=1e-3)
            fns[name, "forward"], fns[name, "train"] = _conv_fns(conv, x, grouped)
        dense = _random((3, 3, width, width), 0.01, seed=2)
        fns["dense", "forward"], fns["dense", "train"] = _conv_fns(native, x, dense)
        comparison = bench.compare(fns, ("dense", "forward"), rounds, repeat)
        names = (*LOWERINGS, "dense")
        forward = [f"{comparison.median_ms((name, 'forward')) / CHAIN:.1f}" for name in names]
        train = [f"{comparison.median_ms((name, 'train')):.1f}" for name in names]
        rows.append((f"{size}x{size}x{width}", width // GROUP_SIZE, *forward, *train))
        print(rows[-1], flush=True)
    return rows


def main(argv=None):
    parser = bench.parser(__doc__, quick="fewer rounds and repeats", rounds=15, repeat=3)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args(argv)
    env = bench.announce()
    rounds, repeat = (1, 2) if args.quick else (args.rounds, args.repeat)
    stages = stage_rows(args.batch, rounds, repeat)
    stages_text = stage_table(stages)
    names = (*LOWERINGS, "dense")
    lowering_table = markdown_table(
        ["input", "groups", *(f"{n} fwd ms" for n in names), *(f"{n} train ms" for n in names)],
        lowering_rows(args.batch, rounds, repeat),
    )
    print(stages_text, "\n\n" + lowering_table)
    if args.write:
        timed = {stage: comparison for stage, _, comparison in stages}
        body = (
            f"## {bench.section_title(TITLE)}\n\n{bench.header(timed, env=env)}\n\n"
            f"Batch {args.batch}; per round the median of {repeat} calls; group size "
            f"{GROUP_SIZE}, coarsest size {COARSEST_SIZE}.\n\n{stages_text}\n\n"
            f"One grouped 3x3 convolution ({GROUP_SIZE} channels per group) by lowering, and "
            "the dense 3x3 convolution of the same width (forward: per convolution, over a "
            f"chain of {CHAIN}; train: input and weight gradients):\n\n{lowering_table}"
        )
        write_section(section_name("wide_resnet_stages"), body)


if __name__ == "__main__":
    main()
