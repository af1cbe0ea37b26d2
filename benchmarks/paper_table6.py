"""The paper's Table 6 (point-cloud classification, ModelNet-10, 1,024 points, k = 10)
rebuilt with keras_mgic: parameters and MACs of DGCNN, DiffGCN and MGIC-DiffGCN.

Usage: python benchmarks/paper_table6.py [--write] [--time] [--batch 8] [--rounds 15]

Builds the three classifiers of ``keras_mgic.models.point_cloud`` at 1,024 points with the
builders' defaults, counts trainable parameters and multiply-adds
(``keras_mgic.profiling``; the paper's "FLOPs" are MACs) and prints them next to Table 6,
with the deviation, the target (±15% where the papers pin the architecture down: DGCNN) and
the reason beside every remaining gap. A second table lists other readings of the DiffGCN
and MGIC-DiffGCN rows (DiffGCN's terms and convolutions per stage; MGIC's s_g and s_c). The
MACs of the k-NN graphs' distance products (``points^2 * channels`` per graph), which
neither the paper's DGCNN row nor ``count_flops`` counts, are listed apart. ``--time`` adds
the wall-clock time of a training step and of inference (batch ``--batch``), measured side
by side (``_common.compare``; the ratios to DiffGCN are medians of the per-round ratios, with
their spread). ``--write`` replaces the ``paper_table6`` section of BENCHMARKS.md.
"""

import dataclasses
import sys

import keras
import numpy as np

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
import _common as bench  # noqa: E402
from _common import markdown_table, write_section  # noqa: E402

from keras_mgic import models, profiling  # noqa: E402
from keras_mgic.layers import KNNGraph  # noqa: E402

POINTS = 1024


@dataclasses.dataclass
class Row:
    label: str
    model: str
    kwargs: dict
    paper_params: float  # millions
    paper_macs: float  # millions
    tolerance: float | None  # relative target on both, None: not pinned down
    note: str


#: Table 6 with the builders' defaults (DiffGCN and MGIC-DiffGCN pool the points between
#: stages: ``point_pooling="multigrid"``).
ROWS = [
    Row("DGCNN", "dgcnn", {}, 0.16, 125, 0.15, "a"),
    Row("DiffGCN, pooled", "diffgcn", {}, 0.57, 64, 0.25, "b"),
    Row("MGIC-DiffGCN, pooled (s_g 4, s_c 16)", "mgic_diffgcn", {}, 0.11, 13.7, 0.25, "c"),
]

UNPOOLED = {"point_pooling": None}

#: Other readings of the rows the papers leave open.
READINGS = [
    Row("DiffGCN, unpooled", "diffgcn", UNPOOLED, 0.57, 64, None, ""),
    Row("MGIC-DiffGCN, unpooled (s_g 4, s_c 16)", "mgic_diffgcn", UNPOOLED, 0.11, 13.7, None, ""),
    Row(
        "MGIC-DiffGCN, unpooled (s_g 8, s_c 16)",
        "mgic_diffgcn",
        {**UNPOOLED, "group_size": 8},
        0.11,
        13.7,
        None,
        "",
    ),  # fmt: skip
    Row("DiffGCN, pooled, gradient only", "diffgcn", {"terms": ["gradient"]}, 0.57, 64, None, ""),
    Row(
        "DiffGCN, pooled, 2 convs per stage", "diffgcn", {"convs_per_stage": 2}, 0.57, 64, None, ""
    ),  # fmt: skip
    *(
        Row(
            f"MGIC-DiffGCN, pooled (s_g {sg}, s_c {sc})",
            "mgic_diffgcn",
            {"group_size": sg, "coarsest_size": sc},
            0.11,
            13.7,
            None,
            "",
        )
        for sg, sc in ((4, 8), (8, 16), (16, 32), (32, 64))
    ),
]


def build(row):
    return models.get_model(row.model, points=POINTS, **row.kwargs)


