"""Shared fixtures and helpers of the keras_mgic test suite.

- An autouse fixture seeds the RNGs, and afterwards restores the global dtype policy and
  clears the Keras session, so a mixed-precision test cannot leak into the next one.
- NumPy references: a grouped 2D convolution (TF's "same" padding, strides) and an
  inference-mode BatchNorm.
- Registered per-level blocks used by the MGICBlock tests (package ``mgic_tests``).
- ``fresh_process``: saves models as ``.keras`` and reloads them in a new Python process that
  only does ``import keras_mgic`` (no ``custom_objects``), returning the reloaded outputs.
"""

import gc
import json
import os
import subprocess
import sys
import textwrap

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from process_limits import SUBPROCESS_TIMEOUT

import keras_mgic  # noqa: E402, F401  (registers the package's serializables)
from keras_mgic.layers import GroupedConv2D  # noqa: E402

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(TESTS_DIR)

if keras.backend.backend() == "tensorflow" and os.environ.get("MGIC_TEST_GRAPPLER") == "0":
    # TensorFlow's graph optimizer (Grappler) rewrites every traced function before its first
    # run: a third of the time of a test that fits or predicts with a small network, and no
    # property of this package. ``make test`` sets MGIC_TEST_GRAPPLER=0 (tools/run_tests.py);
    # ``make test-slow`` and a plain ``pytest`` run keep TensorFlow's default optimizations.
    import tensorflow as tf

    tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})


#: The test files that took longest (idle, make test), longest first. ``make test`` runs files
#: on two workers, a file at a time; started first, they leave the short files to even out
#: the end (a long file started last kept one worker busy 47 s after the other had finished).
#: A stale list costs only that balance.
LONGEST_FILES = (
    "test_mobilenet_v3.py",
    "test_export.py",
    "test_models_registry.py",
    "test_point_export.py",
    "test_applications_api.py",
    "test_segmentation_export.py",
    "test_run_safety.py",
    "test_training.py",
    "test_backends.py",
    "test_cli_summary.py",
    "test_resnet.py",
    "test_cross_backend.py",
)


def pytest_collection_modifyitems(config, items):
    """Orders the collected tests file by file, LONGEST_FILES first (stable otherwise)."""
    rank = {name: index for index, name in enumerate(LONGEST_FILES)}
    items.sort(key=lambda item: rank.get(os.path.basename(str(item.path)), len(rank)))


def pytest_collection_finish(session):
    """Freezes the objects alive once every test module is imported (TensorFlow, Keras, JAX
    and this package: about 430,000 objects) out of Python's cyclic garbage collector.

    Each full collection walks every tracked object; with those modules in the heap, the full
    collections took 13% of a TensorFlow test run (13.2 of 102 s over two test files) and
    5.8 s once they were frozen. Frozen objects are the import-time heap, which lives as long
    as the worker anyway; what the tests create is collected as before.
    """
    gc.collect()
    gc.freeze()


@pytest.fixture(autouse=True)
def _clean_keras_state():
    keras.utils.set_random_seed(1234)
    yield
    keras.config.set_dtype_policy("float32")
    keras.backend.clear_session(free_memory=False)  # gc.collect() here costs ~0.5 s a test


# --------------------------------------------------------------------------- NumPy references


def np_grouped_conv2d(x, w, strides=1, padding="valid", bias=None):
    """Grouped 2D convolution in float64 NumPy; ``w`` in Keras layout (kh, kw, c/g, f)."""
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    sh, sw = (strides, strides) if isinstance(strides, int) else tuple(strides)
    kh, kw, group_channels, filters = w.shape
    _, height, width, channels = x.shape
    groups = channels // group_channels
    assert groups * group_channels == channels and filters % groups == 0
    group_filters = filters // groups
    if padding == "same":

        def pads(size, k, s):
            total = max((-(-size // s) - 1) * s + k - size, 0)
            return total // 2, total - total // 2

        x = np.pad(x, ((0, 0), pads(height, kh, sh), pads(width, kw, sw), (0, 0)))
    out_h = (x.shape[1] - kh) // sh + 1
    out_w = (x.shape[2] - kw) // sw + 1
    out = np.zeros((x.shape[0], out_h, out_w, filters))
    for i in range(kh):
        for j in range(kw):
            patch = x[:, i : i + (out_h - 1) * sh + 1 : sh, j : j + (out_w - 1) * sw + 1 : sw]
            for g in range(groups):
                cin = slice(g * group_channels, (g + 1) * group_channels)
                cout = slice(g * group_filters, (g + 1) * group_filters)
                out[..., cout] += patch[..., cin] @ w[i, j, :, cout]
    if bias is not None:
        out = out + np.asarray(bias, np.float64)
    return out


def np_batch_norm(x, layer, training=False):
    """BatchNormalization in NumPy with the weights of a built Keras BN ``layer``."""
    gamma, beta, moving_mean, moving_var = (np.asarray(v, np.float64) for v in layer.get_weights())
    x = np.asarray(x, np.float64)
    if training:
        mean, var = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))
    else:
        mean, var = moving_mean, moving_var
    return (x - mean) / np.sqrt(var + layer.epsilon) * gamma + beta


def randomize_batch_norm(layer, rng):
    """Gives a built BatchNormalization random (valid) gamma, beta and moving statistics."""
    channels = layer.get_weights()[0].shape[0]
    layer.set_weights(
        [
            rng.uniform(0.5, 1.5, channels),
            rng.normal(0, 0.1, channels),
            rng.normal(0, 0.1, channels),
            rng.uniform(0.5, 1.5, channels),
        ]
    )


@pytest.fixture
def np_conv():
    return np_grouped_conv2d


@pytest.fixture
def np_bn():
    return np_batch_norm


@pytest.fixture
def randomize_bn():
    return randomize_batch_norm


# --------------------------------------------------------------- registered per-level blocks


@keras.saving.register_keras_serializable(package="mgic_tests")
class IdentityBlock(keras.layers.Layer):
    """A per-level block that returns its input (the MGIC identity property)."""

    def __init__(self, filters, groups, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.groups = groups

    def call(self, inputs, training=None):
        return inputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"filters": self.filters, "groups": self.groups})
        return config


