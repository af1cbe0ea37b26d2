"""A run never loses or corrupts a result (README, "Training"): atomic files with the usual
permissions, a resume that sets aside what does not load, one ``log.csv`` row per epoch after
kills, no silent replacement of a finished run or an export, no NaN model published, Ctrl-C
stopping cleanly, and the same seed giving the same run.

The fast tests simulate kills in-process (a callback that raises, files truncated or left
half-written by hand). The slow ones (``make test-slow``) kill real ``keras-mgic train`` and
``keras-mgic export`` processes with SIGKILL and SIGINT at moments spread over their writes:
``KERAS_MGIC_KILLS=SIGKILLS,SIGINTS`` sets how many (default 12,4)."""

import contextlib
import io
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
from process_limits import SUBPROCESS_TIMEOUT

import keras_mgic
from keras_mgic import cli, training
from keras_mgic.training import checkpoint, run_dir

REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: A registered model on the digits, small: 2 steps an epoch on 16x16 images.
CLI_TINY = (
    "--model resnet20 --image-size 16 --batch-size 16 --max-train-examples 32 "
    "--max-test-examples 16 --verbose 0"
).split()
TINY = dict(batch_size=16, image_size=16, max_train_examples=32, max_test_examples=16, verbose=0)


def tiny_mgic(input_shape, classes, **kwargs):
    inputs = keras.Input(input_shape)
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", use_bias=False)(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    x = keras_mgic.MGICBlock(group_size=4, coarsest_size=4)(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(classes, activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="tiny_mgic")


def other_model(input_shape, classes, **kwargs):
    """Not ``tiny_mgic``: its checkpoint does not load into ``tiny_mgic``."""
    inputs = keras.Input(input_shape)
    x = keras.layers.GlobalAveragePooling2D()(inputs)
    outputs = keras.layers.Dense(classes, activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="other")


