"""The bolus-calculator procedures (hil/procedures/bolus_calculator.py) on the emulated rig: a pump that times a CGM
value from when it arrived, not from when the CGM took it, is seen using a late value; a pump refusing advice from a
stale value has its refusal kept as its answer; a pump still counting insulin on board after the washout is the rig's
ERROR (the case's premise not met), not a verdict on another case than the one specified."""

from pathlib import Path

import pytest

from hil.drivers.contracts import BolusAdvice
from hil.errors import DeviceRefused, StartingStateError
from hil.evidence.recording import CsvRecording
from hil.procedures.bolus_calculator import RECORDING_COLUMNS, cgm_advice, configure, washed_out_advice
from hil.rig.config import load_rig
from hil.rig.rig import Rig
from hil.specs.methods import CalculatorAdvice, CalculatorCgm

ROOT = Path(__file__).resolve().parents[2]
NOMINAL = ROOT / "fixtures" / "rigs" / "emulator.yaml"
SETTINGS = {"carb_ratio_g_per_U": 12, "correction_factor_mg_dl_per_U": 40, "correction_target_mg_dl": 110}
CGM = CalculatorCgm(**SETTINGS, carbs_g=30, cgm_mg_dl=250, fresh_age_s=60, max_age_min=10, beyond_min=5,
                    advice_error_min_U=-0.05, advice_error_max_U=0.0)


class _Wrapped:
    def __init__(self, pump):
        self._pump = pump

    def __getattr__(self, name):
        return getattr(self._pump, name)


class _TimedFromArrival(_Wrapped):
    """Takes every CGM value as just taken: it times a value's age from its arrival."""

    def cgm_input(self, glucose_mg_dl, trend_mg_dl_min, age_s=0.0):
        return self._pump.cgm_input(glucose_mg_dl, trend_mg_dl_min, 0.0)


class _RefusingStale(_Wrapped):
    def bolus_advice(self, carbs_g, glucose_mg_dl=None, use_cgm=False):
        advice = self._pump.bolus_advice(carbs_g, glucose_mg_dl, use_cgm)
        if use_cgm and advice.glucose_mg_dl is None:
            raise DeviceRefused("pump", "NOT_ALLOWED", "no valid CGM value")
        return advice


class _NeverWashedOut(_Wrapped):
    def bolus_advice(self, carbs_g, glucose_mg_dl=None, use_cgm=False):
        advice = self._pump.bolus_advice(carbs_g, glucose_mg_dl, use_cgm)
        return BolusAdvice(advice.total_U, advice.iob_U + 0.5, advice.glucose_mg_dl)


def _run(wrapper, tmp_path):
    with Rig(load_rig(NOMINAL)) as rig, CsvRecording(tmp_path / "r.csv", RECORDING_COLUMNS) as raw:
        rig.begin_test("calculator")
        rig._pump = wrapper(rig.pump)  # noqa: SLF001 - the rig opened it; the test wraps it
        configure(rig, CGM)
        return cgm_advice(rig, CGM, raw)


def test_a_value_sent_late_is_seen_used_by_a_pump_timing_from_arrival(tmp_path):
    aged, late = _run(_TimedFromArrival, tmp_path).stale.values()
    assert aged.glucose_mg_dl is None  # aged in the pump past 15 min: dropped either way
    assert late.glucose_mg_dl == 290  # a later value sent 12.5 min old, taken as fresh: only the late probe sees it


def test_a_refusal_of_stale_advice_is_kept_as_the_pumps_answer(tmp_path):
    run = _run(_RefusingStale, tmp_path)
    assert run.fresh.glucose_mg_dl == 250
    assert list(run.stale.values()) == ["refused (NOT_ALLOWED)"] * 2


def test_insulin_on_board_left_after_the_washout_is_the_rigs_error(tmp_path):
    case = CalculatorAdvice(**SETTINGS, carbs_g=55, glucose_mg_dl=200, washout_h=6)
    with Rig(load_rig(NOMINAL)) as rig, CsvRecording(tmp_path / "r.csv", RECORDING_COLUMNS) as raw:
        rig.begin_test("washout")
        rig._pump = _NeverWashedOut(rig.pump)  # noqa: SLF001
        configure(rig, case)
        with pytest.raises(StartingStateError, match="counts 0.500 U on board after 6 h"):
            washed_out_advice(rig, case, raw)
