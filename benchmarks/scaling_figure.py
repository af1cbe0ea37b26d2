"""Parameters and MACs of one MGICBlock against a dense block of the same kind, widths 64..2048.

Usage: python benchmarks/scaling_figure.py [--write] [--group-size 16] [--coarsest-size 32]

For each width c (64 to 2048) and each block kind (ResNet basic block, ResNet-50 bottleneck),
builds one dense block (the per-level block at full width, one group) and one MGICBlock of
the same kind, counts trainable parameters and multiply-adds per pixel (a 1x1 input: every
layer of these blocks is a convolution, so the MACs of an h x w map are h * w times these),
prints a table, and plots both on log-log axes to docs/mgic_scaling.png with reference slopes
c (linear, Eq. 8 of the paper) and c^2 (quadratic). ``--write`` also writes the table to the
``scaling`` section of BENCHMARKS.md.
"""

import argparse
import sys

import keras

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
import _common as bench  # noqa: E402
from _common import REPO, markdown_table, write_section  # noqa: E402

from keras_mgic import profiling  # noqa: E402
from keras_mgic.layers import BottleneckBlock, MGICBlock, ResidualBlock  # noqa: E402

WIDTHS = (64, 128, 256, 512, 1024, 2048)
KINDS = {"residual": ResidualBlock, "bottleneck": BottleneckBlock}
FIGURE = REPO / "docs" / "mgic_scaling.png"


def block_costs(layer, width):
    """(params, MACs per pixel) of one block at ``width`` channels."""
    model = keras.Sequential([keras.Input((1, 1, width)), layer])
    costs = profiling.count_params(model), profiling.count_flops(model)
    del model
    keras.backend.clear_session()
    return costs


def measure(group_size, coarsest_size):
    results = {}
    for kind, cls in KINDS.items():
        for width in WIDTHS:
            dense = block_costs(cls(width, groups=1), width)
            mgic = block_costs(MGICBlock(group_size, coarsest_size, block=kind), width)
            results[(kind, width)] = (dense, mgic)
            print(f"{kind:10s} c={width:5d}  dense {dense}  mgic {mgic}", flush=True)
    return results


def table(results):
    rows = []
    for (kind, width), ((dp, dm), (mp, mm)) in results.items():
        rows.append(
            (
                kind,
                width,
                f"{dp:,}",
                f"{mp:,}",
                f"{mp / dp:.3f}",
                f"{dm:,}",
                f"{mm:,}",
                f"{mm / dm:.3f}",
            )
        )
    return markdown_table(
        [
            "block",
            "c",
            "dense params",
            "MGIC params",
            "ratio",
            "dense MACs/pixel",
            "MGIC MACs/pixel",
            "ratio",
        ],
        rows,
    )


def growth_lines(results):
    lines = []
    first, last = WIDTHS[0], WIDTHS[-1]
    for kind in KINDS:
        (dp0, _), (mp0, _) = results[(kind, first)]
        (dp1, _), (mp1, _) = results[(kind, last)]
        lines.append(
            f"- {kind}: from c = {first} to {last} ({last // first}x wider) the dense block's "
            f"parameters grow {dp1 / dp0:.0f}x, the MGIC block's {mp1 / mp0:.1f}x."
        )
    return lines


def plot(results, group_size, coarsest_size, path=FIGURE):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    styles = {"residual": "o", "bottleneck": "s"}
    for axis, index, ylabel in (
        (axes[0], 0, "trainable parameters"),
        (axes[1], 1, "MACs per pixel"),
    ):
        for kind in KINDS:
            dense = [results[(kind, w)][0][index] for w in WIDTHS]
            mgic = [results[(kind, w)][1][index] for w in WIDTHS]
            marker = styles[kind]
            axis.loglog(WIDTHS, dense, marker + "-", color="tab:red", label=f"dense {kind}")
            axis.loglog(WIDTHS, mgic, marker + "-", color="tab:blue", label=f"MGIC {kind}")
        # Reference slopes, drawn a factor 3 below the residual curves so both stay visible.
        base = results[("residual", WIDTHS[0])]
        linear = [base[1][index] / 3 * w / WIDTHS[0] for w in WIDTHS]
        quadratic = [base[0][index] / 3 * (w / WIDTHS[0]) ** 2 for w in WIDTHS]
        axis.loglog(WIDTHS, linear, ":", color="black", label="slope c (linear)")
        axis.loglog(WIDTHS, quadratic, "--", color="black", label="slope c² (quadratic)")
        axis.set_xlabel("channels c")
        axis.set_ylabel(ylabel)
        axis.set_xticks(WIDTHS)
        axis.set_xticklabels([str(w) for w in WIDTHS])
        axis.minorticks_off()
        axis.grid(True, which="major", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(
        f"One block, dense vs MGIC (s_g = {group_size}, s_c = {coarsest_size}): "
        "MGIC grows linearly in the width"
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    bench.savefig_atomically(fig, path, dpi=110)
    plt.close(fig)
    print(f"saved {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    parser.add_argument("--group-size", type=int, default=16)
    parser.add_argument("--coarsest-size", type=int, default=32)
    parser.add_argument("--output", default=str(FIGURE), help="where to save the PNG")
    args = parser.parse_args(argv)
    env = bench.announce()
    results = measure(args.group_size, args.coarsest_size)
    text_table = table(results)
    growth = growth_lines(results)
    print(text_table)
    print("\n".join(growth))
    plot(results, args.group_size, args.coarsest_size, path=__import__("pathlib").Path(args.output))
    if args.write:
        write_section(
            "scaling",
            "\n".join(
                [
                    "## Scaling of one block: parameters and MACs vs width\n",
                    "`python benchmarks/scaling_figure.py --write`: one MGICBlock "
                    f"(s_g = {args.group_size}, s_c = {args.coarsest_size}) against the dense "
                    "block of the same kind at the same width (no timing; counts only). "
                    "MACs per pixel: multiply a block's count by h * w.\n",
                    f"{env}\n",
                    text_table + "\n",
                    "\n".join(growth) + "\n",
                    "![parameters and MACs vs width](docs/mgic_scaling.png)",
                ]
            ),
        )


if __name__ == "__main__":
    main()
