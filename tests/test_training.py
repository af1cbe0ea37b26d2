"""keras_mgic.training and ``keras-mgic train``: fit, metrics.json, resume, mixed precision."""

import argparse
import json
import os
import re

import keras
import numpy as np
import pytest

import keras_mgic
from keras_mgic import profiling, training
from keras_mgic.commands import train as train_command
from keras_mgic.models import MODELS, get_model


def tiny_mgic(input_shape, num_classes, **kwargs):
    """A small real MGIC network (one MGICBlock over 16 channels): quick to trace."""
    inputs = keras.Input(input_shape)
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", use_bias=False)(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    x = keras_mgic.MGICBlock(group_size=4, coarsest_size=4)(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="tiny_mgic")


TINY = dict(
    batch_size=16,
    image_size=16,
    max_train_examples=48,
    max_test_examples=16,
    verbose=0,
)


def _csv_epochs(run_dir):
    return [int(e) for e in training.read_log(os.path.join(run_dir, "log.csv"))["epoch"]]


# ------------------------------------------------------- a short real run (MGIC-ResNet-20)


@pytest.fixture(scope="module")
def resnet_run(tmp_path_factory):
    run_dir = str(tmp_path_factory.mktemp("mgic_resnet20"))
    metrics = training.train(
        "mgic_resnet20",
        "digits",
        epochs=3,
        batch_size=16,
        learning_rate=0.02,
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


def test_metrics_json_and_artifacts(resnet_run):
    run_dir, metrics = resnet_run
    with open(os.path.join(run_dir, "metrics.json")) as f:
        written = json.load(f)
    assert written == json.loads(json.dumps(metrics))
    for key in ("test_accuracy", "params", "flops", "epochs_completed", "seconds_per_epoch"):
        assert written[key] is not None, key
    assert 0.0 <= written["test_accuracy"] <= 1.0 and np.isfinite(written["test_loss"])
    assert written["epochs_completed"] == 3 and written["resumed_from_epoch"] == 0
    assert written["seconds_per_epoch"] > 0
    assert written["steps_per_epoch"] == 4 and written["global_batch_size"] == 16
    assert written["dtype_policy"] == "float32" and written["replicas"] == 1
    assert written["input_shape"] == [16, 16, 3] and written["num_classes"] == 10
    # params and FLOPs are the paper's counts of the trained model.
    model = keras.saving.load_model(os.path.join(run_dir, "model.keras"))
    assert written["params"] == profiling.count_params(model)
    assert written["flops"] == profiling.count_flops(model)
    assert written["params"] == profiling.count_params(get_model("mgic_resnet20"))
    assert model.output_shape == (None, 10)
    # One CSV row per epoch, the learning-rate schedule logged, a PNG, a checkpoint.
    log = training.read_log(os.path.join(run_dir, "log.csv"))
    assert log["epoch"] == [0.0, 1.0, 2.0]
    assert log["learning_rate"][0] == pytest.approx(0.02) and log["learning_rate"][2] < 0.02
    with open(os.path.join(run_dir, "learning_curves.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert os.path.exists(os.path.join(run_dir, "checkpoints", "last.keras"))
    assert not os.path.exists(os.path.join(run_dir, "backup"))  # deleted after success


# --------------------------------------------------------------------------------- resume


class KillAfterEpoch(keras.callbacks.Callback):
    """Simulates a killed job: raises at the end of epoch ``epoch`` (0-based)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError("simulated kill")


def test_resume_continues_at_the_next_epoch(tmp_path):
    run_dir = str(tmp_path / "run")
    with pytest.raises(RuntimeError, match="simulated kill"):
        training.train(tiny_mgic, epochs=3, output=run_dir, callbacks=[KillAfterEpoch(0)], **TINY)
    with open(os.path.join(run_dir, "backup", "training_metadata.json")) as f:
        assert json.load(f)["epoch"] == 1
    assert _csv_epochs(run_dir) == [0]
    assert not os.path.exists(os.path.join(run_dir, "metrics.json"))

    metrics = training.train(tiny_mgic, epochs=3, output=run_dir, **TINY)
    assert metrics["resumed_from_epoch"] == 1 and metrics["epochs_completed"] == 3
    assert _csv_epochs(run_dir) == [0, 1, 2]  # epoch 0 is not trained twice
    # The optimizer state came back too: 3 epochs x 3 steps, not 2 x 3.
    model = keras.saving.load_model(os.path.join(run_dir, "model.keras"))
    assert int(model.optimizer.iterations.numpy()) == 3 * metrics["steps_per_epoch"]
    assert not os.path.exists(os.path.join(run_dir, "backup"))

    # A finished run leaves no backup: a new run into the directory starts over.
    again = training.train(tiny_mgic, epochs=1, output=run_dir, **TINY)
    assert again["resumed_from_epoch"] == 0 and again["epochs_completed"] == 1
    assert _csv_epochs(run_dir) == [0]


# -------------------------------------------------------------------------- mixed precision


def test_mixed_float16_step_is_finite_with_loss_scaling():
    keras.config.set_dtype_policy("mixed_float16")
    try:
        # The real builder keeps its logits in float32.
        resnet = get_model("mgic_resnet20", input_shape=(16, 16, 3), num_classes=10)
        assert resnet.outputs[0].dtype == "float32"
        assert resnet.layers[-1].dtype_policy.name == "float32"
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
    assert keras.config.dtype_policy().name == "float32"


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


def test_cosine_schedule_decays_to_zero():
    schedule = training.learning_rate_schedule(0.2, "cosine", epochs=4, steps_per_epoch=5)
    assert float(schedule(0)) == pytest.approx(0.2)
    assert float(schedule(10)) == pytest.approx(0.1, rel=1e-5)
    assert float(schedule(20)) == pytest.approx(0.0, abs=1e-7)


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
    ],
)
def test_clear_value_errors(kwargs, match, tmp_path):
    kwargs = {"model": tiny_mgic, "output": str(tmp_path), **TINY, **kwargs}
    with pytest.raises(ValueError, match=match):
        training.train(**kwargs)


def test_multi_worker_needs_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="TF_CONFIG.*Received: TF_CONFIG=None"):
        training.make_strategy("multi-worker")


def test_builder_arguments_it_does_not_take(tmp_path):
    with pytest.raises(ValueError, match="Could not build the model.*group_size"):
        training.train(
            "resnet20", output=str(tmp_path), model_kwargs={"group_size": 8}, epochs=1, **TINY
        )


def test_every_registered_model_name_is_accepted():
    for name in MODELS:
        assert training._resolve_builder(name) is MODELS[name]


# ------------------------------------------------------------------------------------- CLI


def _parse(argv):
    parser = argparse.ArgumentParser()
    train_command.add_arguments(parser)
    return parser.parse_args(argv)


def test_cli_arguments_reach_train(monkeypatch):
    seen = {}

    def fake_train(model, dataset, **kwargs):
        seen.update(model=model, dataset=dataset, **kwargs)
        keys = ("test_accuracy", "params", "flops", "epochs_completed", "seconds_per_epoch")
        return dict.fromkeys(keys, 1)

    monkeypatch.setattr(training, "train", fake_train)
    args = _parse(
        "--model mgic_resnet56 --dataset cifar10 --epochs 3 --batch-size 32 "
        "--learning-rate 0.2 --schedule step --weight-decay 0.0005 --mixed-precision "
        "--jit-compile --output out --data-dir dd --distribute mirrored --group-size 16 "
        "--coarsest-size 32".split()
    )
    assert train_command.run(args) == 0
    assert seen["model"] == "mgic_resnet56" and seen["dataset"] == "cifar10"
    assert seen["epochs"] == 3 and seen["batch_size"] == 32
    assert seen["learning_rate"] == 0.2 and seen["schedule"] == "step"
    assert seen["weight_decay"] == 0.0005 and seen["mixed_precision"] is True
    assert seen["jit_compile"] is True and seen["distribute"] == "mirrored"
    assert seen["output"] == "out" and seen["data_dir"] == "dd"
    assert seen["model_kwargs"] == {"group_size": 16, "coarsest_size": 32}


def test_cli_trains_a_model(tmp_path, capsys):
    from keras_mgic import cli

    out = str(tmp_path / "cli")
    argv = (
        f"train --model resnet20 --epochs 1 --batch-size 16 --image-size 16 --output {out} "
        "--max-train-examples 32 --max-test-examples 16 --verbose 0"
    )
    assert cli.main(argv.split()) == 0
    printed = json.loads(capsys.readouterr().out.splitlines()[-2])
    with open(os.path.join(out, "metrics.json")) as f:
        metrics = json.load(f)
    assert printed["params"] == metrics["params"] > 0
    assert metrics["model"] == "resnet20" and metrics["epochs_completed"] == 1


@pytest.mark.parametrize(
    "argv, match",
    [
        ("--model resnet21", r"Unknown model: expected one of \[.*'mgic_resnet56'"),
        ("--model resnet20 --dataset cifar10 --data-dir {tmp}", "--data-dir"),
        ("--model resnet20 --batch-size 0", "Received: batch_size=0"),
    ],
)
def test_cli_errors_are_one_line_with_status_2(argv, match, tmp_path, capsys):
    args = _parse(argv.format(tmp=tmp_path).split() + ["--output", str(tmp_path / "o")])
    assert train_command.run(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("keras-mgic train: error: ")
    assert re.search(match, err)