@keras.saving.register_keras_serializable(package="mgic_tests")
class GroupedTanhBlock(keras.layers.Layer):
    """A simple user block: ``tanh(grouped 1x1 conv(x) + bias) * scale``."""

    def __init__(self, filters, groups, scale=1.0, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.groups = groups
        self.scale = scale
        self.conv = GroupedConv2D(
            filters,
            1,
            groups=groups,
            kernel_initializer=keras.initializers.RandomNormal(stddev=0.5),
            bias_initializer=keras.initializers.RandomNormal(stddev=0.1),
            dtype=self.dtype_policy,
            name="conv",
        )

    def build(self, input_shape):
        self.conv.build(input_shape)

    def call(self, inputs, training=None):
        return keras.ops.tanh(self.conv(inputs)) * self.scale

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"filters": self.filters, "groups": self.groups, "scale": self.scale})
        return config


@keras.saving.register_keras_serializable(package="mgic_tests")
class WidthDoublingBlock(keras.layers.Layer):
    """A broken per-level block: its output has twice the input channels."""

    def __init__(self, filters, groups, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.groups = groups

    def call(self, inputs, training=None):
        return keras.ops.concatenate([inputs, inputs], axis=-1)


@keras.saving.register_keras_serializable(package="mgic_tests")
class NoGroupsBlock(keras.layers.Layer):
    """A broken per-level block: its constructor does not take `groups`."""

    def __init__(self, filters, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters

    def call(self, inputs):
        return inputs


@pytest.fixture
def identity_block():
    return IdentityBlock


@pytest.fixture
def tanh_block():
    return GroupedTanhBlock


# ------------------------------------------------------------------ fresh-process .keras load

_FRESH_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    import numpy as np
    import keras
    {extra_imports}
    import keras_mgic

    job_dir = sys.argv[1]
    names = json.loads(open(os.path.join(job_dir, "names.json")).read())
    configs = {{}}
    for name in names:
        model = keras.saving.load_model(os.path.join(job_dir, name + ".keras"))
        x = np.load(os.path.join(job_dir, name + "_x.npy"))
        y = keras.ops.convert_to_numpy(model(x, training=False))
        np.save(os.path.join(job_dir, name + "_y.npy"), y)
        configs[name] = [layer.get_config() for layer in model.layers]
    with open(os.path.join(job_dir, "configs.json"), "w") as f:
        json.dump(configs, f, default=repr)
    """
)


def config_as_json(config):
    """A config dict normalised the way the fresh process reports it (for comparison)."""
    return json.loads(json.dumps(config, default=repr))


@pytest.fixture
def as_json():
    return config_as_json


def _run_fresh_process(job_dir, models, import_test_blocks=False):
    """Saves ``{name: (model, x)}`` under ``job_dir``, reloads them in a new process.

    Returns ``{name: (outputs, [layer configs])}`` from the new process. The new process
    imports only keras and keras_mgic (and, with ``import_test_blocks``, this conftest's
    registered blocks, as a user imports the module that defines their own block).
    """
    os.makedirs(job_dir, exist_ok=True)
    for name, (model, x) in models.items():
        model.save(os.path.join(job_dir, name + ".keras"))
        np.save(os.path.join(job_dir, name + "_x.npy"), np.asarray(x))
    with open(os.path.join(job_dir, "names.json"), "w") as f:
        json.dump(sorted(models), f)
    extra = ""
    if import_test_blocks:
        extra = f"sys.path.insert(0, {TESTS_DIR!r}); import conftest"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, "-c", _FRESH_SCRIPT.format(extra_imports=extra), str(job_dir)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_DIR,
        timeout=SUBPROCESS_TIMEOUT,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    with open(os.path.join(job_dir, "configs.json")) as f:
        configs = json.load(f)
    return {
        name: (np.load(os.path.join(job_dir, name + "_y.npy")), configs[name]) for name in models
    }


@pytest.fixture
def fresh_process(tmp_path):
    def run(models, import_test_blocks=False):
        return _run_fresh_process(str(tmp_path / "fresh"), models, import_test_blocks)

    return run


@pytest.fixture(scope="module")
def fresh_process_module(tmp_path_factory):
    def run(models, import_test_blocks=False):
        job_dir = str(tmp_path_factory.mktemp("fresh"))
        return _run_fresh_process(job_dir, models, import_test_blocks)

    return run


@pytest.fixture
def saved_figures(monkeypatch, tmp_path):
    """Sends the benchmarks' ``bench.save_figure`` into ``tmp_path`` (nothing reaches
    ``docs/``); yields the list of the figures' paths, in the order they were saved."""
    benchmarks = os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"
    )
    if benchmarks not in sys.path:
        sys.path.insert(0, benchmarks)
    import _common

    saved = []

    def save_figure(fig, name, dpi=120):
        path = tmp_path / name
        fig.savefig(path, dpi=dpi)
        saved.append(path)
        return path

    monkeypatch.setattr(_common, "save_figure", save_figure)
    return saved