class KillAfterEpoch(keras.callbacks.Callback):
    """Simulates a kill after epoch ``epoch``'s checkpoint (user callbacks run after it)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError("simulated kill")


def _snapshot(folder):
    files = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                files[os.path.relpath(path, folder)] = f.read()
    return files


def _log_epochs(path):
    return [int(e) for e in training.read_log(path)["epoch"]]


def _cli(*argv):
    """``(status, stdout, stderr)`` of ``keras-mgic ARGV`` in this process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def _one_line(err):
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished 1-epoch run (copied by the tests that change it)."""
    output = str(tmp_path_factory.mktemp("finished") / "run")
    training.train(tiny_mgic, epochs=1, output=output, **TINY)
    return output


@pytest.fixture
def finished_copy(finished, tmp_path):
    copy = str(tmp_path / "run")
    shutil.copytree(finished, copy)
    return copy


# ---------------------------------------------------------- no silent replacement, no NaN


def test_a_rerun_into_a_finished_run_is_refused_in_one_line(finished_copy):
    before = _snapshot(finished_copy)
    code, _, err = _cli("train", *CLI_TINY, "--epochs", "1", "--output", finished_copy)
    assert code == 2 and "holds a finished run" in _one_line(err) and "--overwrite" in err
    assert _snapshot(finished_copy) == before


def test_overwrite_replaces_the_run_and_removes_its_exports(finished_copy, capsys):
    stale_tflite = os.path.join(finished_copy, "model.tflite")
    stale_saved_model = os.path.join(finished_copy, "model_saved_model")
    with open(stale_tflite, "wb") as f:
        f.write(b"old export")
    os.mkdir(stale_saved_model)
    with open(os.path.join(stale_saved_model, "saved_model.pb"), "wb") as f:
        f.write(b"old export")
    with open(os.path.join(finished_copy, "notes.txt"), "w") as f:
        f.write("the user's own file stays")
    metrics = training.train(tiny_mgic, epochs=2, output=finished_copy, overwrite=True, **TINY)
    assert "Removed the earlier run's model.tflite, model_saved_model" in capsys.readouterr().out
    assert not os.path.exists(stale_tflite) and not os.path.exists(stale_saved_model)
    assert sorted(os.listdir(finished_copy)) == sorted([*metrics["files"], "notes.txt"])
    with open(os.path.join(finished_copy, "metrics.json")) as f:
        assert json.load(f)["epochs_completed"] == 2
    assert _log_epochs(os.path.join(finished_copy, "log.csv")) == [0, 1]


def test_a_nan_run_raises_and_keeps_the_good_model(finished_copy):
    before = _snapshot(finished_copy)
    with pytest.raises(training.LossNaNError, match="NaN or infinite in epoch 1 of 2"):
        training.train(
            tiny_mgic, epochs=2, output=finished_copy, overwrite=True,
            **{**TINY, "learning_rate": 1e30},
        )  # fmt: skip
    assert _snapshot(finished_copy) == before  # no epoch finished: no checkpoint either
    model = keras.saving.load_model(os.path.join(finished_copy, "model.keras"))
    assert all(np.isfinite(w).all() for w in model.get_weights())


@pytest.mark.parametrize(
    "error, status, words",
    [
        (training.LossNaNError("The loss became NaN\nsecond line"), 1, "error: The loss"),
        (checkpoint.TrainingInterrupted(signal.SIGINT, 2, 5, "RUN"), 130, "after 2 of 5"),
        (checkpoint.TrainingInterrupted(signal.SIGTERM, 0, 5, "RUN"), 143, "before the first"),
        (KeyboardInterrupt(), 130, "interrupted"),
    ],
)
def test_the_command_line_reports_a_stop_in_one_line(error, status, words, monkeypatch, tmp_path):
    def stopped(*args, **kwargs):
        raise error

    monkeypatch.setattr(training, "train", stopped)
    code, _, err = _cli("train", *CLI_TINY, "--output", tmp_path / "run")
    assert code == status and words in _one_line(err)


def test_export_refuses_to_replace_an_existing_output(finished, tmp_path):
    model = os.path.join(finished, "model.keras")
    taken = tmp_path / "taken.tflite"
    taken.write_bytes(b"an unrelated file")
    argv = ("export", model, "--format", "tflite", "--output", taken, "--parity-samples", 2)
    code, _, err = _cli(*argv)
    assert code == 2 and "The output exists" in _one_line(err) and "--overwrite" in err
    assert taken.read_bytes() == b"an unrelated file"
    code, _, err = _cli(*argv, "--overwrite")
    assert code == 0, err
    assert taken.read_bytes()[4:8] == b"TFL3"
    assert sorted(os.listdir(tmp_path)) == ["taken.tflite"]
    assert os.stat(taken).st_mode & 0o777 == 0o666 & ~_umask()


# ------------------------------------------------------------------------ file permissions


def _umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_every_file_gets_the_usual_permissions(finished, tmp_path):
    expected = 0o666 & ~_umask()
    for root, _, names in os.walk(finished):
        for name in names:
            mode = os.stat(os.path.join(root, name)).st_mode & 0o777
            assert mode == expected, (name, oct(mode))
    path = tmp_path / "a.json"
    run_dir.write_json(path, {"a": 1})
    assert os.stat(path).st_mode & 0o777 == expected


# ------------------------------------------------------------ resume validates what it finds


def _interrupted(tmp_path, epochs=3, kill_after=1, builder=tiny_mgic):
    output = str(tmp_path / "run")
    with pytest.raises(RuntimeError, match="simulated kill"):
        training.train(
            builder, epochs=epochs, output=output, callbacks=[KillAfterEpoch(kill_after)], **TINY
        )
    return output, run_dir.RunDir(output)


def test_a_damaged_checkpoint_is_set_aside_and_the_log_has_one_row_per_epoch(tmp_path, capsys):
    """What SIGKILLs leave: a temporary file, a checkpoint without its .json, a log with a
    repeated row, and a truncated checkpoint (as a disk or a copy may leave it). The rerun
    sets the damaged one aside in one line, resumes from the one before, and rebuilds the
    log from that checkpoint."""
    output, run = _interrupted(tmp_path)  # checkpoints after epochs 1 and 2
    with open(os.path.join(run.in_progress, ".tmp_999999999_x_epoch_0003.keras"), "wb") as f:
        f.write(b"PK\x03\x04 half a zip")
    shutil.copy(run.checkpoint_path(2, "keras"), run.checkpoint_path(3, "keras"))  # no .json
    with open(run.partial_log, "a") as f:
        f.write("1,0.5,0.5,0.5,0.5,0.5,0.5,0.5\n")
    newest = run.checkpoint_path(2, "keras")
    with open(newest, "r+b") as f:
        f.truncate(os.path.getsize(newest) // 2)
    capsys.readouterr()
    metrics = training.train(tiny_mgic, epochs=3, output=output, **{**TINY, "verbose": 2})
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith("Set aside"))
    assert "after epoch 2" in line and "bytes" in line and "Traceback" not in out
    assert "Resuming from epoch 2 of 3" in out
    assert metrics["resumed_from_epoch"] == 1 and metrics["epochs_completed"] == 3
    assert _log_epochs(os.path.join(output, "log.csv")) == [0, 1, 2]
    assert sorted(os.listdir(os.path.join(output, "set_aside"))) == [
        "epoch_0002.json",
        "epoch_0002.keras",
    ]
    assert sorted(os.listdir(output)) == sorted([*metrics["files"], "set_aside"])


def test_a_checkpoint_that_does_not_load_is_set_aside_and_the_run_starts_again(tmp_path, capsys):
    """Checksums right, contents wrong (another model's): the load fails, the variables are
    put back, both checkpoints go aside and the run starts again, saying so."""
    output, run = _interrupted(tmp_path, epochs=2, kill_after=0)
    other = other_model((16, 16, 3), 10)
    other.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    for epoch in (1,):
        with open(run.checkpoint_path(epoch, "json")) as f:
            metadata = json.load(f)
        run.save_checkpoint(other.save, epoch, metadata)
    capsys.readouterr()
    metrics = training.train(tiny_mgic, epochs=2, output=output, **{**TINY, "verbose": 2})
    out = capsys.readouterr().out
    assert out.count("Set aside the checkpoint") == 1
    assert "No usable checkpoint left: starting again from epoch 1" in out
    assert metrics["resumed_from_epoch"] == 0 and metrics["epochs_completed"] == 2
    assert np.isfinite(metrics["train_loss"])
    assert _log_epochs(os.path.join(output, "log.csv")) == [0, 1]


def test_sigint_stops_at_a_consistent_state_and_the_rerun_resumes(tmp_path):
    class Interrupt(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if self.model.optimizer.iterations.numpy() == 3:  # in epoch 2 (2 steps each)
                os.kill(os.getpid(), signal.SIGINT)

    output = str(tmp_path / "run")
    previous = signal.getsignal(signal.SIGINT)
    with pytest.raises(checkpoint.TrainingInterrupted) as info:
        training.train(tiny_mgic, epochs=2, output=output, callbacks=[Interrupt()], **TINY)
    assert signal.getsignal(signal.SIGINT) is previous
    assert info.value.exit_status == 130 and info.value.epochs_done == 1
    assert "Interrupted (SIGINT) after 1 of 2 epochs" in str(info.value)
    assert os.listdir(output) == ["in_progress"]
    assert _log_epochs(os.path.join(output, "in_progress", "log.csv")) == [0]
    metrics = training.train(tiny_mgic, epochs=2, output=output, **TINY)
    assert metrics["resumed_from_epoch"] == 1
    assert _log_epochs(os.path.join(output, "log.csv")) == [0, 1]


# ----------------------------------------------------------------------- the same seed


def _same_run_twice(tmp_path, model, **kwargs):
    runs = []
    for name in ("a", "b"):
        output = str(tmp_path / name)
        metrics = training.train(model, output=output, **kwargs)
        weights = keras.saving.load_model(os.path.join(output, "model.keras")).get_weights()
        log = training.read_log(os.path.join(output, "log.csv"))
        log.pop("train_seconds")
        runs.append((metrics, weights, log))
    (first, first_weights, first_log), (second, second_weights, second_log) = runs
    assert first["deterministic"] is True
    for key in ("test_loss", "test_accuracy", "train_loss", "train_accuracy"):
        assert first[key] == second[key], key
    assert all(np.array_equal(a, b) for a, b in zip(first_weights, second_weights, strict=True))
    assert first_log == second_log


def test_the_same_seed_gives_the_same_weights_and_metrics(tmp_path):
    """Weights, data order and augmentation (pad-and-crop, flip) seeded; TF's kernels
    deterministic."""
    _same_run_twice(tmp_path, tiny_mgic, epochs=2, seed=3, **TINY)


@pytest.mark.slow
def test_the_demo_model_gives_the_same_run_twice(tmp_path):
    _same_run_twice(tmp_path, "mgic_resnet20", epochs=2, seed=3, **{**TINY, "image_size": 32})


# ------------------------------------------------- the other tasks through the checkpoints


@pytest.mark.slow
def test_segmentation_run_resumes_from_its_checkpoint(tmp_path, capsys):
    output = str(tmp_path / "run")
    kwargs = dict(
        epochs=2, output=output, image_size=32, batch_size=8, max_train_examples=16,
        max_test_examples=8, verbose=2,
    )  # fmt: skip
    with pytest.raises(RuntimeError, match="simulated kill"):
        training.train(
            "mgic_lraspp_mobilenet_v3_small", "digit_mosaics", callbacks=[KillAfterEpoch(0)],
            **kwargs,
        )  # fmt: skip
    metrics = training.train("mgic_lraspp_mobilenet_v3_small", "digit_mosaics", **kwargs)
    assert "Resuming from epoch 2 of 2" in capsys.readouterr().out
    assert metrics["task"] == "semantic_segmentation" and metrics["resumed_from_epoch"] == 1
    assert _log_epochs(os.path.join(output, "log.csv")) == [0, 1]
    assert "predictions.png" in os.listdir(output)
    keras.saving.load_model(os.path.join(output, "model.keras"))


@pytest.mark.slow
def test_point_cloud_run_resumes_from_its_checkpoint(tmp_path, capsys):
    output = str(tmp_path / "run")
    kwargs = dict(
        epochs=2, output=output, num_points=32, batch_size=16, max_train_examples=32,
        max_test_examples=16, verbose=2,
        model_kwargs={"k": 3},  # pooled: 32 / 8 = 4 coarsest points, more than k neighbours
    )  # fmt: skip
    with pytest.raises(RuntimeError, match="simulated kill"):
        training.train("mgic_diffgcn", "digit_points", callbacks=[KillAfterEpoch(0)], **kwargs)
    metrics = training.train("mgic_diffgcn", "digit_points", **kwargs)
    assert "Resuming from epoch 2 of 2" in capsys.readouterr().out
    assert metrics["task"] == "point_cloud_classification"
    assert metrics["resumed_from_epoch"] == 1
    assert _log_epochs(os.path.join(output, "log.csv")) == [0, 1]
    keras.saving.load_model(os.path.join(output, "model.keras"))


# ------------------------------------------- real kills of real processes (make test-slow)

#: The new user's run, smaller (ResNet-20, which traces faster than MGIC-ResNet-20; the
#: checkpoint code is the same): 2 steps an epoch on 16x16 digits, 6 epochs.
KILL_EPOCHS = 6
KILL_RUN = (
    "--model resnet20 --dataset digits --image-size 16 --batch-size 32 "
    f"--max-train-examples 64 --max-test-examples 32 --epochs {KILL_EPOCHS} --verbose 2"
).split()
#: A process takes about 10-30 s here (starting TensorFlow, tracing, 6 epochs): the suite's
#: subprocess limit, so a busy machine never fails the test.
PROCESS_TIMEOUT = SUBPROCESS_TIMEOUT
_WRITTEN = (".tmp_", "epoch_", "log.csv", "model.keras", "metrics.json", ".png")


def _kill_counts():
    value = os.environ.get("KERAS_MGIC_KILLS", "12,4")
    try:
        kills, interrupts = (int(v) for v in value.split(","))
    except ValueError:
        raise ValueError(
            f"KERAS_MGIC_KILLS must be 'SIGKILLS,SIGINTS'. Received: {value!r}"
        ) from None
    return kills, interrupts


def _files(output):
    """``{relative path: (size, mtime)}`` of the run's files (``DIR`` and ``in_progress``)."""
    found = {}
    for folder in (output, os.path.join(output, run_dir.IN_PROGRESS)):
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            continue
        for entry in entries:
            try:
                if entry.is_file():
                    stat = entry.stat()
                    found[os.path.relpath(entry.path, output)] = (stat.st_size, stat.st_mtime_ns)
            except FileNotFoundError:
                continue
    return found


def _temporaries(output):
    return [name for name in _files(output) if os.path.basename(name).startswith(".tmp_")]


def _wait_for_a_write(process, output, deadline, changes=1):
    """Polls until the run's files have appeared or changed ``changes`` times (a temporary
    file appearing, growing, renamed, the next file...); False if the process ended."""
    before = _files(output)
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        now = _files(output)
        changed = [n for n, v in now.items() if before.get(n) != v]
        if any(any(key in name for key in _WRITTEN) for name in changed):
            changes -= 1
            if not changes:
                return True
        before = now
        time.sleep(0.002)
    raise AssertionError("no write within the timeout")


def _resumed_epochs(stdout):
    """The epochs a process said it resumed after (0: a fresh start)."""
    for line in stdout.splitlines():
        if line.startswith("Resuming from epoch "):
            return int(line.split()[3]) - 1
        if line.startswith("All ") and "epochs were done" in line:
            return int(line.split()[1])
    return 0


def _reported_epochs(stdout, start):
    """Epochs the process reported complete: ``start`` plus its epoch-end lines."""
    return start + sum(1 for line in stdout.splitlines() if " - val_loss: " in line)


def _check_complete(output):
    with open(os.path.join(output, "metrics.json")) as f:
        metrics = json.load(f)
    assert metrics["epochs_completed"] == KILL_EPOCHS
    assert _log_epochs(os.path.join(output, "log.csv")) == list(range(KILL_EPOCHS))
    keras.saving.load_model(os.path.join(output, "model.keras"))
    names = [name for name in os.listdir(output) if not name.startswith(".tmp_")]
    assert sorted(names) == sorted(metrics["files"]), os.listdir(output)


def _train_process(output, log_folder, index):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="", PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [REPO_DIR, env.get("PYTHONPATH")]))
    stdout = open(os.path.join(log_folder, f"{index}.out"), "w")
    stderr = open(os.path.join(log_folder, f"{index}.err"), "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "keras_mgic.cli", "train", *KILL_RUN, "--output", output],
        stdout=stdout,
        stderr=stderr,
        env=env,
        cwd=REPO_DIR,
    )
    return process, stdout, stderr


