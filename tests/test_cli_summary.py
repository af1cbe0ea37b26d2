"""`keras-mgic summary`: the printed counts are count_params / count_flops of the pair."""

import re

import keras
import pytest

from keras_mgic import cli, models, profiling


def _printed_rows(text):
    rows = {}
    for line in text.splitlines():
        match = re.fullmatch(r"(\S+)\s+(\d+)\s+(\d+)", line.strip())
        if match:
            rows[match.group(1)] = (int(match.group(2)), int(match.group(3)))
    ratio = re.search(r"ratio MGIC / dense\s+([\d.]+)\s+([\d.]+)", text)
    return rows, (float(ratio.group(1)), float(ratio.group(2)))


@pytest.fixture
def built(monkeypatch):
    """``{name: (builder kwargs, (params, MACs))}`` of the models the command builds: the
    expected rows are these models' counts, once each builder is known to have been given
    the expected arguments (``_expected``), without building every model a second time."""
    from keras_mgic.commands import summary

    models_built = {}
    build = summary._build

    def record(builder, name, kwargs):
        model = build(builder, name, kwargs)
        counts = profiling.count_params(model), profiling.count_flops(model)
        models_built[name] = (dict(kwargs), counts)
        return model

    monkeypatch.setattr(summary, "_build", record)
    return models_built


def _expected(built, name, **kwargs):
    """The counts of ``name`` as built by the command, after checking that it was built by
    its registered builder with ``kwargs`` (``input_shape`` as a tuple)."""
    kwargs_given, counts = built[name]
    assert kwargs_given == kwargs
    return counts


def test_recorded_counts_are_those_of_the_registered_builder(built, capsys):
    """The recording above counts what ``models.get_model`` builds with the same arguments."""
    assert cli.main(["summary", "resnet20", "--input-size", "16"]) == 0
    for name in ("resnet20", "mgic_resnet20"):
        kwargs, counts = built[name]
        model = models.get_model(name, **kwargs)
        assert counts == (profiling.count_params(model), profiling.count_flops(model))
        keras.backend.clear_session(free_memory=False)


@pytest.mark.parametrize("name", ["mgic_resnet20", "resnet20"])
def test_summary_prints_the_pair_and_their_ratio(name, built, capsys):
    assert cli.main(["summary", name, "--group-size", "16", "--coarsest-size", "8"]) == 0
    out = capsys.readouterr().out
    rows, ratio = _printed_rows(out)
    dense = _expected(built, "resnet20")
    mgic = _expected(built, "mgic_resnet20", group_size=16, coarsest_size=8)
    assert rows == {"resnet20": dense, "mgic_resnet20": mgic}
    assert ratio == (
        pytest.approx(mgic[0] / dense[0], abs=1e-3),
        pytest.approx(mgic[1] / dense[1], abs=1e-3),
    )
    assert "group_size=16, coarsest_size=8" in out and "input 32x32x3" in out


def test_summary_defaults_and_input_size(built, capsys):
    assert cli.main(["summary", "mgic_resnet20", "--input-size", "16"]) == 0
    out = capsys.readouterr().out
    rows, _ = _printed_rows(out)
    assert rows["resnet20"] == _expected(built, "resnet20", input_shape=(16, 16, 3))
    assert rows["mgic_resnet20"] == _expected(built, "mgic_resnet20", input_shape=(16, 16, 3))
    assert "group_size=8, coarsest_size=16" in out and "input 16x16x3" in out


