"""keras_mgic.training: fit, metrics.json, raw-image models, resume, mixed precision, schedule."""

import json
import os

import keras
import numpy as np
import pytest

import keras_mgic
from keras_mgic import profiling, training
from keras_mgic.models import MODELS
from keras_mgic.training import model as training_model


def tiny_mgic(input_shape, classes, **kwargs):
    """A small real MGIC network (one MGICBlock over 16 channels): quick to trace."""
    inputs = keras.Input(input_shape)
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", use_bias=False)(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    x = keras_mgic.MGICBlock(group_size=4, coarsest_size=4)(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(classes, activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="tiny_mgic")


TINY = dict(
    batch_size=16,
    image_size=16,
    max_train_examples=48,
    max_test_examples=16,
    verbose=0,
)


def _csv_epochs(path):
    return [int(e) for e in training.read_log(path)["epoch"]]


# ------------------------------------------------------- a short real run (MGIC-ResNet-20)


@pytest.fixture(scope="module")
def resnet_run(tmp_path_factory):
    run_dir = str(tmp_path_factory.mktemp("mgic_resnet20"))
    metrics = training.train(
        "mgic_resnet20",
        "digits",
        epochs=3,
        batch_size=16,
        learning_rate=0.01,  # 0.02 sits at the edge of stability for 4 steps per epoch
        warmup_epochs=0,
        image_size=16,
        max_train_examples=64,
        max_test_examples=32,
        augment=False,
        output=run_dir,
        verbose=0,
    )
    keras.config.set_dtype_policy("float32")
    return run_dir, metrics


def test_short_training_lowers_the_loss(resnet_run):
    run_dir, _ = resnet_run
    losses = training.read_log(os.path.join(run_dir, "log.csv"))["loss"]
    assert len(losses) == 3 and all(np.isfinite(losses))
    assert losses[-1] < losses[0]


