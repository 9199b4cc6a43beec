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