def _read(file):
    file.close()
    with open(file.name) as f:
        return f.read()


@pytest.mark.slow
def test_kills_during_the_writes_never_lose_a_completed_epoch(tmp_path):
    """SIGKILL and SIGINT 1 ms to 400 ms after the 1st to 5th change of a run's files
    (end-of-epoch checkpoints, the final files), the same command run again after each: every rerun
    resumes at least after every epoch reported complete, nothing is set aside, SIGINT exits
    130 (or 0 once the run is done) with one line, and each folder ends complete."""
    kills, interrupts = _kill_counts()
    rng = random.Random(0)
    signals = [signal.SIGKILL] * kills + [signal.SIGINT] * interrupts
    rng.shuffle(signals)
    logs = tmp_path / "logs"
    logs.mkdir()
    stats = {"kills": 0, "interrupts": 0, "mid_write": 0, "resumed": 0, "complete_runs": 0}
    folder, reported, index = 0, 0, 0
    output = str(tmp_path / f"run{folder}")

    def finish_folder():
        nonlocal folder, reported, output
        _check_complete(output)
        stats["complete_runs"] += 1
        folder, reported = folder + 1, 0
        output = str(tmp_path / f"run{folder}")

    while signals or os.path.exists(output):
        index += 1
        process, out, err = _train_process(output, logs, index)
        deadline = time.monotonic() + PROCESS_TIMEOUT
        sent = None
        if signals and _wait_for_a_write(process, output, deadline, rng.randint(1, 5)):
            time.sleep(math.exp(rng.uniform(math.log(0.001), math.log(0.4))))
            sent = signals.pop()
            temporaries = _temporaries(output)
            process.send_signal(sent)
        code = process.wait(timeout=PROCESS_TIMEOUT)
        stdout, stderr = _read(out), _read(err)
        start = _resumed_epochs(stdout)
        assert start >= reported, (index, start, reported, stdout)
        assert "Set aside" not in stdout and "Traceback" not in stderr, (index, stderr)
        stats["resumed"] += start > 0
        reported = max(reported, _reported_epochs(stdout, start))
        expected = {None: (0,), signal.SIGKILL: (0, -signal.SIGKILL), signal.SIGINT: (0, 130)}
        assert code in expected[sent], (index, code, stderr[-3000:])
        if code == -signal.SIGKILL:
            stats["kills"] += 1
            stats["mid_write"] += bool(_temporaries(output))
        elif code == 130:
            stats["interrupts"] += 1
            stats["mid_write"] += bool(temporaries)
            ours = [line for line in stderr.splitlines() if line.startswith("keras-mgic")]
            assert len(ours) == 1 and "Interrupted (SIGINT)" in ours[0], stderr  # (and absl's)
        done = os.path.exists(os.path.join(output, "metrics.json"))
        if done and not os.path.exists(os.path.join(output, run_dir.IN_PROGRESS)):
            finish_folder()  # (a kill after the last write may leave a temporary to clean)
    print(f"\nkill test: {stats} in {index} processes")
    assert stats["complete_runs"] >= 1


