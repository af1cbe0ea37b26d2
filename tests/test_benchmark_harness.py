"""The benchmark harness (benchmarks/_common.py) with fake clocks: rounds, per-round ratios,
their median and spread, the header's fields. No real timing."""

import pathlib
import runpy

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / "_common.py"


@pytest.fixture(scope="module")
def harness():
    return runpy.run_path(str(SCRIPT))


class FakeClock:
    """A clock that each timed function advances by its own cost, round by round."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def function(self, seconds_per_round):
        calls = {"n": 0}
        costs = list(seconds_per_round)

        def fn():
            self.now += costs[min(calls["n"], len(costs) - 1)]
            calls["n"] += 1

        return fn


def test_compare_takes_the_median_of_per_round_ratios(harness):
    clock = FakeClock()
    # warmup=0, repeat=1: call i of each function is round i.
    dense = clock.function([1.0, 2.0, 1.0, 1.0, 4.0])  # a load spike in rounds 2 and 5
    mgic = clock.function([0.5, 1.0, 0.4, 0.6, 2.0])  # the same spikes, hitting both alike
    loads = iter([0.5, 1.5])
    result = harness["compare"](
        {"dense": dense, "mgic": mgic},
        baseline="dense",
        rounds=5,
        repeat=1,
        warmup=0,
        timer=clock,
        load=lambda: next(loads),
    )
    assert result.rounds == 5
    assert result.ratios["mgic"] == pytest.approx([0.5, 0.5, 0.4, 0.6, 0.5])
    assert result.ratio("mgic") == pytest.approx(0.5)
    assert result.spread("mgic") == pytest.approx((0.4, 0.6))
    assert result.ratio("dense") == 1.0
    assert result.median_ms("dense") == pytest.approx(1000.0)
    assert result.describe("mgic") == "0.50 (0.40-0.60, 5 rounds)"
    assert (result.load_before, result.load_after) == (0.5, 1.5)


def test_against_takes_the_per_round_ratios_to_another_baseline(harness):
    ms = {("dense", "infer"): [2.0, 4.0, 2.0], ("mgic", "infer"): [1.0, 3.0, 1.6]}
    comparison = harness["Comparison"](("dense", "train"), {("dense", "train"): [1.0] * 3, **ms})
    infer = comparison.against(("dense", "infer"))
    assert infer.ratios[("mgic", "infer")] == pytest.approx([0.5, 0.75, 0.8])
    assert infer.describe(("mgic", "infer")) == "0.75 (0.50-0.80, 3 rounds)"
    assert comparison.baseline == ("dense", "train")  # unchanged


def test_interleaved_warms_up_then_alternates_and_takes_per_round_medians(harness):
    clock = FakeClock()
    order = []

    def timed(key, seconds):
        def fn():
            order.append(key)
            clock.now += seconds

        return fn

    samples = harness["interleaved"](
        {"a": timed("a", 0.002), "b": timed("b", 0.001)}, rounds=3, repeat=2, warmup=1, timer=clock
    )
    assert order == ["a", "b"] + ["a", "a", "b", "b"] * 3
    assert samples["a"] == pytest.approx([2.0] * 3) and samples["b"] == pytest.approx([1.0] * 3)


def test_header_names_command_machine_rounds_and_load(harness):
    comparison = harness["Comparison"](
        "dense", {"dense": [1.0, 1.0], "mgic": [0.5, 0.7]}, 0.25, 3.0
    )
    text = harness["header"](
        comparison, argv=["benchmarks/x.py", "--write"], env="machine: x86_64, cores: 2"
    )
    assert "python benchmarks/x.py --write" in text
    assert "\nmachine: x86_64, cores: 2." in text
    assert "2 interleaved rounds" in text
    assert "load average 0.25 before, 3.0 after" in text
    assert "median of the per-round ratios" in text


def test_header_of_several_comparisons_names_the_load_of_each(harness):
    ms = {"dense": [1.0, 1.0], "mgic": [0.5, 0.7]}
    comparisons = {
        "TF": harness["Comparison"]("dense", ms, 1.07, 1.88),
        "TFLite": harness["Comparison"]("dense", ms, 1.88, 1.77),
    }
    text = harness["header"](comparisons, argv=["benchmarks/x.py"], env="machine: x86_64")
    assert text.endswith(
        "2 interleaved rounds after warm-up; ratios are the median of the per-round ratios "
        "(spread in brackets); load average before -> after: TF 1.07 -> 1.88, "
        "TFLite 1.88 -> 1.77."
    )


def test_load_averages_names_each_comparison(harness):
    ms = {"dense": [1.0], "mgic": [0.5]}
    comparisons = {
        "TF": harness["Comparison"]("dense", ms, 1.07, 1.88),
        "TFLite": harness["Comparison"]("dense", ms, 1.88, 1.77),
    }
    assert harness["load_averages"](comparisons) == "TF 1.07 -> 1.88, TFLite 1.88 -> 1.77"


def test_parser_has_write_and_quick(harness):
    args = harness["parser"]("Doc line.\nMore.").parse_args(["--write", "--quick"])
    assert args.write and args.quick


def test_parser_of_a_timed_script_has_rounds_and_repeat(harness):
    parser = harness["parser"]("Doc.", rounds=15, repeat=3)
    args = parser.parse_args([])
    assert (args.rounds, args.repeat) == (15, 3)
    assert parser.parse_args(["--rounds", "20", "--repeat", "2"]).rounds == 20
    assert not hasattr(harness["parser"]("Doc.").parse_args([]), "rounds")
    assert not hasattr(harness["parser"]("Doc.", quick=None).parse_args([]), "quick")


def test_load_average_is_a_number_or_none(harness):
    value = harness["load_average"]()
    assert value is None or value >= 0


def test_savefig_atomically_leaves_the_old_figure_when_saving_fails(harness, tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = tmp_path / "figure.png"
    fig = plt.figure()
    harness["savefig_atomically"](fig, path)
    assert path.read_bytes().startswith(b"\x89PNG")
    assert [p.name for p in tmp_path.iterdir()] == ["figure.png"]
    old = path.read_bytes()

    def half_written(target, dpi):
        pathlib.Path(target).write_bytes(b"\x89PN")
        raise KeyboardInterrupt

    fig.savefig = half_written
    with pytest.raises(KeyboardInterrupt):
        harness["savefig_atomically"](fig, path)
    assert path.read_bytes() == old
    plt.close(fig)
