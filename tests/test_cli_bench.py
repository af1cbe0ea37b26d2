"""The `keras-mgic bench` subcommand finds and runs the scripts of benchmarks/."""

import pathlib

from keras_mgic import cli

BENCHMARKS = pathlib.Path(__file__).resolve().parent.parent / "benchmarks"
EXPECTED = sorted(p.stem for p in BENCHMARKS.glob("*.py") if not p.stem.startswith("_"))


def test_bench_without_a_name_lists_a_line_per_benchmark(capsys):
    assert cli.main(["bench"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == EXPECTED
    assert "grouped_conv" in EXPECTED and "resnet56" in EXPECTED
    # Each line carries the first line of the script's docstring.
    resnet56 = next(line for line in lines if line.startswith("resnet56 "))
    assert "MGIC-ResNet-56" in resnet56


def test_bench_list_is_the_same_listing(capsys):
    assert cli.main(["bench"]) == 0
    listing = capsys.readouterr().out
    assert cli.main(["bench", "--list"]) == 0
    assert capsys.readouterr().out == listing


def test_bench_unknown_name_is_a_clear_error(capsys):
    assert cli.main(["bench", "no_such_benchmark"]) == 2
    assert "unknown benchmark 'no_such_benchmark'" in capsys.readouterr().err


def test_bench_write_section_replaces_only_its_own_section(tmp_path):
    import sys

    sys.path.insert(0, str(BENCHMARKS))
    from _common import write_section

    path = tmp_path / "B.md"
    write_section("a", "first", path=path)
    write_section("b", "other", path=path)
    write_section("a", "second", path=path)
    text = path.read_text()
    assert "second" in text and "first" not in text and "other" in text
    assert text.count("<!-- a:start -->") == 1