def test_metrics_json_and_files(resnet_run):
    run_dir, metrics = resnet_run
    with open(os.path.join(run_dir, "metrics.json")) as f:
        written = json.load(f)
    assert written == json.loads(json.dumps(metrics))
    for key in ("test_accuracy", "params", "flops", "epochs_completed", "seconds_per_epoch"):
        assert written[key] is not None, key
    assert 0.0 <= written["test_accuracy"] <= 1.0 and np.isfinite(written["test_loss"])
    assert written["epochs_completed"] == 3 and written["resumed_from_epoch"] == 0
    assert written["steps_per_epoch"] == 4 and written["global_batch_size"] == 16
    assert written["dtype_policy"] == "float32" and written["replicas"] == 1
    assert written["input_shape"] == [16, 16, 3] and written["num_classes"] == 10
    assert written["input_range"] == [0, 255] and "normalization" not in written
    model = keras.saving.load_model(os.path.join(run_dir, "model.keras"))
    assert written["params"] == profiling.count_params(model)
    assert written["flops"] == profiling.count_flops(model)
    assert model.output_shape == (None, 10)
    log = training.read_log(os.path.join(run_dir, "log.csv"))
    assert log["epoch"] == [0.0, 1.0, 2.0]
    assert log["learning_rate"][0] == pytest.approx(0.01) and log["learning_rate"][2] < 0.01
    with open(os.path.join(run_dir, "learning_curves.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    # Only the final files stay; the in-progress state (backup, checkpoint) is gone.
    assert (
        sorted(os.listdir(run_dir))
        == sorted(written["files"])
        == [
            "learning_curves.png",
            "log.csv",
            "metrics.json",
            "model.keras",
        ]
    )


def test_written_model_takes_raw_images(resnet_run):
    """The model rescales 0-255 pixels itself: a raw image in, no outside normalization."""
    run_dir, _ = resnet_run
    model = keras.saving.load_model(os.path.join(run_dir, "model.keras"))
    rescaling = [
        layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.Rescaling)
    ]
    assert len(rescaling) == 1
    assert rescaling[0].scale == pytest.approx(1 / 127.5) and rescaling[0].offset == -1.0


def test_builder_without_include_preprocessing_gets_a_rescaling_layer():
    net = training_model.build_model(tiny_mgic, (16, 16, 3), 10)
    x = np.random.RandomState(0).uniform(0, 255, (2, 16, 16, 3)).astype("float32")
    inner = net.layers[-1]
    np.testing.assert_allclose(net(x), inner(x / 127.5 - 1.0), atol=1e-5)
    assert training_model.outputs_logits(net) is False  # the wrapped model ends in a softmax


# --------------------------------------------------------------------------------- resume


class KillAfterEpoch(keras.callbacks.Callback):
    """Simulates a killed job: raises at the end of epoch ``epoch`` (0-based)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError("simulated kill")


def test_resume_continues_at_the_next_epoch_and_says_so(tmp_path, capsys):
    run_dir = str(tmp_path / "run")
    in_progress = os.path.join(run_dir, "in_progress")
    with pytest.raises(RuntimeError, match="simulated kill"):
        training.train(tiny_mgic, epochs=3, output=run_dir, callbacks=[KillAfterEpoch(0)], **TINY)
    with open(os.path.join(in_progress, "epoch_0001.json")) as f:
        assert json.load(f)["epoch"] == 1
    assert _csv_epochs(os.path.join(in_progress, "log.csv")) == [0]
    assert os.listdir(run_dir) == ["in_progress"]  # no final file of an unfinished run

    metrics = training.train(tiny_mgic, epochs=3, output=run_dir, **{**TINY, "verbose": 2})
    assert "Resuming from epoch 2 of 3" in capsys.readouterr().out
    assert metrics["resumed_from_epoch"] == 1 and metrics["epochs_completed"] == 3
    assert _csv_epochs(os.path.join(run_dir, "log.csv")) == [0, 1, 2]  # epoch 0 not twice
    # The optimizer state came back too: 3 epochs x 3 steps, not 2 x 3.
    model = keras.saving.load_model(os.path.join(run_dir, "model.keras"))
    assert int(model.optimizer.iterations.numpy()) == 3 * metrics["steps_per_epoch"]
    assert not os.path.exists(in_progress)

    # A finished run leaves no checkpoint: a new run into the folder is refused, or starts
    # over with overwrite=True.
    with pytest.raises(training.OutputError, match="holds a finished run"):
        training.train(tiny_mgic, epochs=1, output=run_dir, **TINY)
    again = training.train(tiny_mgic, epochs=1, output=run_dir, overwrite=True, **TINY)
    assert again["resumed_from_epoch"] == 0 and again["epochs_completed"] == 1
    assert _csv_epochs(os.path.join(run_dir, "log.csv")) == [0]


def test_a_run_failing_in_its_first_epoch_leaves_no_folders(tmp_path):
    output = tmp_path / "new" / "run"
    with pytest.raises(RuntimeError, match="simulated kill"):
        training.train(
            tiny_mgic, epochs=2, output=str(output), callbacks=[_FailFirstBatch()], **TINY
        )
    assert not (tmp_path / "new").exists()


class _FailFirstBatch(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        raise RuntimeError("simulated kill")


# -------------------------------------------------------------------------- mixed precision


def test_mixed_float16_step_is_finite_with_loss_scaling():
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = tiny_mgic((16, 16, 3), 10)
        model.compile(
            optimizer=training.make_optimizer(0.05),
            loss="sparse_categorical_crossentropy",
        )
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
        x = np.random.RandomState(0).normal(size=(8, 16, 16, 3)).astype("float32")
        y = np.arange(8) % 10
        loss = model.train_on_batch(x, y)
        assert np.isfinite(loss)
        assert all(v.dtype == "float32" for v in model.weights)
    finally:
        keras.config.set_dtype_policy("float32")


def test_train_mixed_precision_on_cpu_uses_bfloat16_and_restores_policy(tmp_path):
    metrics = training.train(
        tiny_mgic, epochs=1, mixed_precision=True, output=str(tmp_path / "bf16"), **TINY
    )
    assert metrics["dtype_policy"] == training.mixed_precision_policy() == "mixed_bfloat16"
    assert metrics["loss_scaling"] is False
    assert np.isfinite(metrics["train_loss"]) and np.isfinite(metrics["test_loss"])
    assert keras.config.dtype_policy().name == "float32"


# ------------------------------------------------------------------ schedule and optimizer


def test_step_schedule_is_the_papers_scaled_to_the_run():
    assert training.step_interval(180) == 30 and training.step_interval(12) == 2
    schedule = training.learning_rate_schedule(0.1, "step", epochs=180, steps_per_epoch=10)
    rates = [float(schedule(epoch * 10)) for epoch in (0, 29, 30, 59, 60, 150, 179)]
    np.testing.assert_allclose(rates, [0.1, 0.1, 0.01, 0.01, 0.001, 1e-6, 1e-6], rtol=1e-5)
    short = training.learning_rate_schedule(0.1, "step", epochs=1, steps_per_epoch=5)
    assert float(short(4)) == pytest.approx(0.1)


def test_cosine_schedule_warms_up_then_decays_to_zero():
    schedule = training.learning_rate_schedule(0.2, "cosine", epochs=4, steps_per_epoch=5)
    assert float(schedule(0)) == pytest.approx(0.2)
    assert float(schedule(10)) == pytest.approx(0.1, rel=1e-5)
    assert float(schedule(20)) == pytest.approx(0.0, abs=1e-7)
    warm = training.learning_rate_schedule(
        0.2, "cosine", epochs=4, steps_per_epoch=5, warmup_steps=5
    )
    rates = [float(warm(step)) for step in (0, 1, 5, 20)]
    np.testing.assert_allclose(rates, [0.0, 0.04, 0.2, 0.0], atol=1e-6)
    with pytest.raises(ValueError, match="cosine schedule only"):
        training.learning_rate_schedule(0.2, "step", 4, 5, warmup_steps=5)


def test_optimizer_is_sgd_momentum_decoupled_weight_decay():
    opt = training.make_optimizer(0.1)
    assert isinstance(opt, keras.optimizers.SGD)
    assert opt.momentum == pytest.approx(0.9) and opt.weight_decay == pytest.approx(1e-4)
    assert training.make_optimizer(0.1, weight_decay=0).weight_decay is None


# -------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"model": "resnet21"}, r"Unknown model: expected one of \[.*'mgic_resnet20'.*model='re"),
        ({"epochs": 0}, "Received: epochs=0"),
        ({"batch_size": -4}, "Received: batch_size=-4"),
        ({"learning_rate": 0}, "Received: learning_rate=0"),
        ({"schedule": "linear"}, "Received: schedule='linear'"),
        ({"distribute": "tpu"}, "Received: distribute='tpu'"),
        ({"model_kwargs": [1]}, r"Received: model_kwargs=\[1\]"),
        ({"weight_decay": -1.0}, "Received: weight_decay=-1.0"),
        ({"momentum": 1.5}, "Received: momentum=1.5"),
        ({"warmup_epochs": 3}, "Received: warmup_epochs=3, epochs=3"),
        ({"verbose": 3}, "Received: verbose=3"),
        ({"max_test_examples": 0}, "Received: max_test_examples=0"),
        ({"overwrite": "yes"}, "Received: overwrite='yes'"),
        ({"deterministic": 1}, "Received: deterministic=1"),
    ],
)
def test_clear_value_errors_before_anything_is_written(kwargs, match, tmp_path):
    output = tmp_path / "out"
    kwargs = {"model": tiny_mgic, "output": str(output), "epochs": 3, **TINY, **kwargs}
    with pytest.raises(ValueError, match=match):
        training.train(**kwargs)
    assert not output.exists()


def test_multi_worker_needs_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="TF_CONFIG.*Received: TF_CONFIG=None"):
        training.make_strategy("multi-worker")


def test_builder_arguments_it_does_not_take_leave_no_folders(tmp_path):
    output = tmp_path / "a" / "b"
    with pytest.raises(ValueError, match="Could not build the model.*group_size"):
        training.train(
            "resnet20", output=str(output), model_kwargs={"group_size": 8}, epochs=1, **TINY
        )
    assert not (tmp_path / "a").exists()


def test_every_registered_model_name_is_accepted():
    for name in MODELS:
        assert training_model.resolve_builder(name) is MODELS[name]


def test_registered_builders_get_classes_and_include_preprocessing():
    net = training_model.build_model(MODELS["resnet20"], (16, 16, 3), 7)
    assert net.output_shape == (None, 7)
    rescaling = [
        layer for layer in net._flatten_layers() if isinstance(layer, keras.layers.Rescaling)
    ]
    assert len(rescaling) == 1


def test_run_folders_another_worker_created_meanwhile_are_left_to_it(tmp_path, monkeypatch):
    """Workers of one multi-worker run create the shared output folder concurrently."""
    from keras_mgic.training import run_dir

    shared = tmp_path / "run"
    real_mkdir = os.mkdir

    def racing_mkdir(path, *args):
        if os.fspath(path) == str(shared) and not shared.exists():
            real_mkdir(path)  # the other worker wins the race
        real_mkdir(path, *args)

    monkeypatch.setattr(os, "mkdir", racing_mkdir)
    run = run_dir.RunDir(shared / "workers" / "worker-1")
    run.prepare()
    monkeypatch.setattr(os, "mkdir", real_mkdir)
    assert os.path.isdir(run.in_progress)
    run.discard()
    assert shared.is_dir() and not (shared / "workers").exists()
