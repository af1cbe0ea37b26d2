"""MGIC blocks against the authors' reference code, given the reference's weights.

``tests/data/golden/{residual,bottleneck}_*.npz`` each hold one MGIC block of the paper's
public PyTorch code (BGUCompSci/MultigridInChannelsCNNs, ``resnetMG.py``, class
``MgBlockDwGroup``) with random weights and random BatchNorm statistics, run in eval mode on
a random input: ``x`` and ``y`` (NHWC), ``config_json`` (the reference's ``s_g``/``s_c``, level
widths, per-level groups and shapes, trainable parameter count) and every weight named by
role, kernels already in Keras layout ``(kh, kw, in / groups, out)``:
``level{j}/block/conv{a}/kernel``, ``level{j}/block/bn{a}/<statistic>``,
``level{j}/restriction/kernel``, ``level{j}/prolongation/kernel`` and
``level{j}/correction_bn/<statistic>`` (level 0 finest, the last level coarsest).

In the reference's bottleneck, ``s_g`` and ``s_c`` count bottleneck channels (a quarter of the
block width); ``MGICBlock`` counts block channels, so it gets four times both.
"""

import json
import pathlib

import keras
import numpy as np
import pytest

from keras_mgic import MGICBlock, count_params

GOLDEN = pathlib.Path(__file__).parent / "data" / "golden"
FILES = sorted(GOLDEN.glob("residual_*.npz")) + sorted(GOLDEN.glob("bottleneck_*.npz"))
BN_STATISTICS = ("gamma", "beta", "moving_mean", "moving_variance")


def _load(path):
    data = np.load(path)
    weights = {key: data[key] for key in data.files if "/" in key}
    return data["x"], data["y"], json.loads(str(data["config_json"])), weights


def _block(config, **kwargs):
    """Our MGICBlock with the reference's settings."""
    scale = 4 if config["block"] == "bottleneck" else 1
    return MGICBlock(
        group_size=scale * config["reference_s_g"],
        coarsest_size=scale * config["reference_s_c"],
        block=config["block"],
        **kwargs,
    )


def _roles(block, level):
    """``{role: variable}`` of one level, named as in the golden files."""
    level_block = block.level_blocks[level]
    convs = [name for name in ("conv1", "conv2", "conv3") if hasattr(level_block, name)]
    roles = {f"block/{conv}/kernel": getattr(level_block, conv).kernel for conv in convs}
    layers = {f"block/bn{conv[-1]}": getattr(level_block, f"bn{conv[-1]}") for conv in convs}
    if level < len(block.restrictions):
        roles["restriction/kernel"] = block.restrictions[level].kernel
        roles["prolongation/kernel"] = block.prolongations[level].kernel
        layers["correction_bn"] = block.corrections[level]
    for prefix, bn in layers.items():
        roles.update({f"{prefix}/{name}": getattr(bn, name) for name in BN_STATISTICS})
    return {f"level{level}/{role}": variable for role, variable in roles.items()}


def _load_weights(block, weights):
    roles = {}
    for level in range(len(block.widths)):
        roles.update(_roles(block, level))
    assert sorted(roles) == sorted(weights)
    assert len(roles) == len(block.weights)
    for role, variable in roles.items():
        assert tuple(variable.shape) == weights[role].shape, role
        variable.assign(weights[role])


def _relative_error(block, x, y):
    ours = keras.ops.convert_to_numpy(block(x, training=False))
    return np.abs(ours - y).max() / np.abs(y).max()


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.stem)
def test_block_reproduces_the_reference_output(path):
    x, y, config, weights = _load(path)
    block = _block(config)
    block.build(x.shape)
    assert block.widths == config["level_widths"]
    assert [b.groups for b in block.level_blocks] == [
        level["convs"]["conv1"]["groups"] for level in config["levels"]
    ]
    assert (
        count_params(keras.Sequential([keras.Input(x.shape[1:]), block]))
        == (config["trainable_params"])
    )
    _load_weights(block, weights)
    assert _relative_error(block, x, y) <= 1e-5


def test_golden_files_are_all_there():
    assert [path.stem for path in FILES] == [
        "residual_c128_sg16_sc32",
        "residual_c16_sg8_sc32",
        "residual_c32_sg16_sc64",
        "residual_c64_sg8_sc16",
        "bottleneck_c256_sg16_sc32",
    ]


@pytest.mark.parametrize("name", ["residual_c16_sg8_sc32", "residual_c32_sg16_sc64"])
def test_algorithm_1_read_literally_builds_other_levels(name):
    """Below s_c the reference restricts once; the literal reading does not."""
    x, _, config, _ = _load(GOLDEN / f"{name}.npz")
    block = _block(config, coarsening="literal")
    block.build(x.shape)
    assert block.widths == config["level_widths"][:1] != config["level_widths"]


def test_without_the_coarsest_activation_the_bottleneck_differs():
    """The golden bottleneck pins the ReLU before the skip addition on the coarsest level."""
    x, y, config, weights = _load(GOLDEN / "bottleneck_c256_sg16_sc32.npz")
    block = _block(config, block_kwargs={"activate_before_skip": False})
    block.build(x.shape)
    _load_weights(block, weights)
    assert _relative_error(block, x, y) > 1e-3
