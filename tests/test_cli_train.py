"""``keras-mgic train`` never loses a run: every argument and the output are checked first, a
failed command leaves an earlier run's files byte-identical, errors are one line and exit 2,
piped output has a line per epoch, and no PNG is claimed without matplotlib."""

import contextlib
import io
import os
import stat
import subprocess
import sys

import pytest
from process_limits import SUBPROCESS_TIMEOUT

from keras_mgic import cli, training

REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: A small run of a registered model: 2 steps an epoch on 16x16 digits.
TINY = (
    "--model resnet20 --image-size 16 --batch-size 16 --max-train-examples 32 "
    "--max-test-examples 16 --verbose 0"
).split()


def _snapshot(folder):
    files = {}
    for root, folders, names in os.walk(folder):
        files.update({os.path.relpath(os.path.join(root, d), folder): None for d in folders})
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                files[os.path.relpath(path, folder)] = f.read()
    return files


def _error_line(capsys):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A finished 1-epoch run, trained without matplotlib (import fails)."""
    output = str(tmp_path_factory.mktemp("finished") / "run")
    saved = sys.modules.get("matplotlib")
    sys.modules["matplotlib"] = None  # `import matplotlib` raises ImportError
    try:
        with contextlib.redirect_stdout(io.StringIO()) as printed:
            code = cli.main(["train", *TINY, "--epochs", "1", "--output", output])
    finally:
        if saved is None:
            del sys.modules["matplotlib"]
        else:
            sys.modules["matplotlib"] = saved
    assert code == 0
    return output, printed.getvalue()


def test_without_matplotlib_no_png_is_written_or_claimed(finished_run):
    output, printed = finished_run
    assert sorted(os.listdir(output)) == ["log.csv", "metrics.json", "model.keras"]
    wrote = next(line for line in printed.splitlines() if line.startswith("Wrote "))
    assert "learning_curves.png" not in wrote and "model.keras" in wrote
    assert "No learning_curves.png: matplotlib is not installed" in printed


@pytest.mark.parametrize(
    "argv",
    [
        ["--model", "resnet21"],  # unknown model: checked in train()
        ["--dataset", "no_such_dataset_xyz"],  # unknown data set: checked before any file
        ["--group-size", "8"],  # resnet20 takes no group_size: the build fails
        ["--mgic-min-width", "64"],  # nor mgic_min_width
        ["--learning-rate", "0"],  # argparse
        ["--warmup-epochs", "5"],  # warmup_epochs >= epochs
    ],
)
def test_a_bad_argument_leaves_the_earlier_run_byte_identical(finished_run, argv, capsys):
    finished_run, _ = finished_run
    before = _snapshot(finished_run)
    try:
        code = cli.main(["train", *TINY, "--epochs", "2", "--output", finished_run, *argv])
    except SystemExit as exit_info:  # argparse's usage errors
        code = exit_info.code
    assert code == 2
    assert "error:" in capsys.readouterr().err
    assert _snapshot(finished_run) == before


def test_output_that_is_a_file_is_one_line_and_status_2(tmp_path, capsys):
    output = tmp_path / "taken"
    output.write_bytes(b"not a folder")
    assert cli.main(["train", *TINY, "--epochs", "1", "--output", str(output)]) == 2
    assert "must be a folder" in _error_line(capsys)
    assert output.read_bytes() == b"not a folder"
    assert cli.main(["train", *TINY, "--epochs", "1", "--output", str(output / "run")]) == 2
    assert "is inside a file" in _error_line(capsys)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_output_is_one_line_and_status_2(tmp_path, capsys):
    folder = tmp_path / "read_only"
    folder.mkdir()
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        code = cli.main(["train", *TINY, "--epochs", "1", "--output", str(folder / "run")])
    finally:
        folder.chmod(stat.S_IRWXU)
    assert code == 2
    assert "Cannot write to" in _error_line(capsys)
    assert os.listdir(folder) == []


def test_unwritable_output_is_detected_by_writing(tmp_path, monkeypatch):
    """The check writes a probe file (permissions alone do not tell, e.g. for root)."""

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(training.run_dir.tempfile, "mkstemp", refuse)
    with pytest.raises(training.OutputError, match="Cannot write to .*Permission denied"):
        training.check_output(str(tmp_path / "run"))


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text("old")

    def fail(temporary):
        with open(temporary, "w") as f:
            f.write("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        training.run_dir.atomic_write(str(path), fail)
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["metrics.json"]
    training.run_dir.write_json(str(path), {"a": 1})
    assert path.read_text() == '{\n  "a": 1\n}' and os.listdir(tmp_path) == ["metrics.json"]


def test_piped_output_has_one_line_per_epoch(tmp_path):
    """Not a terminal: no progress bar (no carriage returns, backspaces or escape codes)."""
    argv = [a for a in TINY if a not in ("--verbose", "0")]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    result = subprocess.run(
        [sys.executable, "-m", "keras_mgic.cli", "train", *argv, "--epochs", "2"]
        + ["--output", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_DIR,
        timeout=SUBPROCESS_TIMEOUT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert not any(code in out for code in ("\r", "\x08", "\x1b["))
    epoch_lines = [line for line in out.splitlines() if line.startswith("Epoch ")]
    assert epoch_lines == ["Epoch 1/2", "Epoch 2/2"]
    assert sum("val_accuracy" in line for line in out.splitlines()) == 2


def test_tflite_of_a_trained_model_classifies_raw_images_as_keras(finished_run, tmp_path):
    """The model a ``keras-mgic train`` run writes takes raw 0-255 images, so its TFLite file,
    from ``keras-mgic export``, needs no normalization outside and agrees with Keras."""
    import keras
    import numpy as np

    from keras_mgic import data, export

    finished_run, _ = finished_run
    tflite_path = str(tmp_path / "model.tflite")
    model_path = os.path.join(finished_run, "model.keras")
    with contextlib.redirect_stdout(io.StringIO()):
        code = cli.main(
            ["export", model_path, "--format", "tflite", "--output", tflite_path]
            + ["--parity-samples", "4"]
        )
    assert code == 0
    _, (x_test, _) = data.load_digits_arrays(image_size=16)
    raw = x_test[:64].astype("float32")  # 0-255, as a camera or an image file gives them
    assert raw.max() > 100
    keras_logits = np.asarray(keras.saving.load_model(model_path).predict(raw, verbose=0))
    tflite_logits = export.run_tflite(tflite_path, raw)
    np.testing.assert_array_equal(tflite_logits.argmax(-1), keras_logits.argmax(-1))
    assert export.parity(keras_logits, tflite_logits)["max_rel_error"] < 1e-4


def test_mgic_min_width_reaches_the_builder():
    from keras_mgic.commands import train as train_command

    parser = cli.build_parser()
    args = parser.parse_args(
        ["train", "--model", "mgic_wide_resnet16_8", "--mgic-min-width", "256"]
    )
    assert train_command.train_kwargs(args)["model_kwargs"] == {"mgic_min_width": 256}
