"""Whole CIFAR ResNet-20s against the authors' reference code, given the reference's weights.

``tests/data/golden/net_*.npz`` hold the MGIC-ResNet-20 (s_g = 8, s_c = 16) and the dense
ResNet-20 of the paper's public PyTorch code (BGUCompSci/MultigridInChannelsCNNs,
``resnetMG.py``: ``ResNetMGGroup`` and ``ResNet34`` with ``BasicBlock``), built with the
reference's initialization and random BatchNorm statistics and run in eval mode on a random
input. Each file holds the input ``x`` (NHWC), the logits ``y`` and every floating-point
tensor of the PyTorch state dict as ``torch/<name>``, in PyTorch layout.

The mapping below follows ``resnetMG.py``: an MGIC block's ``mgStep`` list holds the
restrictions going down (``mgStep.j.R`` for level ``j``), the coarsest block, then one step per
level going up (prolongation ``P``, its BatchNorm ``bnp1`` and that level's residual block
``k1/bn1/k2/bn2``), finest last; a stage's first block starts with the ``shortcut``
(depthwise-style 3x3 conv + BN), which is our ``ChannelTransition``.
"""

import json
import pathlib

import numpy as np
import pytest

from keras_mgic import models

GOLDEN = pathlib.Path(__file__).parent / "data" / "golden"
BN_NAMES = {
    "weight": "gamma",
    "bias": "beta",
    "running_mean": "moving_mean",
    "running_var": "moving_variance",
}


def _load(name):
    data = np.load(GOLDEN / f"{name}.npz")
    tensors = {key[len("torch/") :]: data[key] for key in data.files if key.startswith("torch/")}
    return data["x"], data["y"], json.loads(str(data["config_json"])), tensors


def _keras_value(value):
    """A PyTorch tensor in Keras layout: conv kernels (kh, kw, in, out), dense (in, out)."""
    if value.ndim == 4:
        return np.transpose(value, (2, 3, 1, 0))
    if value.ndim == 2:
        return value.T
    return value


def _suffix(name, value):
    """The Keras variable of a PyTorch tensor: conv kernels, dense weights and BatchNorms."""
    attribute = name.rsplit(".", 1)[1]
    if value.ndim == 4 or name == "linear.weight":
        return "kernel"
    return "bias" if name == "linear.bias" else BN_NAMES[attribute]


def _mgic_step_module(block, step, module, levels):
    """Keras layer of ``features.Mg_s_b.mgStep.<step>.<module>``."""
    if module == "R":
        return f"{block}_mgic/restrict_{step}"
    level = levels - 1 if step == levels - 1 else 2 * levels - 2 - step
    if module == "P":
        return f"{block}_mgic/prolong_{level}"
    if module == "bnp1":
        return f"{block}_mgic/correction_bn_{level}"
    sublayer = {"k1": "conv1", "k2": "conv2", "bn1": "bn1", "bn2": "bn2"}[module]
    return f"{block}_mgic/level_{level}_block/{sublayer}"


def _common_module(parts):
    """The stem and the classifier, shared by both networks (``None`` for a block)."""
    if parts[0] == "linear":
        return "predictions"
    return {"conv1": "stem_conv", "bn1": "stem_bn"}.get(parts[1])


def _mgic_block_module(parts, stage, index, block, model):
    if parts[2] == "shortcut":
        return f"{block}_transition/{'conv' if parts[3] == '0' else 'bn'}"
    levels = len(model.get_layer(f"{block}_mgic").widths)
    return _mgic_step_module(block, int(parts[3]), parts[4], levels)


def _dense_block_module(parts, stage, index, block, model):
    if parts[2] == "shortcut":
        return f"{block}_{'proj_conv' if parts[3] == '0' else 'proj_bn'}"
    if stage > 1 and index == 0:
        number, kind = parts[2][-1], parts[2][:-1]
        return f"{block}_{number}_{'conv' if kind == 'conv' else 'bn'}"
    return f"{block}/{parts[2]}"


def _module_mapper(block_module):
    """``module_of(name, model)``: the Keras layer of a PyTorch state-dict entry."""

    def module_of(name, model):
        parts = name.split(".")
        if _common_module(parts):
            return _common_module(parts)
        stage, index = (int(v) for v in parts[1].split("_")[1:])  # features.Mg_<s>_<b>
        return block_module(parts, stage, index, f"stage{stage}_block{index + 1}", model)

    return module_of


def _assign_reference_weights(model, tensors, module_of):
    variables = {v.path: v for v in model.weights}
    assigned = set()
    for name, value in tensors.items():
        path = f"{module_of(name, model)}/{_suffix(name, value)}"
        assert path in variables, f"{name} maps to {path}, which the model does not have"
        variables[path].assign(_keras_value(value))
        assigned.add(path)
    assert assigned == set(variables), sorted(set(variables) - assigned)


CASES = {
    "net_mgic_resnet20_sg8_sc16": (
        lambda: models.MGICResNet20(
            classes=10,
            group_size=8,
            coarsest_size=16,
            input_shape=(32, 32, 3),
            classifier_activation=None,
        ),
        _module_mapper(_mgic_block_module),
    ),
    "net_resnet20": (
        lambda: models.ResNet20(classes=10, input_shape=(32, 32, 3), classifier_activation=None),
        _module_mapper(_dense_block_module),
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_reference_network_logits(name):
    x, y, config, tensors = _load(name)
    build, module_of = CASES[name]
    model = build()
    assert (
        sum(int(np.prod(w.shape)) for w in model.trainable_weights) == (config["trainable_params"])
    )
    _assign_reference_weights(model, tensors, module_of)
    logits = np.asarray(model(x, training=False))
    error = np.max(np.abs(logits - y)) / np.max(np.abs(y))
    assert error < 1e-5, f"{name}: max |logits - reference| / max |reference| = {error:.2e}"
