"""The interleaved timing helper of benchmarks/_common.py (counts calls, no real timing)."""

import pathlib
import runpy

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / "_common.py"


@pytest.fixture(scope="module")
def common():
    return runpy.run_path(str(SCRIPT))


def _counters(keys, order):
    calls = dict.fromkeys(keys, 0)

    def make(key):
        def fn():
            calls[key] += 1
            order.append(key)

        return fn

    return calls, {key: make(key) for key in keys}


def test_interleaved_calls_each_function_warmup_plus_rounds_times_repeat(common):
    order = []
    calls, fns = _counters(["dense", "mgic"], order)
    samples = common["interleaved"](fns, rounds=3, repeat=2)
    assert calls == {"dense": 2 + 3 * 2, "mgic": 2 + 3 * 2}
    assert {key: len(ms) for key, ms in samples.items()} == {"dense": 3, "mgic": 3}
    assert all(ms >= 0 for values in samples.values() for ms in values)
    # After the warm-up the functions alternate: dense, dense, mgic, mgic, dense, ...
    assert order[4:] == (["dense"] * 2 + ["mgic"] * 2) * 3


def test_interleaved_takes_repeats_per_key_and_no_warmup(common):
    order = []
    calls, fns = _counters(["a", "b"], order)
    common["interleaved"](fns, rounds=2, repeat={"a": 1, "b": 4}, warmup=0)
    assert calls == {"a": 2, "b": 8}
    assert order == ["a", "b", "b", "b", "b"] * 2


def test_command_names_the_script_its_arguments_and_the_onednn_setting(common, monkeypatch):
    argv = ["/somewhere/benchmarks/wide_resnet.py", "--write", "--batch", "8"]
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    assert common["command"](argv) == "python benchmarks/wide_resnet.py --write --batch 8"
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    assert common["command"](argv[:2]) == (
        "TF_ENABLE_ONEDNN_OPTS=0 python benchmarks/wide_resnet.py --write"
    )


def test_sections_and_titles_follow_the_tensorflow_kernels(common, monkeypatch):
    from keras_mgic import ops

    with_onednn = ops._tensorflow_has_grouped_gradients()
    suffix = "" if with_onednn else "_no_onednn"
    assert common["section_name"]("crossover") == f"crossover{suffix}"
    title = common["section_title"]("Wide ResNet")
    assert title == ("Wide ResNet" if with_onednn else "Wide ResNet (TensorFlow without oneDNN)")
    assert ("(oneDNN)" if with_onednn else "(no oneDNN)") in common["environment"]()
