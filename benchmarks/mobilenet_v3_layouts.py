"""MGIC-MobileNetV3 layouts: the readings of the paper's text, counted against Table 4.

Usage: python benchmarks/mobilenet_v3_layouts.py [--write] [--quick] [--latency N]
       [--rounds R]

The paper (Sec. 5.2) says only: "replace the standard MobileNetV3 block with our MGIC block,
configured to s_g = 64, s_c = 64", at widths 0.6 / 1.0 / 1.2, and reports (Table 4) 2.3M /
5.2M / 7.1M parameters and 48M / 145M / 233M FLOPs (multiply-adds). No public code builds
that network (the authors' ``mobilenetv3_MG.py`` in BGUCompSci/MultigridInChannelsCNNs has
a 1x1 stride-1 stem and about 1.0G MACs at 224x224), so every reading this package can build
is counted here, at 224x224 with 1000 classes (``keras_mgic.count_params`` /
``count_flops``), for MGICMobileNetV3Large and -Small at alpha 0.6, 0.75, 1.0 and 1.2, beside
the dense twin built by the same code:

- the coarsening rule: ``"reference"`` (every block restricts at least once) or
  ``"literal"`` (Algorithm 1 read literally: a block narrower than s_c keeps one level);
- s_g / s_c: 64 / 64 (the paper's), 32 / 64, 64 / 128, 32 / 128, 32 / 32, 16 / 64;
- squeeze-excite grouped like the other 1x1 convolutions, or dense;
- ``mgic_min_width``: blocks whose output is narrower stay dense blocks (None, 40, 80).

The hierarchy acts on each block's output width (the width the residual stream carries).
Acting on the expanded width instead would need grouped expand / project convolutions
outside the hierarchy, a block this package does not have; it is not counted.

Choice (the rule of the issue that asked for this table): among the readings whose MACs are
below the dense twin's for Large and Small at every alpha counted, the one with the smallest
summed relative deviation from Table 4 (parameters and MACs, Large at 0.6, 1.0 and 1.2).

``--latency N`` adds the float32 TFLite (XNNPACK, batch 1, 2 threads) latency ratio to the
dense twin for the N best readings and the package's former default, Large at alpha 1.0,
timed in interleaved rounds (``_common.compare``).
"""

import itertools
import pathlib
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _common as bench  # noqa: E402
from _common import markdown_table, tflite_runtime, write_section  # noqa: E402

ALPHAS = (0.6, 0.75, 1.0, 1.2)
#: Table 4 (paper Sec. 5.2): alpha -> (parameters, MACs) of MGIC-MobileNetV3.
TABLE4 = {0.6: (2.3e6, 48e6), 1.0: (5.2e6, 145e6), 1.2: (7.1e6, 233e6)}
ARCHITECTURES = ("large", "small")
COARSENING = ("reference", "literal")
SIZES = ((64, 64), (32, 64), (64, 128), (32, 128), (32, 32), (16, 64))
SQUEEZE_EXCITE = (True, False)
MIN_WIDTHS = (None, 40, 80)
#: The package's default before this table (the reference rule, s_g = s_c = 64).
FORMER_DEFAULT = {
    "coarsening": "reference",
    "group_size": 64,
    "coarsest_size": 64,
    "grouped_squeeze_excite": True,
    "mgic_min_width": None,
}
THREADS = 2