@pytest.mark.parametrize("flag", ["--alpha", "--width-multiplier"])  # the old name still works
def test_summary_alpha_for_mobilenet(flag, built, capsys):
    argv = ["summary", "mobilenet_v3_small", flag, "0.5", "--input-size", "32"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "alpha=0.5" in out
    rows, _ = _printed_rows(out)
    kwargs = {"alpha": 0.5, "input_shape": (32, 32, 3)}
    assert rows["mobilenet_v3_small"] == _expected(built, "mobilenet_v3_small", **kwargs)
    assert rows["mgic_mobilenet_v3_small"] == _expected(built, "mgic_mobilenet_v3_small", **kwargs)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["summary", "resnet57"], "Unknown model: expected one of .*Received: model='resnet57'"),
        (["summary", "mgic_resnet56", "--alpha", "0.5"], "alpha=0.5"),
        (["summary", "resnet50", "--input-size", "16"], "downsamples by 32"),
        (["summary", "mgic_resnet20", "--group-size", "3"], "group_size=3"),
    ],
)
def test_summary_reports_bad_values_without_a_traceback(argv, message, capsys):
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert re.search(f"error: .*{message}", captured.err)
    assert "Traceback" not in captured.err and captured.out == ""


@pytest.mark.parametrize(
    "flag, value", [("--group-size", "0"), ("--input-size", "-4"), ("--alpha", "x")]
)
def test_summary_rejects_malformed_numbers_with_argparse(flag, value, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["summary", "resnet20", flag, value])
    assert exit_info.value.code == 2
    assert "expected a positive" in capsys.readouterr().err


def test_summary_hybrid_wide_resnet(built, capsys):
    argv = ["summary", "mgic_wide_resnet16_8", "--mgic-min-width", "256", "--input-size", "8"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    rows, _ = _printed_rows(out)
    shape = (8, 8, 3)
    assert rows["mgic_wide_resnet16_8"] == _expected(
        built, "mgic_wide_resnet16_8", input_shape=shape, mgic_min_width=256
    )
    assert rows["wide_resnet16_8"] == _expected(built, "wide_resnet16_8", input_shape=shape)
    assert "mgic_min_width=256" in out
    everywhere = models.get_model("mgic_wide_resnet16_8", input_shape=shape)  # MGIC in every stage
    everything = profiling.count_params(everywhere), profiling.count_flops(everywhere)
    assert everything[0] < rows["mgic_wide_resnet16_8"][0] < rows["wide_resnet16_8"][0]


def test_summary_of_the_segmentation_pair(built, capsys):
    """Segmentation builders take any input size; the summary counts them at --input-size
    (default: 1024x2048, Table 5's setting)."""
    argv = ["summary", "lraspp_mobilenet_v3_small", "--input-size", "64", "--alpha", "0.35"]
    assert cli.main(argv + ["--coarsest-size", "16"]) == 0
    out = capsys.readouterr().out
    rows, _ = _printed_rows(out)
    kwargs = {"alpha": 0.35, "input_shape": (64, 64, 3)}
    assert rows["lraspp_mobilenet_v3_small"] == _expected(
        built, "lraspp_mobilenet_v3_small", **kwargs
    )
    assert rows["mgic_lraspp_mobilenet_v3_small"] == _expected(
        built, "mgic_lraspp_mobilenet_v3_small", coarsest_size=16, **kwargs
    )
    assert "input 64x64x3" in out and "coarsest_size=16" in out


def test_summary_counts_segmentation_at_table_5_size_by_default(monkeypatch):
    """Without --input-size, both models are built for 1024x2048 (not built here)."""
    from keras_mgic.commands import summary
    from keras_mgic.models.lraspp import TABLE5_INPUT_SHAPE

    class Built(Exception):
        pass

    def record(builder, name, kwargs):
        raise Built(kwargs)

    monkeypatch.setattr(summary, "_build", record)
    with pytest.raises(Built) as built:
        summary.summarize("mgic_lraspp_mobilenet_v3_large")
    assert built.value.args[0] == {"input_shape": TABLE5_INPUT_SHAPE}


def test_summary_point_cloud_pair_takes_points(built, capsys):
    # 128 points: pooled three times, 16 are left for the k-NN graph of k = 10.
    argv = ["summary", "mgic_diffgcn", "--input-size", "128", "--group-size", "16"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    rows, _ = _printed_rows(out)
    assert rows["diffgcn"] == _expected(built, "diffgcn", points=128)
    assert rows["mgic_diffgcn"] == _expected(built, "mgic_diffgcn", points=128, group_size=16)
    assert "input 128x3" in out and "group_size=16, coarsest_size=16" in out
