"""Target 3: forward+backward time of one MGICBlock vs a dense block as the width grows.

Usage: python benchmarks/block_scaling.py [--write] [--quick] [--rounds 15] [--repeat 3]

One MGICBlock (residual per-level block, group size 16, coarsest size 32) against the dense
ResNet basic block of the same width, 128 to 1024 channels, batch 16, 16x16. Per width the two
blocks alternate over interleaved rounds after warm-up (``_common.compare``). Prints the median
times, the growth from the narrowest width and MGIC / dense, the median of the per-round
ratios with their spread (targets: MGIC grows at most 12x from 128 to 1024 channels, linear
being 8x; at 512 channels MGIC takes at most 0.35x the dense block's time), and plots both to
docs/block_scaling.png. ``--quick``: 128 and 256 channels, 2 rounds of 2 calls (about a
minute on 2 cores); the default run takes about 2 minutes on 2 idle cores, most of it the
dense block at 1024 channels (about a second a call).
"""

import sys

import keras
import tensorflow as tf

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
import _common as bench  # noqa: E402
from _common import markdown_table, write_section  # noqa: E402

from keras_mgic.layers import MGICBlock, ResidualBlock  # noqa: E402

WIDTHS = (128, 256, 512, 1024)
QUICK_WIDTHS = (128, 256)
HEADER = [
    "width",
    "MGIC ms",
    "dense ms",
    "MGIC growth",
    "dense growth",
    "MGIC / dense",
    "MGIC params",
    "dense params",
]


def step_fn(layer, x):
    layer.build(x.shape)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(layer(x, training=True)))
        grads = tape.gradient(loss, layer.trainable_weights)
        return tf.add_n([tf.reduce_sum(g) for g in grads])

    return lambda: step().numpy()


def measure(widths, args, rounds, repeat):
    """``[(width, Comparison, MGIC params, dense params), ...]``; each comparison times the
    MGIC block (``"mgic"``) against the dense one (``"dense"``, the baseline)."""
    results = []
    for width in widths:
        x = tf.random.normal((args.batch, args.size, args.size, width))
        mgic = MGICBlock(args.group_size, args.coarsest_size)
        dense = ResidualBlock(width)
        fns = {"dense": step_fn(dense, x), "mgic": step_fn(mgic, x)}
        comparison = bench.compare(fns, "dense", rounds, repeat)
        results.append((width, comparison, mgic.count_params(), dense.count_params()))
        print(f"width {width}: MGIC / dense {comparison.describe('mgic')}", flush=True)
        keras.backend.clear_session()
    return results


def scaling_rows(results):
    """Table rows: median ms of both blocks, their growth from the first width, MGIC / dense
    (median of the per-round ratios with their spread) and the parameter counts."""
    first = results[0][1]
    rows = []
    for width, c, mgic_params, dense_params in results:
        rows.append(
            (
                width,
                f"{c.median_ms('mgic'):.1f}",
                f"{c.median_ms('dense'):.1f}",
                f"{c.median_ms('mgic') / first.median_ms('mgic'):.2f}x",
                f"{c.median_ms('dense') / first.median_ms('dense'):.2f}x",
                c.describe("mgic"),
                f"{mgic_params:,}",
                f"{dense_params:,}",
            )
        )
    return rows


def plot(results, args):
    """Both blocks' median times against the width, log-log, to docs/block_scaling.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    widths = [r[0] for r in results]
    fig, ax = plt.subplots(figsize=(5, 4))
    for key, style, label in (
        ("mgic", "o-", "MGICBlock (s_g=16, s_c=32)"),
        ("dense", "s-", "dense basic block"),
    ):
        ax.loglog(widths, [r[1].median_ms(key) for r in results], style, label=label)
    ax.set_xlabel("channels")
    ax.set_ylabel("forward + backward time (ms)")
    ax.set_xticks(widths, [str(w) for w in widths])
    ax.set_title(f"batch {args.batch}, {args.size}x{args.size}, CPU")
    ax.legend()
    fig.tight_layout()
    bench.save_figure(fig, "block_scaling.png")


def main(argv=None):
    parser = bench.parser(
        __doc__,
        quick="two widths, 2 rounds of 2 calls",
        write="update BENCHMARKS.md and the plot",
        rounds=15,
        repeat=3,
    )
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--size", type=int, default=16)
    parser.add_argument("--group-size", type=int, default=16)
    parser.add_argument("--coarsest-size", type=int, default=32)
    args = parser.parse_args(argv)
    env = bench.announce()
    widths, rounds, repeat = (
        (QUICK_WIDTHS, 2, 2) if args.quick else (WIDTHS, args.rounds, args.repeat)
    )
    results = measure(widths, args, rounds, repeat)
    table = markdown_table(HEADER, scaling_rows(results))
    print(table)
    if args.write:
        plot(results, args)
        timed = {f"{width} channels": c for width, c, *_ in results}
        text = (
            "## One block, width scaling: MGICBlock vs dense basic block\n\n"
            f"{bench.header(timed, env=env)}\n\n"
            f"Batch {args.batch}, {args.size}x{args.size}, forward + backward; per round the "
            f"median of {repeat} calls; group size {args.group_size}, coarsest size "
            f"{args.coarsest_size}. Times are the medians over the rounds; MGIC / dense is "
            f"the median of the per-round ratios (spread in brackets).\n\n{table}\n\n"
            "Targets: MGIC growth from 128 to 1024 channels at most 12x (linear is 8x); "
            "MGIC / dense at 512 channels at most 0.35.\n\n![block scaling](docs/block_scaling.png)"
        )
        write_section("block_scaling", text)


if __name__ == "__main__":
    main()