def _contents(path):
    return _snapshot(path) if os.path.isdir(path) else open(path, "rb").read()


@pytest.mark.slow
@pytest.mark.parametrize("export_format", ["tflite", "saved_model"])
def test_a_killed_export_leaves_the_old_output_or_the_new_one_complete(
    finished, tmp_path, export_format
):
    """Two models exported in turn onto one output, each export killed 1 ms to 3 s after its
    temporary appears: the output is then exactly the previous export or the new one."""
    import tensorflow as tf

    from keras_mgic import export

    models = [os.path.join(finished, "model.keras"), str(tmp_path / "other.keras")]
    tiny_mgic((16, 16, 3), 10).save(models[1])  # other weights: another export
    suffix = ".tflite" if export_format == "tflite" else "_saved_model"
    options = ["--format", export_format, "--parity-samples", "2", "--overwrite"]
    references = []
    for index, model in enumerate(models):
        reference = str(tmp_path / "references" / f"{index}{suffix}")
        os.makedirs(os.path.dirname(reference), exist_ok=True)
        assert _cli("export", model, *options, "--output", reference)[0] == 0
        references.append(_contents(reference))
    output = str(tmp_path / f"m{suffix}")
    assert _cli("export", models[0], *options, "--output", output)[0] == 0
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [REPO_DIR, env.get("PYTHONPATH")]))
    rng = random.Random(1)
    outcomes = {"old": 0, "new": 0}
    current = 0
    for attempt in range(4):
        new = (current + 1) % 2
        process = subprocess.Popen(
            [sys.executable, "-m", "keras_mgic.cli", "export", models[new], *options]
            + ["--output", output],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        prefix = f".{os.path.basename(output)}.tmp"
        deadline = time.monotonic() + PROCESS_TIMEOUT
        while process.poll() is None and time.monotonic() < deadline:
            if any(name.startswith(prefix) for name in os.listdir(tmp_path)):
                break
            time.sleep(0.002)
        time.sleep(math.exp(rng.uniform(math.log(0.001), math.log(3.0))))
        process.kill()
        process.wait(timeout=PROCESS_TIMEOUT)
        now = _contents(output)
        if now == references[current]:
            outcomes["old"] += 1
            continue
        if export_format == "tflite":
            assert now == references[new], attempt
            export.run_tflite(output, np.zeros((1, 16, 16, 3), "float32"))
        else:
            tf.saved_model.load(output)  # complete (its bytes may differ from a re-export)
        outcomes["new"] += 1
        current = new
    print(f"\nkilled {export_format} exports: {outcomes}")
