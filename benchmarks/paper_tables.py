"""The paper's parameter and FLOP tables (Tables 2, 3, 4, 7, 8) rebuilt with keras_mgic.

Usage: python benchmarks/paper_tables.py [--write] [--no-what-if]

Builds every row of DESIGN §6 (ResNet-56 rows at 32x32, ResNet-50 rows at 224x224, MobileNetV3
rows at 224x224 once ``keras_mgic.models.mobilenet_v3`` provides them), counts trainable
parameters and multiply-adds (``keras_mgic.profiling``; the paper's "FLOPs" are MACs) and
prints ours next to the paper's numbers with the deviation of each. A second table rebuilds
the MGIC rows under three readings of the coarsening rule (the package's, Algorithm 1 read
literally, and the paper's reference code), swapping the rule in for the duration of the build
only. ``--write`` replaces the ``paper_tables`` section of BENCHMARKS.md.
"""

import argparse
import contextlib
import dataclasses
import sys

import keras

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from _common import environment, markdown_table, write_section  # noqa: E402

from keras_mgic import profiling  # noqa: E402


@dataclasses.dataclass
class Row:
    label: str
    model: str
    kwargs: dict
    size: int
    paper_params: float  # millions
    paper_macs: float  # millions
    source: str
    params_tol: float | None = None  # target: relative deviation, None = trend only
    macs_tol: float | None = None
    note: str = ""


def _mgic56(sg, sc, params, macs, source, params_tol=None, macs_tol=None, note=""):
    return Row(
        "MGIC-ResNet-56",
        "mgic_resnet56",
        {"group_size": sg, "coarsest_size": sc},
        32,
        params,
        macs,
        source,
        params_tol,
        macs_tol,
        note,
    )


def _mgic50(sg, params, macs):
    return Row(
        "MGIC-ResNet-50",
        "mgic_resnet50",
        {"group_size": sg, "coarsest_size": 64},
        224,
        params,
        macs,
        "Table 3",
        0.15,
        0.15,
        "c",
    )


def _mobilenet(label, model, width, params, macs, mgic):
    kwargs = {"width_multiplier": width}
    if mgic:
        kwargs.update(group_size=64, coarsest_size=64)
    return Row(label, model, kwargs, 224, params, macs, "Table 4", note="d")


#: DESIGN §6, row by row. Targets: ±10% where one consistent reading can reproduce the row
#: (dense ResNet-56, the s_g = 16 parameter counts, the (8, 16) MACs), ±15% on ResNet-50
#: rows, trends elsewhere.
ROWS = [
    Row("ResNet-56", "resnet56", {}, 32, 0.85, 125, "Table 2", 0.10, 0.10),
    _mgic56(8, 16, 0.41, 60, "Tables 2, 8", macs_tol=0.10, note="a"),
    _mgic56(4, 16, 0.29, 45, "Table 8", note="a"),
    _mgic56(16, 16, 0.53, 85, "Table 8", params_tol=0.10, note="b"),
    _mgic56(16, 16, 0.47, 65, "Table 7", note="b"),
    _mgic56(32, 16, 0.79, 100, "Table 8", note="a"),
    _mgic56(16, 32, 0.50, 76, "Table 7", params_tol=0.10, note="b"),
    _mgic56(16, 64, 0.53, 91, "Table 7", params_tol=0.10, note="b"),
    Row("ResNet-50", "resnet50", {}, 224, 25.6, 4100, "Table 3", 0.15, 0.15),
    _mgic50(16, 6.2, 1000),
    _mgic50(32, 9.4, 1600),
    _mgic50(64, 15.1, 2500),
    _mobilenet("MobileNetV3-Large 0.75x", "mobilenet_v3_large", 0.75, 4.0, 155, False),
    _mobilenet("MobileNetV3-Large 1.0x", "mobilenet_v3_large", 1.0, 5.4, 219, False),
    _mobilenet("MGIC-MobileNetV3 0.6x", "mgic_mobilenet_v3_large", 0.6, 2.3, 48, True),
    _mobilenet("MGIC-MobileNetV3 1.0x", "mgic_mobilenet_v3_large", 1.0, 5.2, 145, True),
    _mobilenet("MGIC-MobileNetV3 1.2x", "mgic_mobilenet_v3_large", 1.2, 7.1, 233, True),
]


