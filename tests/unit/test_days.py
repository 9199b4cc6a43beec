"""Day scenarios and the user's bolus calculator: known answers, every shipped day loads, and a bad day file gets
one line per problem with its file and line."""

import pytest

from hil.patient import days
from hil.patient.bolus_calculator import BolusCalculator
from hil.patient.days import BadDayScenario, load_day, minute_of, plan_for
from hil.patient.uva_padova import VirtualPatient

CALCULATOR = BolusCalculator(carb_ratio_g_per_U=15.0, correction_factor_mg_dl_per_U=45.0, target_mg_dl=110.0,
                             increment_U=0.05)


def test_the_calculator_known_answers():
    assert CALCULATOR.dose(45, 110, 0.0) == 3.0  # carbohydrates over the ratio
    assert CALCULATOR.dose(45, 200, 0.0) == 5.0  # + (200 - 110) / 45
    assert CALCULATOR.dose(45, 200, 1.0) == 4.0  # - the insulin still on board
    assert CALCULATOR.dose(45, 65, 0.0) == 2.0  # below the target the correction takes insulin off
    assert CALCULATOR.dose(45, None, 0.0) == 3.0  # no CGM value yet: no correction
    assert CALCULATOR.dose(10, 70, 5.0) == 0.0  # never below nothing
    assert CALCULATOR.dose(1000, 110, 0.0) == 30.0  # the pump's maximum bolus
    assert CALCULATOR.dose(46, 110, 0.0) == 3.05  # 3.0667 in the pump's 0.05-U steps, rounded down


def test_clock_times_are_minutes_from_the_days_start():
    assert minute_of("07:00", "06:00") == 60
    assert minute_of("21:30", "06:00") == 930
    assert minute_of("05:00", "06:00") == 23 * 60  # the next morning


def test_every_shipped_day_loads():
    names = sorted(p.stem for p in days.DAYS.glob("*.yaml"))
    assert "mixed-day" in names
    for name in names:
        assert load_day(name).meals


def test_mixed_day_for_a_patient():
    patient = VirtualPatient("adult#001")
    plan = plan_for(load_day("mixed-day"), patient, 0.05, 36.0, 110.0)
    assert [(m.minute, m.carbs_g) for m in plan.meals] == [(60, 45), (210, 10), (360, 70), (540, 10), (720, 80),
                                                           (930, 10)]
    # breakfast counted 20 % short at its minute; lunch forgotten; dinner 20 % short and 20 min late
    assert [(b.minute, b.counted_g) for b in plan.meal_boluses] == [(60, 36.0), (740, 64.0)]
    assert plan.calculator == BolusCalculator(patient.carb_ratio_g_per_U, 36.0, 110.0, 0.05)
    assert plan.basal_U_per_h == pytest.approx(patient.basal_U_per_h, abs=0.025)
    assert round(plan.basal_U_per_h / 0.05, 6).is_integer()


@pytest.mark.parametrize(("text", "message"), [
    ("description: x\nstarts_at: '06:00'\nmeals:\n  - {at: '07:00', carbs_g: 45, carbs: 3}\n",
     r"bad.yaml:4: at 'meals.0.carbs' unknown key 'carbs'"),
    ("description: x\nstarts_at: '06:00'\nmeals:\n  - {at: '25:00', carbs_g: 45}\n",
     r"bad.yaml:4: at 'meals.0.at' .*got '25:00'"),
    ("description: x\nstarts_at: '06:00'\nmeals:\n  - {at: '07:00', carbs_g: 45, bolus: {counted_share: -1}}\n",
     r"bad.yaml:4: at 'meals.0.bolus.counted_share' .*greater than 0"),
    ("description: x\nmeals:\n  - {at: '07:00', carbs_g: 45}\n", r"bad.yaml:1: .*missing 'starts_at'"),
    ("description: x\nstarts_at: '06:00'\nmeals: [\n", r"bad.yaml:\d+: YAML syntax error"),
])
def test_a_bad_day_is_named_by_file_and_line(tmp_path, monkeypatch, text, message):
    monkeypatch.setattr("hil.patient.days.DAYS", tmp_path)
    (tmp_path / "bad.yaml").write_text(text)
    with pytest.raises(BadDayScenario, match=message) as raised:
        load_day("bad")
    assert "\n" not in str(raised.value)  # one problem, one line


def test_an_unknown_day_lists_the_known_ones():
    with pytest.raises(BadDayScenario, match="no such day scenario.*known: .*mixed-day"):
        load_day("holiday")
