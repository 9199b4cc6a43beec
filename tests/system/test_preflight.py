"""`hil rig check`, the preflight before a campaign, as a user runs it: on the nominal emulated rig (fit), on the
1 mg balance (unfit for every weighed bound it cannot resolve, before anything runs), with dates past due, and for a
-k selection; and `hil blank-run`, which measures what the rig file's evaporation correction states."""

import re
import subprocess

import yaml

from hil.rig.config import load_rig
from hil.rig.model import EvaporationCorrection
from hil.specs.loader import load_requirements

from .conftest import HIL, ROOT

RIGS = ROOT / "fixtures" / "rigs"


def _check(*args: str) -> tuple[int, dict[str, tuple[str, str]], str]:
    done = subprocess.run([HIL, "rig", "check", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)
    rows = {}
    for line in done.stdout.splitlines():
        cells = [cell.strip() for cell in line.strip("│ ").split("│")]
        if len(cells) == 3 and cells[2] in ("ok", "info", "BLOCKER"):
            rows[cells[0]] = (cells[1], cells[2])
    return done.returncode, rows, done.stdout + done.stderr


def test_the_nominal_rig_is_fit_and_every_instrument_answers():
    code, rows, output = _check("--rig", str(RIGS / "emulator.yaml"))
    assert code == 0 and "0 blocker(s): the rig is fit" in output, output
    for item in ("pump identity", "scale identity", "lost_scale identity", "pump status", "pump STOP",
                 "scale stable reading", "lost_scale stable reading", "occlusion valve", "site fixture"):
        assert rows[item][1] == "ok", (item, rows.get(item))
    assert rows["pump identity"][0].startswith("model RP-1, serial EMU-0001")
    assert "no active alarm" in rows["pump status"][0] and "acknowledged STOP" in rows["pump STOP"][0]
    assert re.match(r"U = [\d.]+ %, TUR [\d.]+ \(min 4\)", rows["DA-BASAL-002 overall_error"][0])
    assert rows["campaign duration"][1] == "info"
    assert "DA-BASAL-001 window_delivered_max[window_h=1]" in rows  # brackets shown, not read as console markup


def test_a_coarse_balance_is_blocked_per_requirement_before_anything_runs():
    """Every weighed bound the 1 mg balance cannot resolve on an exact pump, two-sided (the ratio) or one-sided (the
    guard band: DA-BOLUS-001's per-bolus maximum, which the campaign would end INCONCLUSIVE), each naming the
    balance that would."""
    code, rows, output = _check("--rig", str(RIGS / "emulator-coarse-balance.yaml"))
    assert code == 1, output
    assert rows["DA-BASAL-002 overall_error"] == (
        "U = 1.33 %, TUR 3.8 (min 4): needs a balance of readability ≤ 0.86 mg and repeatability ≤ 0.6 mg", "BLOCKER")
    requirement = load_requirements([ROOT / "specs"])["DA-BOLUS-001"]
    (bolus_max,) = (b for b in requirement.acceptance if b.metric == "bolus_max")
    assert rows["DA-BOLUS-001 bolus_max"] == (
        f"U = 0.215 U on an exact {requirement.case.bolus_U:g} U, limits {bolus_max.describe()}: needs a balance of "
        "readability ≤ 0.32 mg and repeatability ≤ 0.22 mg", "BLOCKER")
    for item in ("DA-BOLUS-002 bolus_mean_error", "DA-BOLUS-005 bolus_mean_error", "DA-RECORD-001 record_disagreement",
                 "HS-RESUME-001 basal_error_after_resume", "HS-NODELIV-001 delivered_while_suspended"):
        assert rows[item][1] == "BLOCKER" and "needs a balance of readability ≤ " in rows[item][0], (item, rows[item])
    assert rows["DA-BOLUS-004 bolus_duration_error"][1] == "ok"  # timed by the sample grid, not the balance
    assert rows["DA-BOLUS-003 bolus_max"][1] == "ok"  # 30 U: 0.215 U is well inside its label
    assert "13 blocker(s): " in output and "DA-BOLUS-001 bolus_max" in output.split("13 blocker(s): ")[1]


def test_an_overdue_calibration_and_an_expired_blank_run_are_blockers(tmp_path):
    rig = tmp_path / "dated.yaml"
    rig.write_text(f"extends: {RIGS / 'emulator.yaml'}\nrig_id: dated\n"
                   "scale: {calibration: {certificate: C-1, date: '2024-01-02', due: '2025-01-02'}}\n"
                   "evaporation_correction: {measured: '2025-06-01', valid_days: 30}\n")
    code, rows, output = _check("--rig", str(rig), "-k", "DA-BOLUS-004")
    assert code == 1, output
    assert rows["scale calibration"] == ("due 2025-01-02: OVERDUE", "BLOCKER")
    assert rows["evaporation blank run"] == ("measured 2025-06-01, valid 30 days to 2025-07-01: EXPIRED", "BLOCKER")
    assert [item for item in rows if item.startswith("DA-")] == ["DA-BOLUS-004 bolus_duration_error"]  # -k
    assert "1 tests, 1 requirements" in output


def test_a_blank_run_measures_the_emulated_vessels_evaporation_and_prints_the_rig_file_lines():
    done = subprocess.run([HIL, "blank-run", "--hours", "24"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    block = done.stdout[done.stdout.index("evaporation_correction:"):done.stdout.index("raw readings:")]
    section = yaml.safe_load(block)["evaporation_correction"]
    section["valid_days"] = 30  # the lab's choice, left to the user
    EvaporationCorrection(**section)  # the printed lines are a valid rig-file section
    nominal = load_rig(RIGS / "emulator.yaml").section("evaporation_correction")["rate_mg_per_h"]  # the model's
    hourly = 24
    assert abs(section["rate_mg_per_h"] - nominal) <= 3 * section["u_rate_mg_per_h"] / hourly ** 0.5, section
    raw = (ROOT / done.stdout.split("raw readings: ")[1].strip()).read_text().splitlines()
    assert raw[0] == "t_s,mass_mg,stable" and len(raw) == 1 + 24 * 60 + 1
