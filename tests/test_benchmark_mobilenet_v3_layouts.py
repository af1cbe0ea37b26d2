"""The selection logic of benchmarks/mobilenet_v3_layouts.py (no model built, no timing)."""

import pathlib
import runpy

import pytest

from keras_mgic.models.mobilenet_v3 import MGIC_DEFAULTS

SCRIPT = pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / "mobilenet_v3_layouts.py"


@pytest.fixture(scope="module")
def script():
    return runpy.run_path(str(SCRIPT))


def test_readings_cover_the_grid_and_the_default(script):
    readings = script["readings"]()
    assert len(readings) == 2 * 6 * 2 * 3
    assert readings[0] == script["FORMER_DEFAULT"]
    assert MGIC_DEFAULTS in readings  # the builders' default is one of the counted readings
    assert len({tuple(sorted(r.items(), key=str)) for r in readings}) == len(readings)
    assert script["label"](MGIC_DEFAULTS) == "literal, 16/64, SE dense"


def test_deviation_sums_parameters_and_macs_over_table_4(script):
    table4 = {0.6: (2.3, 48), 1.0: (5.2, 145), 1.2: (7.1, 233)}
    exact = {alpha: (p * 1e6, m * 1e6) for alpha, (p, m) in table4.items()}
    assert script["deviation"](exact) == pytest.approx(0)
    doubled = {alpha: (2 * p, m) for alpha, (p, m) in exact.items()}
    assert script["deviation"](doubled) == pytest.approx(3)  # +100% parameters at 3 widths


def test_choose_takes_the_closest_reading_below_dense(script):
    dense = {("large", a): (5e6, 200e6) for a in (0.6, 1.0, 1.2)}
    dense |= {("small", a): (2e6, 50e6) for a in (0.6, 1.0, 1.2)}

    def row(large_macs, small_macs, params=5.2):
        result = {("large", a): (params * 1e6, large_macs * 1e6) for a in (0.6, 1.0, 1.2)}
        return result | {("small", a): (2e6, small_macs * 1e6) for a in (0.6, 1.0, 1.2)}

    rows = [
        row(150, 60),  # closest to Table 4 in MACs, but Small costs more than dense
        row(180, 40),  # below dense everywhere
        row(190, 40),  # below dense, farther from Table 4
    ]
    assert script["choose"](rows, dense) == 1
    assert script["choose"]([row(250, 40)], dense) is None
