"""The CLI speaks the user's words: it lists the model and data-set names, ties s_g / s_c to
their flags, and an error is one line on stderr with no TensorFlow start-up lines."""

import os
import subprocess
import sys

from process_limits import SUBPROCESS_TIMEOUT

from keras_mgic import cli
from keras_mgic.commands import names

REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _help(command):
    parser = cli.build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    return subparsers.choices[command].format_help()


def test_the_static_names_are_the_registry_names():
    from keras_mgic.models import MODELS

    assert list(names.MODEL_NAMES) == list(MODELS)


def test_train_help_names_every_model_and_data_set_and_the_paper_symbols():
    text = _help("train")
    for name in names.MODEL_NAMES:
        assert f"\n  {name} " in text
    for name in ("digits", "cifar10", "digit_mosaics", "oxford_iiit_pet", "cityscapes"):
        assert name in text
    assert "digit_points" in text and "modelnet10" in text
    assert "--group-size is the paper's s_g" in text
    assert "--coarsest-size is the paper's s_c" in text
    assert "--group-size S_G" in text and "--coarsest-size S_C" in text


def test_summary_help_ties_the_flags_to_the_paper_symbols():
    text = _help("summary")
    assert "--group-size S_G" in text and "s_g of the MGIC model" in text


def test_models_subcommand_lists_them(capsys):
    assert cli.main(["models"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in names.MODEL_NAMES)
    assert "data sets (--dataset):" in out


def _run(args, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL",)}
    env["PYTHONPATH"] = REPO_DIR + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=SUBPROCESS_TIMEOUT,
    )


def test_a_cli_error_is_one_line_and_nothing_else(tmp_path):
    """No TensorFlow start-up lines before the error, whether the console script runs it or
    ``python -m keras_mgic.cli`` does (the second imports TensorFlow with the package)."""
    script = (
        "import sys; sys.argv = ['keras-mgic'] + sys.argv[1:]; "
        "from keras_mgic.cli import main; sys.exit(main())"
    )
    arguments = ["train", "--model", "no_such_model", "--output", "out"]
    for command in (["-c", script, *arguments], ["-m", "keras_mgic.cli", *arguments]):
        result = _run(command, tmp_path)
        assert result.returncode == 2, result.stderr
        lines = result.stderr.splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("keras-mgic train: error: Unknown model")
        assert result.stdout == ""


def test_a_demo_error_is_one_line_and_nothing_else(tmp_path):
    (tmp_path / "a_file").write_text("not a folder")
    result = _run(["-m", "keras_mgic.demo", "--output", "a_file"], tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "is a file" in lines[0], result.stderr
