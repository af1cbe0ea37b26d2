"""MGICFeedForward vs the dense transformer feed-forward: training step and inference.

Usage: python benchmarks/feed_forward.py [--write] [--quick] [--rounds N] [--repeat N]

At ViT-S (384 -> 1536 -> 384) and ViT-B (768 -> 3072 -> 768) widths, 197 tokens, batch 8,
TensorFlow CPU: the dense feed-forward ``Dense(4d, gelu) -> Dense(d)`` and
``MGICFeedForward(4d, group_size, coarsest_size)`` for a few ``(group_size, coarsest_size)``
candidates. A training step is the forward pass, the gradients of a scalar loss with
respect to the input and every weight (as in a transformer, whose block below needs the
input gradient) and an SGD update; inference is the forward pass. All variants are timed in
interleaved rounds (``_common.compare``); the ratios are the medians of the per-round ratios
MGIC / dense with their spread. Target: training step at most 0.6x dense at ViT-B
with at most 0.25x its parameters.
"""

import sys

import keras
import numpy as np
import tensorflow as tf

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
import _common as bench  # noqa: E402

from keras_mgic import count_flops, count_params  # noqa: E402
from keras_mgic.layers import MGICFeedForward  # noqa: E402

WIDTHS = {"ViT-S": 384, "ViT-B": 768}
CANDIDATES = ((32, 64), (64, 128))  # (group_size, coarsest_size)
DEFAULTS_NOTE = (
    "The layer's defaults (`group_size=64, coarsest_size=128`) are the 64/128 rows, chosen as"
    " the wider-group setting that meets the target at ViT-B (more parameters per group than "
    "32/64, for accuracy); 32/64 is cheaper and was faster here."
)


def _models(d, tokens, candidates):
    inputs = keras.Input((tokens, d))
    dense = keras.layers.Dense(4 * d, activation="gelu")(inputs)
    models = {"dense": keras.Model(inputs, keras.layers.Dense(d)(dense))}
    for group_size, coarsest_size in candidates:
        layer = MGICFeedForward(4 * d, group_size=group_size, coarsest_size=coarsest_size)
        models[f"mgic {group_size}/{coarsest_size}"] = keras.Model(inputs, layer(inputs))
    return models


def _train_step(model, x):
    optimizer = keras.optimizers.SGD(1e-4)
    optimizer.build(model.trainable_variables)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_mean(tf.square(model(x, training=True)))
        grads = tape.gradient(loss, [x, *model.trainable_variables])
        optimizer.apply_gradients(zip(grads[1:], model.trainable_variables, strict=True))
        return loss, tf.reduce_sum(grads[0])

    return lambda: [t.numpy() for t in step()]


def _inference(model, x):
    @tf.function
    def forward():
        return tf.reduce_sum(model(x, training=False))

    return lambda: forward().numpy()


def main(argv=None):
    parser = bench.parser(__doc__, quick="ViT-S only, 3 rounds", rounds=15, repeat=3)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=197)
    args = parser.parse_args(argv)
    env = bench.announce()
    widths = {"ViT-S": 384} if args.quick else WIDTHS
    rounds = 3 if args.quick else args.rounds
    rows, comparisons = [], {}
    for label, d in widths.items():
        models = _models(d, args.tokens, CANDIDATES)
        x = tf.random.normal((args.batch, args.tokens, d))
        dense_params = count_params(models["dense"])
        dense_macs = count_flops(models["dense"])
        for mode, make in (("training step", _train_step), ("inference", _inference)):
            fns = {name: make(model, x) for name, model in models.items()}
            comparison = bench.compare(fns, "dense", rounds=rounds, repeat=args.repeat)
            comparisons[f"{label} {mode}"] = comparison
            for name, model in models.items():
                if name == "dense":
                    continue
                row = (
                    f"{label} ({d} -> {4 * d})",
                    name,
                    mode,
                    f"{count_params(model) / dense_params:.3f}",
                    f"{count_flops(model) / dense_macs:.3f}",
                    f"{comparison.median_ms('dense'):.1f}",
                    f"{comparison.median_ms(name):.1f}",
                    comparison.describe(name),
                )
                print(row, flush=True)
                rows.append(row)
    header = [
        "width",
        "MGIC (group/coarsest size)",
        "timed",
        "params / dense",
        "MACs / dense",
        "dense ms",
        "MGIC ms",
        "time / dense",
    ]
    table = bench.markdown_table(header, rows)
    print(table)
    print("load average before -> after:", bench.load_averages(comparisons))
    if args.write:
        text = (
            "## MGICFeedForward vs the dense feed-forward\n\n"
            f"{bench.header(comparisons, env=env)}\n\n"
            f"Batch {args.batch}, {args.tokens} tokens, float32, `tf.function`; a training "
            f"step is forward, input and weight gradients and an SGD update.\n\n{table}\n\n"
            "Target: training step at most 0.6x dense at ViT-B with at most 0.25x its "
            "parameters. " + DEFAULTS_NOTE
        )
        bench.write_section(bench.section_name("feed_forward"), text)


if __name__ == "__main__":
    np.random.seed(0)
    main()