def knn_distance_macs(model):
    """MACs of the k-NN graphs' distance products: ``points^2 * channels`` per KNNGraph."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, KNNGraph):
            points, channels = layer.input.shape[1:]
            total += points * points * channels
    return total


def measure(row):
    model = build(row)
    try:
        return {
            "params": profiling.count_params(model),
            "macs": profiling.count_flops(model),
            "knn": knn_distance_macs(model),
        }
    finally:
        del model
        keras.backend.clear_session()


def _dev(ours, paper):
    return ours / paper - 1


def _cells(row, result):
    dev_p = _dev(result["params"], row.paper_params * 1e6)
    dev_m = _dev(result["macs"], row.paper_macs * 1e6)
    if row.tolerance is None:
        target, met = "not pinned down", ""
    else:
        target = f"±{row.tolerance:.0%}"
        met = ", ".join(
            f"{what} " + ("yes" if abs(dev) <= row.tolerance else "**no**")
            for what, dev in (("params", dev_p), ("MACs", dev_m))
        )
    return (
        row.label + (f" [{row.note}]" if row.note else ""),
        f"{result['params'] / 1e6:.3f}M",
        f"{row.paper_params:g}M",
        f"{dev_p:+.1%}",
        f"{result['macs'] / 1e6:.1f}M",
        f"{row.paper_macs:g}M",
        f"{dev_m:+.1%}",
        f"{result['knn'] / 1e6:.0f}M",
        target,
        met,
    )


HEADER = [
    "model",
    *bench.PAPER_COLUMNS,
    "k-NN distance MACs (not counted)",
    "target",
    "met",
]

NOTES = """\
[a] DGCNN (Wang et al. 2019; public code WangYueFt/dgcnn): EdgeConv widths 64, 64, 128, 256
on `cat(x_j - x_i, x_i)`, their concatenation (512) mapped to the embedding, max and average
pooling, two hidden layers, with the embedding and hidden widths 1024, 512, 256 set to 64 as
the paper says. Parameters are 14% below the paper's 0.16M; the paper does not say what makes
up the other 22K. The MACs match when each EdgeConv's linear map is counted once per point
(`W [x_j - x_i, x_i] = A x_j + (B - A) x_i`, which is also how `EdgeConv` computes it);
counted per edge, as DGCNN's code runs it, the four EdgeConvs alone cost 927M at k = 10.

