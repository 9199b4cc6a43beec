"""The scenario files the requirements name are read before anything runs: every shipped one loads, and a missing or
broken one is one line with the requirement and the file."""

import subprocess
import sys
from pathlib import Path

from hil.procedures.scenario_files import scenario_problems
from hil.specs import load_requirements

ROOT = Path(__file__).resolve().parents[2]


def test_every_scenario_the_shipped_requirements_name_loads():
    assert scenario_problems(load_requirements([ROOT / "specs"]).values()) == []


def test_a_missing_or_broken_scenario_is_one_line_each(tmp_path, monkeypatch):
    requirements = load_requirements([ROOT / "specs"])
    effect = requirements["AID-EFFECT-001"]
    days_dir = tmp_path / "days"
    days_dir.mkdir()
    (days_dir / "mixed-day.yaml").write_text("description: x\nstarts_at: '06:00'\nmeals: []\n")
    monkeypatch.setattr("hil.patient.days.DAYS", days_dir)
    monkeypatch.setattr("hil.patient.nights.NIGHTS", tmp_path / "nights")
    problems = scenario_problems([effect, requirements["AID-EFFECT-002"], requirements["HS-EFFECT-001"]])
    assert problems[0].startswith("  AID-EFFECT-001 day_scenarios 'mixed-day': ")
    assert "mixed-day.yaml:3: at 'meals'" in problems[0]
    assert len([p for p in problems if "mixed-day" in p]) == 1  # named once, by the first requirement
    assert all(p.startswith("  HS-EFFECT-001 nights ") and "no such night scenario" in p for p in problems[1:])
    assert len(problems) == 1 + len(requirements["HS-EFFECT-001"].case.nights)
    assert all("\n" not in p for p in problems)


def test_specs_check_names_an_unusable_scenario(tmp_path):
    """`hil specs check` reads the scenario files too: a case naming a day that does not exist is one line."""
    specs = tmp_path / "specs"
    specs.mkdir()
    text = (ROOT / "specs" / "automated-delivery.yaml").read_text()
    (specs / "automated-delivery.yaml").write_text(text.replace("day_scenarios: [mixed-day]", "day_scenarios: [holiday]", 1))
    done = subprocess.run([sys.executable, "-m", "hil.cli", "specs", "check", str(specs)], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 1
    assert "AID-EFFECT-001 day_scenarios 'holiday': fixtures/scenarios/days/holiday.yaml: no such day scenario" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_cgm_scenario_with_a_value_that_is_no_glucose_is_one_line(tmp_path, monkeypatch):
    """Checked before anything runs, noisy or not (a noise-free scenario's values were sent as they were)."""
    requirements = load_requirements([ROOT / "specs"])
    named = next(r for r in requirements.values() if any(getattr(c, "scenario", None) for c in r.cases))
    scenario = next(c.scenario for c in named.cases if getattr(c, "scenario", None))
    for values in ("[120, 'high', 90]", "[120, .nan, 90]", "[120, true, 90]"):
        (tmp_path / f"{scenario}.yaml").write_text(f"interval_min: 5\nvalues: {values}\n")
        monkeypatch.setattr("hil.procedures.cgm.SCENARIOS", tmp_path)
        problems = scenario_problems([named])
        assert len(problems) == 1 and f"{named.id} scenario '{scenario}'" in problems[0], values
        assert "values are glucose in mg/dL" in problems[0]


def test_the_check_reads_the_scenarios_without_drawing_their_noise():
    """Drawing a sensor's noise imports scipy's interpolation, most of a small campaign's start-up: the check before
    a run only reads the files (a campaign that sends no scenario never imports it)."""
    code = ("import sys; from hil.procedures.scenario_files import scenario_problems; from hil.specs import "
            "load_requirements; assert scenario_problems(load_requirements().values()) == []; "
            "print('scipy.interpolate' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "False", done.stderr[-2000:]


def test_a_cgm_scenario_whose_interval_or_noise_seed_cannot_be_used_is_one_line(tmp_path, monkeypatch):
    """What would fail only when the scenario is sent, hours into a campaign: an interval that is no number, a seed
    numpy refuses, an interval past the noise model's interpolation block (its draw would never end)."""
    requirements = load_requirements([ROOT / "specs"])
    named = next(r for r in requirements.values() if any(getattr(c, "scenario", None) for c in r.cases))
    scenario = next(c.scenario for c in named.cases if getattr(c, "scenario", None))
    monkeypatch.setattr("hil.procedures.cgm.SCENARIOS", tmp_path)
    for head, said in (("interval_min: '5'", "interval_min is the minutes"), ("interval_min: 0", "above 0"),
                       ("interval_min: 5\nnoise: {seed: -1}", "integer seed from 0"),
                       ("interval_min: 5\nnoise: {seed: 4294967296}", "integer seed from 0"),
                       ("interval_min: 5\nnoise: {seed: true}", "integer seed from 0"),
                       ("interval_min: 5\nnoise: 7", "integer seed from 0"),
                       ("interval_min: 200\nnoise: {seed: 1}", "at most 150 min apart")):
        (tmp_path / f"{scenario}.yaml").write_text(f"{head}\nvalues: [120, 110]\n")
        problems = scenario_problems([named])
        assert len(problems) == 1 and said in problems[0], (head, problems)
