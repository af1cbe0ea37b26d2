"""Target 3: forward+backward time of one MGICBlock vs a dense block as the width grows.

Usage: python benchmarks/block_scaling.py [--write] [--quick]

One MGICBlock (residual per-level block, group size 16, coarsest size 32) against the dense
ResNet basic block of the same width, 128 to 1024 channels, batch 16, 16x16. Prints the
times, the growth from the narrowest width and the MGIC / dense ratio (targets: MGIC grows at
most 12x from 128 to 1024 channels, linear being 8x; at 512 channels MGIC takes at most 0.35x
the dense block's time), and plots both to docs/block_scaling.png.
"""

import sys

import keras
import tensorflow as tf

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
import _common as bench  # noqa: E402
from _common import markdown_table, median_ms, write_section  # noqa: E402

from keras_mgic.layers import MGICBlock, ResidualBlock  # noqa: E402

WIDTHS = (128, 256, 512, 1024)


def step_fn(layer, x):
    layer.build(x.shape)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(layer(x, training=True)))
        grads = tape.gradient(loss, layer.trainable_weights)
        return tf.add_n([tf.reduce_sum(g) for g in grads])

    return lambda: step().numpy()


def main(argv=None):
    parser = bench.parser(__doc__, quick="fewer repeats", write="update BENCHMARKS.md and the plot")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--size", type=int, default=16)
    parser.add_argument("--group-size", type=int, default=16)
    parser.add_argument("--coarsest-size", type=int, default=32)
    args = parser.parse_args(argv)
    env = bench.announce()
    repeat = 3 if args.quick else 7
    results = []
    for width in WIDTHS:
        x = tf.random.normal((args.batch, args.size, args.size, width))
        mgic = MGICBlock(args.group_size, args.coarsest_size)
        dense = ResidualBlock(width)
        t_mgic = median_ms(step_fn(mgic, x), repeat=repeat)
        t_dense = median_ms(step_fn(dense, x), repeat=repeat)
        results.append((width, t_mgic, t_dense, mgic.count_params(), dense.count_params()))
        print(f"width {width}: MGIC {t_mgic:.1f} ms, dense {t_dense:.1f} ms", flush=True)
        keras.backend.clear_session()
    base_mgic, base_dense = results[0][1], results[0][2]
    rows = [
        (
            w,
            f"{tm:.1f}",
            f"{td:.1f}",
            f"{tm / base_mgic:.2f}x",
            f"{td / base_dense:.2f}x",
            f"{tm / td:.2f}",
            f"{pm:,}",
            f"{pd:,}",
        )
        for w, tm, td, pm, pd in results
    ]
    header = [
        "width",
        "MGIC ms",
        "dense ms",
        "MGIC growth",
        "dense growth",
        "MGIC / dense",
        "MGIC params",
        "dense params",
    ]
    table = markdown_table(header, rows)
    print(table)
    if args.write:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        widths = [r[0] for r in results]
        fig, ax = plt.subplots(figsize=(5, 4))
        ax.loglog(widths, [r[1] for r in results], "o-", label="MGICBlock (s_g=16, s_c=32)")
        ax.loglog(widths, [r[2] for r in results], "s-", label="dense basic block")
        ax.set_xlabel("channels")
        ax.set_ylabel("forward + backward time (ms)")
        ax.set_xticks(widths, [str(w) for w in widths])
        ax.set_title(f"batch {args.batch}, {args.size}x{args.size}, CPU")
        ax.legend()
        fig.tight_layout()
        bench.save_figure(fig, "block_scaling.png")
        text = (
            "## One block, width scaling: MGICBlock vs dense basic block\n\n"
            f"`python benchmarks/block_scaling.py {' '.join(sys.argv[1:])}` (batch {args.batch}, "
            f"{args.size}x{args.size}, forward + backward, median; group size "
            f"{args.group_size}, coarsest size {args.coarsest_size}).\n{env}\n\n{table}\n\n"
            "Targets: MGIC growth from 128 to 1024 channels at most 12x (linear is 8x); "
            "MGIC / dense at 512 channels at most 0.35.\n\n![block scaling](docs/block_scaling.png)"
        )
        write_section("block_scaling", text)


if __name__ == "__main__":
    main()
