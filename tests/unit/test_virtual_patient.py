"""The virtual patients: simglucose as installed from the lock reproduces its upstream reference output, and the
adapter the closed loop uses steps the model exactly as simglucose does."""

import warnings
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hil.patient.alone import live_alone
from hil.patient.nights import BadNightScenario, load_night, plan_for
from hil.patient.programme import Programme
from hil.patient.uva_padova import UnknownPatient, VirtualPatient, patient_names

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # simglucose's import of pkg_resources (hil.patient.uva_padova)
    from simglucose.patient.t1dpatient import Action, T1DPatient

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "fixtures" / "reference" / "simglucose-sim-results.csv"


def test_simglucose_reproduces_its_upstream_reference_output(tmp_path):
    """Upstream's own consistency run, up to its first meal (see the fixture's header for why not beyond)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from simglucose.actuator.pump import InsulinPump
        from simglucose.controller.basal_bolus_ctrller import BBController
        from simglucose.sensor.cgm import CGMSensor
        from simglucose.simulation.env import T1DSimEnv
        from simglucose.simulation.scenario_gen import RandomScenario
        from simglucose.simulation.sim_engine import SimObj, sim

    start = datetime(2018, 1, 1)
    env = T1DSimEnv(T1DPatient.withName("adolescent#001"), CGMSensor.withName("Dexcom", seed=1),
                    InsulinPump.withName("Insulet"), RandomScenario(start_time=start, seed=1))
    results = sim(SimObj(env, BBController(), timedelta(hours=9), animate=False, path=str(tmp_path)))
    expected = pd.read_csv(REFERENCE, comment="#", index_col="Time", parse_dates=True)
    got = results.loc[expected.index]
    np.testing.assert_allclose(got.BG, expected.BG, rtol=1e-12)
    np.testing.assert_allclose(got.CGM, expected.CGM, rtol=1e-12)
    np.testing.assert_allclose(got.insulin, expected.insulin, rtol=1e-12)


@pytest.mark.parametrize("name", ["child#001", "adolescent#002", "adult#009"])
def test_the_adapter_steps_the_model_exactly_as_simglucose(name):
    """Every state variable, every minute, to the last bit, over a meal (the gut's branch), a bolus, a suspension
    and the renal excretion of a high glucose: the adapter's own right-hand side is simglucose's."""
    stock = T1DPatient.withName(name)
    ours = VirtualPatient(name)
    basal = ours.basal_U_per_h / 60.0
    for minute in range(720):
        dose = 0.0 if 300 <= minute < 420 else basal + (2.0 if minute == 45 else 0.0)
        carbs = 90.0 if minute in (30, 31, 32, 33, 34) else 0.0
        stock.step(Action(CHO=carbs, insulin=dose))
        ours.step(dose, carbs * 5 if minute == 30 else 0.0)
        assert ours.glucose_mg_dl == stock.observation.Gsub
        assert ours._model.state.tolist() == stock.state.tolist()
    assert ours.t_min == stock.t == 720


def test_a_scaled_insulin_sensitivity_reaches_the_right_hand_side():
    """The right-hand side holds the parameters: scaling the sensitivity builds it again, so the patient is
    simglucose's with the same parameters scaled, to the last bit, and not the unscaled one."""
    stock, ours = T1DPatient.withName("adult#002"), VirtualPatient("adult#002")
    stock._params["Vmx"] *= 1.7
    stock._params["kp3"] *= 1.7
    ours.scale_insulin_sensitivity(1.7)
    for _ in range(240):
        stock.step(Action(CHO=0.0, insulin=0.05))
        ours.step(0.05)
    assert ours._model.state.tolist() == stock.state.tolist()
    unscaled = VirtualPatient("adult#002")
    for _ in range(240):
        unscaled.step(0.05)
    assert unscaled.glucose_mg_dl != ours.glucose_mg_dl


def test_a_patient_on_its_own_basal_stays_at_its_basal_glucose():
    patient = VirtualPatient("adult#001")
    start = patient.glucose_mg_dl
    glucose = live_alone(patient, Programme(patient.basal_U_per_h), 120)
    assert np.max(np.abs(glucose - start)) < 0.01


def test_more_insulin_means_lower_glucose():
    """The direction the effect requirement rests on: an over-set basal and a doubled sensitivity both lower
    the night's minimum against the patient's own basal."""
    lows = {}
    for night in ("basal-set-too-high", "after-exercise"):
        patient = VirtualPatient("adult#003")
        lows[night] = live_alone(patient, plan_for(load_night(night), patient, 0.05), 240).min()
    nominal = VirtualPatient("adult#003").glucose_mg_dl
    assert all(low < nominal - 10 for low in lows.values())


def test_cgm_is_read_only_at_the_sensor_instants():
    patient = VirtualPatient("adult#001", "GuardianRT", seed=3)
    first = patient.cgm()
    assert 39 <= first <= 600
    patient.step(0.02)
    with pytest.raises(ValueError, match="every 5 min"):
        patient.cgm()


def test_unknown_patients_and_sensors_are_named():
    with pytest.raises(UnknownPatient, match="no virtual patient 'adult#011'"):
        VirtualPatient("adult#011")
    with pytest.raises(UnknownPatient, match="no CGM sensor model 'Libre'"):
        VirtualPatient("adult#001", "Libre")
    assert len(patient_names()) == 30


def test_night_plans_follow_the_scenario_in_the_pump_increments():
    patient = VirtualPatient("adult#003")
    misdosed = plan_for(load_night("correction-misdosed"), patient, 0.05)
    expected_bolus = (patient.glucose_mg_dl + 60 - 110) / patient.correction_factor_mg_dl_per_U
    assert misdosed.bolus_U == pytest.approx(expected_bolus, abs=0.025)
    assert round(misdosed.bolus_U / 0.05, 6).is_integer() and round(misdosed.basal_U_per_h / 0.05, 6).is_integer()
    high = plan_for(load_night("basal-set-too-high"), patient, 0.05)
    assert high.basal_U_per_h == pytest.approx(1.5 * patient.basal_U_per_h, abs=0.025) and high.bolus_U == 0


def test_a_bad_night_scenario_is_named(tmp_path, monkeypatch):
    with pytest.raises(BadNightScenario, match="no such night scenario.*known: after-exercise"):
        load_night("all-night-party")
    monkeypatch.setattr("hil.patient.nights.NIGHTS", tmp_path)
    (tmp_path / "typo.yaml").write_text("basal_factr: 2\n")
    with pytest.raises(BadNightScenario, match=r"typo.yaml: unknown keys \['basal_factr'\]"):
        load_night("typo")
