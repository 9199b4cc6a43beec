"""The closed loop through the emulated rig with a programme of boluses and meals (hil.procedures.closed_loop.run):
each bolus reaches the pump at its minute, each meal the patient at its minute, every minute is recorded, the
patient gets what the balance weighed, and auto mode runs for the loop and is left off."""

import csv
from pathlib import Path

import numpy as np
import pytest

from hil.drivers.contracts import AutoBasal, AutoSettings, AutoZone, BolusDone
from hil.evidence.recording import CsvRecording
from hil.analysis.insulin_on_board import net_iob
from hil.patient.bolus_calculator import BolusCalculator
from hil.patient.programme import Bolus, Meal, MealBolus, Programme
from hil.patient.uva_padova import VirtualPatient
from hil.procedures import closed_loop, delivery
from hil.procedures.gravimetric import Gravimetry
from hil.rig.config import load_rig
from hil.rig.rig import Rig
from hil.specs import load_requirements

ROOT = Path(__file__).resolve().parents[2]
MINUTES = 120
# The rig's delivery accuracy, as the specs state it: DA-BOLUS-002's bound on the mean bolus error (%).
ACCURACY_PCT = next(b.max for b in load_requirements([ROOT / "specs"])["DA-BOLUS-002"].acceptance
                    if b.metric == "bolus_mean_error")


@pytest.fixture(scope="module")
def rig():
    with Rig(load_rig(ROOT / "fixtures" / "rigs" / "emulator.yaml")) as rig:
        rig.begin_test("closed-loop")
        delivery.prepare(rig)
        rig.pump.configure_suspend(60, before_low=False, on_low=False)
        yield rig


def _run(rig, tmp_path, programme, auto=None, name="run"):
    patient = VirtualPatient("child#001", "GuardianRT", seed=1)
    start = rig.clock.now()
    recording = CsvRecording(tmp_path / f"{name}.csv", closed_loop.RECORDING_COLUMNS)
    try:
        record = closed_loop.run(rig, Gravimetry(rig.config), patient, programme, MINUTES, 30.0,
                                 np.random.default_rng(3), recording, ("child#001", name, "arm"), auto=auto)
    finally:
        recording.close()
    with open(tmp_path / f"{name}.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    return start, record, rows


def test_boluses_and_meals_reach_pump_and_patient_at_their_minutes(rig, tmp_path):
    basal = 0.4
    fasting = _run(rig, tmp_path, Programme(basal), name="fasting")[1]
    programme = Programme(basal, (Bolus(10, 1.0), Bolus(62, 0.5)), (Meal(10, 30.0),))
    start, record, rows = _run(rig, tmp_path, programme, name="meal")

    assert record.minute == list(range(1, MINUTES + 1))
    done = [seen for seen in record.events if isinstance(seen.event, BolusDone)]
    assert [seen.event.amount_U for seen in done] == [1.0, 0.5]
    # each seen at the reading that closes the CGM interval it was given in (5-min sensor)
    assert [(seen.seen_s - start) / 60.0 for seen in done] == [pytest.approx(15.0), pytest.approx(65.0)]
    given = sum(record.insulin_U)
    assert given == pytest.approx(basal * MINUTES / 60.0 + 1.5, rel=ACCURACY_PCT / 100.0)
    assert max(record.glucose) > max(fasting.glucose)  # the meal was eaten
    assert [row["carbs_g"] for row in rows if row["carbs_g"] != "0"] == ["30"]
    assert rows[10]["carbs_g"] == "30" and rows[10]["minute"] == "11"  # eaten in minute 10, the row of its end
    assert len(rows) == MINUTES and all(row["scenario"] == "meal" for row in rows)
    assert sum(1 for row in rows if row["mass_mg"]) == MINUTES // 5  # one reading per CGM value
    assert float(rows[-1]["t_s"]) == pytest.approx(start + MINUTES * 60.0)


def test_a_meal_bolus_goes_through_the_users_calculator_with_the_cgm_and_the_insulin_on_board(rig, tmp_path):
    """At its minute the calculator gets the last CGM value the pump got and the insulin on board from what the
    patient received, net of the basal (here counted again with hil.analysis.insulin_on_board)."""
    basal, calculator = 0.4, BolusCalculator(25.0, 100.0, 110.0, 0.05)
    programme = Programme(basal, (Bolus(0, 1.0),), (Meal(30, 30.0),), meal_boluses=(MealBolus(30, 30.0),),
                          calculator=calculator)
    _, record, _ = _run(rig, tmp_path, programme, name="calculator")
    before = [k for k, minute in enumerate(record.cgm_minute) if minute < 30.0]
    interval_ends = np.arange(0, 31, 5)
    received = np.concatenate([[0.0], np.cumsum(record.insulin_U)[interval_ends[1:] - 1]])
    on_board = net_iob(interval_ends * 60.0, received, basal)[-1]
    assert 0.5 < on_board < 1.0  # most of the first bolus
    expected = calculator.dose(30.0, record.cgm[before[-1]], float(on_board))
    assert record.user_boluses == [(0, 1.0), (30, pytest.approx(expected, abs=1e-9))]
    done = [seen.event.amount_U for seen in record.events if isinstance(seen.event, BolusDone)]
    assert done == [1.0, pytest.approx(expected, abs=1e-9)]


def test_auto_mode_runs_the_loop_and_is_left_off(rig, tmp_path):
    settings = AutoSettings(110, 43, 1.2, 3.0)
    _, record, _ = _run(rig, tmp_path, Programme(0.4, meals=(Meal(0, 40.0),)), auto=settings, name="auto")
    decisions = [seen.event for seen in record.events if isinstance(seen.event, AutoBasal)]
    # an unannounced meal: the pump raises its own basal, and the patient gets more than the profile
    assert any(decision.zone is AutoZone.INCREASE for decision in decisions)
    assert sum(record.insulin_U) > 0.4 * MINUTES / 60.0 * (1.0 + ACCURACY_PCT / 100.0)
    assert not rig.pump.auto_mode().on


def test_a_loop_that_is_no_whole_number_of_cgm_intervals_is_refused(rig, tmp_path):
    recording = CsvRecording(tmp_path / "x.csv", closed_loop.RECORDING_COLUMNS)
    with pytest.raises(closed_loop.BadLoopLength, match="122 min is not a whole number of the CGM's 5-min samples"):
        closed_loop.run(rig, Gravimetry(rig.config), VirtualPatient("child#001"), Programme(0.4), 122, 0.0,
                        np.random.default_rng(0), recording, ())
    recording.close()