# ------------------------------------------------------------------ readings of the hierarchy


def rule_package(channels, coarsest_size):
    """The package's rule at the time of the run (``channel_hierarchy.level_widths``)."""
    from keras_mgic.layers.channel_hierarchy import level_widths

    return level_widths(channels, coarsest_size)


def rule_algorithm1(channels, coarsest_size):
    """Algorithm 1 read literally: ``n = floor(log2(c / s_c))`` and restrictions
    ``j = 0 .. n`` (``n + 1`` of them; none when ``c < s_c``): halve while the current width
    is at least ``s_c``, so the coarsest width lies in ``[s_c / 2, s_c)``."""
    widths = [channels]
    while widths[-1] % 2 == 0 and widths[-1] >= coarsest_size:
        widths.append(widths[-1] // 2)
    return widths


def rule_reference(channels, coarsest_size):
    """The paper's reference code (``genTensor4CycleDwGroup``): restrict at least once, then
    keep halving while the current width is at least ``s_c``."""
    widths = [channels]
    while widths[-1] % 2 == 0 and (len(widths) == 1 or widths[-1] >= coarsest_size):
        widths.append(widths[-1] // 2)
    return widths


RULES = {
    "package": rule_package,
    "Algorithm 1": rule_algorithm1,
    "reference code": rule_reference,
}


def package_rule_name():
    """Which reading the package's rule is, judged on power-of-two widths."""
    probes = [(c, s) for c in (8, 16, 32, 64, 128, 256) for s in (4, 8, 16, 32, 64)]
    for name in ("Algorithm 1", "reference code"):
        if all(rule_package(c, s) == RULES[name](c, s) for c, s in probes):
            return name
    if all(rule_package(c, s) == rule_algorithm1(c, 2 * s) for c, s in probes):
        return "halve while c/2 >= s_c (coarsest width in [s_c, 2 s_c))"
    return "custom"


@contextlib.contextmanager
def coarsening_rule(rule):
    """Temporarily makes ``MGICBlock`` build its levels with ``rule`` (what-if analysis)."""
    from keras_mgic.layers import mgic_block

    saved = mgic_block.level_widths
    mgic_block.level_widths = rule
    try:
        yield
    finally:
        mgic_block.level_widths = saved


# ------------------------------------------------------------------------------- measuring


_CACHE = {}


def measure(row, rule_name="package"):
    """(params, macs) of the row's model, or None when its builder is not available."""
    from keras_mgic import models

    key = (rule_name, row.model, tuple(sorted(row.kwargs.items())), row.size)
    if key in _CACHE:
        return _CACHE[key]
    print(f"building {row.label} {row.kwargs} at {row.size}x{row.size} ({rule_name})", flush=True)
    builder = models.MODELS[row.model]
    rule = contextlib.nullcontext() if rule_name == "package" else coarsening_rule(RULES[rule_name])
    with rule:
        try:
            model = builder(input_shape=(row.size, row.size, 3), **row.kwargs)
        except NotImplementedError:
            _CACHE[key] = None
            return None
    try:
        _CACHE[key] = profiling.count_params(model), profiling.count_flops(model)
    finally:
        del model
        keras.backend.clear_session()
    return _CACHE[key]


def deviation(ours, paper):
    return ours / paper - 1


def _fmt_params(value):
    return f"{value / 1e6:.3f}M"


def _fmt_macs(value):
    return f"{value / 1e9:.2f}B" if value >= 1e9 else f"{value / 1e6:.1f}M"


def _fmt_paper_macs(millions):
    return f"{millions / 1e3:.1f}B" if millions >= 1e3 else f"{millions:g}M"


def _fmt_dev(value):
    return f"{value:+.1%}"


def _setting(row):
    sg = row.kwargs.get("group_size", "–")
    sc = row.kwargs.get("coarsest_size", "–")
    return sg, sc


def _target(row, dev_params, dev_macs):
    parts, met = [], []
    for what, tol, dev in (
        ("params", row.params_tol, dev_params),
        ("MACs", row.macs_tol, dev_macs),
    ):
        if tol is not None:
            parts.append(f"{what} ±{tol:.0%}")
            met.append(f"{what} " + ("yes" if abs(dev) <= tol else "**no**"))
    if not parts:
        return "trend", ""
    return ", ".join(parts), ", ".join(met)


def main_table(results):
    rows = []
    for row, result in results:
        sg, sc = _setting(row)
        label = row.label + (f" [{row.note}]" if row.note else "")
        if result is None:
            rows.append(
                (
                    label,
                    sg,
                    sc,
                    row.size,
                    "n/a",
                    f"{row.paper_params:g}M",
                    "",
                    "n/a",
                    _fmt_paper_macs(row.paper_macs),
                    "",
                    row.source,
                    "builder not available yet",
                    "",
                )
            )
            continue
        params, macs = result
        dev_p = deviation(params, row.paper_params * 1e6)
        dev_m = deviation(macs, row.paper_macs * 1e6)
        target, met = _target(row, dev_p, dev_m)
        rows.append(
            (
                label,
                sg,
                sc,
                row.size,
                _fmt_params(params),
                f"{row.paper_params:g}M",
                _fmt_dev(dev_p),
                _fmt_macs(macs),
                _fmt_paper_macs(row.paper_macs),
                _fmt_dev(dev_m),
                row.source,
                target,
                met,
            )
        )
    return markdown_table(
        [
            "model",
            "s_g",
            "s_c",
            "input",
            "params (ours)",
            "params (paper)",
            "Δ params",
            "MACs (ours)",
            "MACs (paper)",
            "Δ MACs",
            "paper",
            "target",
            "met",
        ],
        rows,
    )


def _monotone(values):
    return all(a < b for a, b in zip(values[:-1], values[1:], strict=True))


def trend_lines(results):
    """Tables 7 and 8: parameters and MACs grow with s_c (s_g = 16) and with s_g (s_c = 16)."""
    by_setting = {}
    for row, result in results:
        if row.model == "mgic_resnet56" and result is not None:
            by_setting[(row.kwargs["group_size"], row.kwargs["coarsest_size"])] = result
    lines = []
    for table, settings, what in (
        ("Table 7", [(16, 16), (16, 32), (16, 64)], "s_c = 16, 32, 64 (s_g = 16)"),
        ("Table 8", [(4, 16), (8, 16), (16, 16), (32, 16)], "s_g = 4, 8, 16, 32 (s_c = 16)"),
    ):
        if not all(s in by_setting for s in settings):
            continue
        parts = []
        for index, what_name, fmt in ((0, "params", _fmt_params), (1, "MACs", _fmt_macs)):
            values = [by_setting[s][index] for s in settings]
            verdict = "grow" if _monotone(values) else "**do not grow**"
            parts.append(f"{what_name} {', '.join(fmt(v) for v in values)} ({verdict})")
        lines.append(
            f"- {table}, {what}: the paper's params and MACs grow; ours: " + "; ".join(parts) + "."
        )
    return lines


def what_if_table(rule_names):
    """The MGIC ResNet rows under each reading of the coarsening rule."""
    rows = []
    for row in ROWS:
        if row.model not in ("mgic_resnet56", "mgic_resnet50"):
            continue
        sg, sc = _setting(row)
        line = [
            f"{row.label} ({sg}, {sc}), {row.source}",
            f"{row.paper_params:g}M / {_fmt_paper_macs(row.paper_macs)}",
        ]
        for name in rule_names:
            params, macs = measure(row, name)
            line.append(
                f"{_fmt_params(params)} ({_fmt_dev(deviation(params, row.paper_params * 1e6))}) / "
                f"{_fmt_macs(macs)} ({_fmt_dev(deviation(macs, row.paper_macs * 1e6))})"
            )
        rows.append(line)
    return markdown_table(
        ["row (s_g, s_c)", "paper params / MACs"]
        + [f"{name}: params (Δ) / MACs (Δ)" for name in rule_names],
        rows,
    )


NOTES = """\
[a] s_g = 4, 8, 32 with s_c = 16. The paper's parameter counts for s_g = 4 and 8 (0.29M,
0.41M) lie above every reading tried here (0.16M-0.22M and 0.28M-0.31M, see the what-if
table); the fixed parts (stem, transitions, classifier) are only about 2K parameters, so the gap is
in the blocks and no consistent reading closes it while keeping the s_g = 16 rows. The (8, 16)
MACs are reproduced by the paper's own coarsening rule (Algorithm 1 / reference code, +5.9%),
not by a rule whose coarsest width lies in [s_c, 2 s_c) (+26.5%).

[b] s_g = 16. The package's coarsening rule decides these rows (see the what-if table): the
reference code's rule (restrict at least once, then while the width is at least s_c; coarsest
width in [s_c/2, s_c)) gives 0.525M / 0.499M / 0.534M parameters for s_c = 16 / 32 / 64
(paper: 0.53M / 0.50M / 0.53M); a rule whose coarsest width lies in [s_c, 2 s_c) has one
level fewer, so the coarsest, fully coupled block is twice as wide, and with s_c = 64 the
16-, 32- and 64-channel stages do not coarsen at all (the s_c = 64 model is then dense-sized).
The paper's MACs (Table 7: 65M / 76M / 91M) fall with s_c; no reading does that by as much,
and Tables 7 and 8 disagree on the same (16, 16) model (0.47M / 65M vs 0.53M / 85M).

[c] MGIC-ResNet-50. s_g and s_c count bottleneck channels, as in the reference code (see
`keras_mgic.models.resnet.ResNet`); parameters then land within a few percent of Table 3,
while reading them on the 4x wider block output gives about half the parameters. The MACs
stay 25-60% above Table 3 under every reading tried: MGIC removes most parameters in the wide,
low-resolution stages, while the 56x56 stage (256 channels, 64 bottleneck channels) keeps most
of its cost, so MACs shrink less than parameters (ours: 210-270 MACs per parameter against
160 for the dense ResNet-50). The paper's MGIC-ResNet-50 rows keep the dense model's ratio
(160-170 MACs per parameter in all four rows of Table 3), which no per-layer count of these
architectures gives; the paper does not say how it counted FLOPs.

[d] MobileNetV3 rows are built by `keras_mgic.models.mobilenet_v3` and reported as they are;
their reading is documented there.
"""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    parser.add_argument(
        "--no-what-if", action="store_true", help="skip the table of coarsening readings"
    )
    args = parser.parse_args(argv)
    env = environment()
    print(env)
    results = []
    for row in ROWS:
        results.append((row, measure(row)))
    table = main_table(results)
    trends = trend_lines(results)
    print(table)
    print("\n".join(trends))
    current = package_rule_name()
    what_if = ""
    if not args.no_what_if:
        names = ["package"] + [n for n in ("Algorithm 1", "reference code") if n != current]
        what_if = what_if_table(names)
        print(what_if)
    text = [
        "## Paper tables: parameters and FLOPs\n",
        "`python benchmarks/paper_tables.py --write`. Parameters are trainable parameters; "
        "MACs are the multiply-adds of one image (32x32 for ResNet-56, 224x224 otherwise), "
        "which is what the paper calls FLOPs (`keras_mgic.profiling.count_flops`: "
        "convolutions, Dense and the MGIC transfers; no BatchNorm, bias or activation). "
        "Δ is ours over the paper's, minus one.\n",
        f"{env}\n",
        table + "\n",
        f"The package's MGICBlock coarsens with the rule: **{current}**.\n",
        "Trends:\n",
        "\n".join(trends) + "\n",
        NOTES,
    ]
    if what_if:
        text += [
            "### What the coarsening rule decides\n",
            "The MGIC rows rebuilt with the package's rule and with the other readings of the "
            "paper (the rule swapped in for the build only; `rule_*` in the script):\n",
            what_if + "\n",
        ]
    if args.write:
        write_section("paper_tables", "\n".join(text))


if __name__ == "__main__":
    main()