def readings(quick=False):
    """Every reading as the builder's keyword arguments (a dict), the former default first."""
    grid = itertools.product(COARSENING, SIZES, SQUEEZE_EXCITE, MIN_WIDTHS)
    result = []
    for coarsening, (group_size, coarsest_size), grouped, min_width in grid:
        kwargs = {
            "coarsening": coarsening,
            "group_size": group_size,
            "coarsest_size": coarsest_size,
            "grouped_squeeze_excite": grouped,
            "mgic_min_width": min_width,
        }
        result.append(kwargs)
    result.sort(key=lambda kwargs: kwargs != FORMER_DEFAULT)
    if quick:
        plain = [r for r in result if r["mgic_min_width"] is None and r["group_size"] != 16]
        return plain[:: len(plain) // 5][:6]
    return result


def label(kwargs):
    """A short name of a reading: ``literal 32/64 SE dense min 40``."""
    parts = [kwargs["coarsening"], f"{kwargs['group_size']}/{kwargs['coarsest_size']}"]
    parts.append("SE grouped" if kwargs["grouped_squeeze_excite"] else "SE dense")
    if kwargs["mgic_min_width"] is not None:
        parts.append(f"dense below {kwargs['mgic_min_width']}")
    return ", ".join(parts)


def deviation(counts):
    """Summed relative deviation from Table 4: ``counts`` maps alpha to (params, MACs) of
    Large; the sum runs over Table 4's alphas (those counted), parameters and MACs."""
    return sum(
        abs(counts[alpha][0] - params) / params + abs(counts[alpha][1] - macs) / macs
        for alpha, (params, macs) in TABLE4.items()
        if alpha in counts
    )


def below_dense(row, dense):
    """Whether a reading's MACs are below the dense twin's for every architecture and alpha
    (``row`` and ``dense`` map ``(architecture, alpha)`` to (params, MACs))."""
    return all(row[key][1] < dense[key][1] for key in dense)


def choose(rows, dense):
    """The index of the chosen reading: among those ``below_dense``, the smallest
    ``deviation`` of Large; None when no reading is below dense."""
    eligible = [i for i, row in enumerate(rows) if below_dense(row, dense)]
    if not eligible:
        return None
    return min(eligible, key=lambda i: deviation(_large(rows[i])))


def _large(row):
    return {alpha: counts for (arch, alpha), counts in row.items() if arch == "large"}


def _build(architecture, mgic, alpha, kwargs):
    from keras_mgic.models import mobilenet_v3

    return mobilenet_v3.build_mobilenet_v3(
        architecture,
        mgic=mgic,
        input_shape=(224, 224, 3),
        alpha=alpha,
        classifier_activation=None,
        **kwargs,
    )


def count(architecture, mgic, alpha, kwargs):
    """(parameters, MACs) at 224x224, 1000 classes."""
    import keras

    from keras_mgic import profiling

    model = _build(architecture, mgic, alpha, kwargs)
    result = (profiling.count_params(model), profiling.count_flops(model))
    del model
    keras.backend.clear_session()
    return result


def measure(all_readings, alphas=ALPHAS):
    """``(dense, rows)``: each maps ``(architecture, alpha)`` to (params, MACs)."""
    dense = {(a, w): count(a, False, w, {}) for a in ARCHITECTURES for w in alphas}
    rows = []
    for index, kwargs in enumerate(all_readings):
        rows.append({(a, w): count(a, True, w, kwargs) for a in ARCHITECTURES for w in alphas})
        print(f"{index + 1}/{len(all_readings)} {label(kwargs)}", flush=True)
    return dense, rows


def _m(n):
    return f"{n / 1e6:.2f}M" if n < 1e8 else f"{n / 1e6:.0f}M"


def _cell(counts, dense):
    params, macs = counts
    return f"{params / 1e6:.2f}M / {macs / 1e6:.0f}M ({macs / dense[1]:.2f})"


def layouts_table(all_readings, dense, rows, chosen, latency=None):
    """Large at every alpha (MACs over dense in brackets), the deviation from Table 4 and
    whether the reading is below dense everywhere (Small included); sorted by deviation."""
    alphas = sorted({alpha for _, alpha in dense})
    header = ["reading", *(f"Large {w}" for w in alphas), "Δ Table 4", "below dense"]
    if latency:
        header.append("TFLite / dense (Large 1.0)")
    order = sorted(range(len(rows)), key=lambda i: deviation(_large(rows[i])))
    cells = [
        ("Table 4 (paper)", *(_table4(w) for w in alphas), "0", "–", *(["–"] if latency else [])),
        (
            "dense MobileNetV3-Large",
            *(f"{_m(dense['large', w][0])} / {_m(dense['large', w][1])}" for w in alphas),
            f"{deviation(_large(dense)):.2f}",
            "–",
            *(["1"] if latency else []),
        ),
    ]
    for i in order:
        name = label(all_readings[i])
        if i == chosen:
            name = f"**{name} (default)**"
        elif all_readings[i] == FORMER_DEFAULT:
            name += " (former default)"
        row = [name, *(_cell(rows[i]["large", w], dense["large", w]) for w in alphas)]
        row += [f"{deviation(_large(rows[i])):.2f}", "yes" if below_dense(rows[i], dense) else "no"]
        if latency:
            row.append(latency.get(i, ""))
        cells.append(row)
    return markdown_table(header, cells)


def _table4(alpha):
    if alpha not in TABLE4:
        return "–"
    params, macs = TABLE4[alpha]
    return f"{params / 1e6:.1f}M / {macs / 1e6:.0f}M"


def small_table(all_readings, dense, rows, indices):
    """MobileNetV3-Small for the readings at ``indices``, beside the dense twin."""
    alphas = sorted({alpha for _, alpha in dense})
    cells = [
        ("dense MobileNetV3-Small", *(f"{_m(dense['small', w][0])} / "
                                      f"{_m(dense['small', w][1])}" for w in alphas))
    ]  # fmt: skip
    for i in indices:
        small = [_cell(rows[i]["small", w], dense["small", w]) for w in alphas]
        cells.append((label(all_readings[i]), *small))
    return markdown_table(["reading", *(f"Small {w}" for w in alphas)], cells)


def tflite_ratios(all_readings, indices, rounds):
    """``(comparison, {index: "0.91 (0.88-0.95, R rounds)"})``: float32 TFLite latency of
    Large 1.0 for each reading at ``indices`` over the dense twin's, interleaved."""
    from tflite_latency import _invoker

    from keras_mgic import export

    invokers = {}
    with tempfile.TemporaryDirectory() as tmp:
        for key, mgic, kwargs in [("dense", False, {})] + [
            (i, True, all_readings[i]) for i in indices
        ]:
            path = pathlib.Path(tmp) / f"{key}.tflite"
            export.to_tflite(_build("large", mgic, 1.0, kwargs), path)
            invokers[key] = _invoker(path, THREADS, 224)
            print(f"converted {key}", flush=True)
        comparison = bench.compare(invokers, "dense", rounds=rounds, repeat=10, warmup=3)
    return comparison, {i: comparison.describe(i) for i in indices}


def _summary(all_readings, dense, rows, chosen):
    if chosen is None:
        return "No reading has fewer MACs than the dense twin at every width."
    large = _large(rows[chosen])
    lines = [f"Default: **{label(all_readings[chosen])}**. Large against Table 4 and dense:", ""]
    for alpha in sorted(large):
        params, macs = large[alpha]
        paper = (
            f"Table 4 {TABLE4[alpha][0] / 1e6:.1f}M / {TABLE4[alpha][1] / 1e6:.0f}M, "
            if alpha in TABLE4
            else ""
        )
        lines.append(
            f"- alpha {alpha}: {params / 1e6:.2f}M / {macs / 1e6:.0f}M ({paper}dense "
            f"{dense['large', alpha][0] / 1e6:.2f}M / {dense['large', alpha][1] / 1e6:.0f}M, "
            f"MACs {macs / dense['large', alpha][1]:.2f} of dense)"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = bench.parser(__doc__, quick="six readings, two alphas")
    parser.add_argument("--latency", type=int, default=0, help="time the N best readings")
    parser.add_argument("--rounds", type=int, default=15, help="TFLite rounds")
    args = parser.parse_args(argv)
    env = bench.announce()
    all_readings = readings(args.quick)
    dense, rows = measure(all_readings, (0.6, 1.0) if args.quick else ALPHAS)
    chosen = choose(rows, dense)
    latency, comparison = None, None
    if args.latency:
        eligible = [i for i, row in enumerate(rows) if below_dense(row, dense)]
        best = sorted(eligible, key=lambda i: deviation(_large(rows[i])))[: args.latency]
        indices = sorted({*best, all_readings.index(FORMER_DEFAULT)})
        comparison, latency = tflite_ratios(all_readings, indices, args.rounds)
    table = layouts_table(all_readings, dense, rows, chosen, latency)
    shown = sorted(
        [i for i, row in enumerate(rows) if below_dense(row, dense)],
        key=lambda i: deviation(_large(rows[i])),
    )[:5]
    small = small_table(all_readings, dense, rows, [all_readings.index(FORMER_DEFAULT), *shown])
    summary = _summary(all_readings, dense, rows, chosen)
    print(table, small, summary, sep="\n\n", flush=True)
    if args.write:
        timing = ""
        if comparison is not None:
            timing = (
                f"\n\nTFLite column: float32, batch 1, {THREADS} threads, {tflite_runtime()} "
                "interpreter with XNNPACK, Large at alpha 1.0, median of the per-round ratios "
                "to the dense twin (spread in brackets); "
                f"{comparison.rounds} interleaved rounds of 10 invokes after 3 warm-up calls, "
                f"load average {comparison.load_before} before, {comparison.load_after} after "
                "(a shared machine: other jobs ran beside it)."
            )
        write_section(
            "mobilenet_v3_layouts",
            "## MGIC-MobileNetV3 layouts against Table 4\n\n"
            f"{bench.header(argv=None, env=env)}\n\n"
            "224x224, 1000 classes, `keras_mgic.count_params` / `count_flops` (multiply-adds). "
            "Cells: parameters / MACs (MACs over the dense twin's). Δ Table 4: summed relative "
            "deviation of parameters and MACs from Table 4 (paper Sec. 5.2) at 0.6, 1.0, 1.2. "
            "Below dense: fewer MACs than the dense twin for Large and Small at every alpha "
            f"counted.{timing}\n\n{table}\n\nMobileNetV3-Small (the former default and the "
            f"five closest readings below dense):\n\n{small}\n\n{summary}",
        )


if __name__ == "__main__":
    main()