[b] DiffGCN (Eliasof & Treister 2020): the public code (BGUCompSci/DiffGCNs.py, `DiffGCN.py`)
has the layer and a segmentation network but no classification network. The paper's
convolution reads the mass term (the features), the graph gradient and the per-axis graph
Laplacian, `(1 + 3 + 3) * c_in` values per point, which is what `DiffGCNConv` does by
default; one such layer per DGCNN stage gives 0.364M parameters (-36%). (The code's forward
pass returns before it uses the mass and Laplacian terms; that "gradient only" reading has
0.183M parameters, and in a trial on the digit points it learned far more slowly than the
three terms together.) DiffGCN's classification network pools the points between blocks
(the DiffGCN paper's Fig. 1, whose N_i is the number of vertices after the i-th DiffGCN
block; in the public code a pooled `DiffGCNBlock` starts with `mgpool`, a graclus matching
into clusters of at most two points, so each pooling at most halves the points). The
builders' default, `point_pooling="multigrid"`, starts stages 2, 3 and 4 with a
`PointPooling` (exactly N / 2 clusters of two, matched on the previous stage's k-NN graph;
cluster means of features and coordinates), so the stages run on 1,024, 512, 256 and 128
points; each stage's output is carried to the 128 coarsest points (cluster means), where the
512 -> 64 embedding runs. That puts the MACs at the paper's 64M; `point_pooling=None` keeps
every layer on all 1,024 points (358M). The pooling has no weights, so the parameters stay
36% under the paper's: with the DGCNN skeleton's widths one convolution per stage has 0.364M
and two (the `blocks` of the code's `DiffGCNBlock`) overshoot (+75%); the paper gives
neither its DiffGCN's widths nor its depth.

[c] MGIC-DiffGCN: each stage is a `PointTransition` (where the width changes) and an
`MGICBlock` whose levels run `DiffGCNResidualBlock`s (a DiffGCN convolution added to its
input), pooled as [b]. The paper gives neither s_g nor s_c for Table 6; the default, s_g 4
and s_c 16, is the reading that puts both the parameters and the MACs within 25% of the
paper's; (8, 16) matches the parameters (+4%) at 1.8 times the MACs. Its MACs are 0.23 of
our pooled DiffGCN's (the paper: 0.21).

Not counted by `count_flops` (as the paper's DGCNN row does not count them): the k-NN
distance products (listed), `top_k`, the gathers and scatters, and the products of DiffGCN's
gradient and Laplacian (`k * dims * channels` per point and layer, each). On a CPU they
dominate DiffGCN's time, and an MGIC block runs the operators on every level (the level widths
add up to about twice the stage's width), so MGIC-DiffGCN's lower MACs do not make it faster
(`--time`).
"""


def _time(rows, batch, rounds):
    """A training step and inference per row, side by side: a ``Comparison`` of the keys
    ``(label, "train" or "infer")`` against the first row's training step."""
    fns, rng = {}, np.random.default_rng(0)
    x = rng.normal(size=(batch, POINTS, 3)).astype("float32")
    y = rng.integers(0, 10, size=(batch,))
    for row in rows:
        model = models.get_model(row.model, points=POINTS, classifier_activation=None, **row.kwargs)
        model.compile(
            optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        fns[row.label, "train"] = lambda m=model: m.train_on_batch(x, y)
        fns[row.label, "infer"] = lambda m=model: m.predict_on_batch(x)
    return bench.compare(fns, next(iter(fns)), rounds, repeat=2, warmup=1)


def time_table(rows, comparison):
    """Median ms per row and mode, and the ratios to DiffGCN (the second row): medians of
    the per-round ratios, with their spread."""
    base = rows[1].label  # DiffGCN
    modes = ("train", "infer")
    cells = [
        (
            row.label,
            *(f"{comparison.median_ms((row.label, m)):.0f}" for m in modes),
            *(comparison.against((base, m)).describe((row.label, m)) for m in modes),
        )
        for row in rows
    ]
    header = ["model", "train step ms", "inference ms", "train / DiffGCN", "inference / DiffGCN"]
    return markdown_table(header, cells)


def main(argv=None):
    parser = bench.parser(__doc__, quick=None, rounds=15)
    parser.add_argument("--time", action="store_true", help="also time the three models")
    parser.add_argument("--batch", type=int, default=8, help="batch of the timing")
    args = parser.parse_args(argv)
    env = bench.announce()
    table = markdown_table(HEADER, [_cells(row, measure(row)) for row in ROWS])
    print(table)
    readings = markdown_table(HEADER[:-2], [_cells(row, measure(row))[:-2] for row in READINGS])
    print(readings)
    comparison = _time(ROWS, args.batch, args.rounds) if args.time else None
    text = [
        "## Paper Table 6: point-cloud classifiers (ModelNet-10, 1,024 points, k = 10)\n",
        f"{bench.header(comparison, env=env)}\n",
        "Parameters are trainable parameters; MACs are the multiply-adds of one cloud of "
        "1,024 points "
        "(`keras_mgic.profiling.count_flops`: EdgeConv, DiffGCN and the MGIC transfers once "
        "per point, Dense layers; no BatchNorm, bias or activation), which is what the "
        "paper calls FLOPs (`PointPooling` and `PointRestriction`: one MAC per fine point "
        "and channel). Δ is ours over the paper's, minus one.\n",
        table + "\n",
        "Other readings of the rows the papers leave open:\n",
        readings + "\n",
        NOTES,
    ]
    if comparison is not None:
        timing = time_table(ROWS, comparison)
        print(timing)
        text += [
            f"Wall-clock, batch {args.batch} of 1,024 points, TensorFlow on this CPU (per "
            "round the median of 2 calls, after one warm-up call each):\n",
            timing + "\n",
        ]
    if args.write:
        write_section("paper_table6", "\n".join(text))


if __name__ == "__main__":
    main()
