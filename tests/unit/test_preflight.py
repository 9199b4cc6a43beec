"""Preflight parts that need no rig: the balance's fitness for every weighed bound, the campaign's rig time from
earlier records, the blank run's model."""

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from hil.procedures import preflight
from hil.procedures.fitness import balance_needed, predictions, resolves
from hil.procedures.gravimetric import Gravimetry
from hil.rig.config import load_rig
from hil.rig.model import EvaporationCorrection
from hil.specs.loader import load_requirements

ROOT = Path(__file__).resolve().parents[2]
RIGS = ROOT / "fixtures" / "rigs"


def _record(folder, tests):
    folder.mkdir(parents=True)
    (folder / "record.json").write_text(json.dumps({"tests": tests}))


def test_campaign_duration_adds_the_newest_timing_of_each_selected_test(tmp_path):
    _record(tmp_path / "20261101T000000Z-a", {"t::a": {"rig_time_s": 7200.0}, "t::b": {"rig_time_s": 3600.0}})
    _record(tmp_path / "20261102T000000Z-b", {"t::a": {"rig_time_s": 3600.0}, "t::x": {"rig_time_s": 1e6}})
    (tmp_path / "20261103T000000Z-broken").mkdir()
    (tmp_path / "20261103T000000Z-broken" / "record.json").write_text("{not json")
    check = preflight.duration(["t::a", "t::b", "t::c"], tmp_path)
    assert check.found.startswith("2.0 h of rig time for 2 of 3 tests")  # a from the newer run, b from the older
    assert "never timed: c" in check.found and check.status is preflight.Status.INFO


def test_a_dated_blank_run_needs_its_validity_and_a_real_date():
    assert EvaporationCorrection(rate_mg_per_h=0.2, source="s", measured="2026-11-01", valid_days=30)
    assert EvaporationCorrection(rate_mg_per_h=0.2, source="s", measured="none")
    for bad in ({"measured": "2026-11-01"}, {"valid_days": 30}, {"measured": "2026-02-30", "valid_days": 30},
                {"measured": "last week", "valid_days": 30}):
        with pytest.raises(ValidationError):
            EvaporationCorrection(rate_mg_per_h=0.2, source="s", **bad)


def test_an_active_alarm_or_an_unacknowledged_stop_blocks_the_campaign():
    from types import SimpleNamespace
    alarmed = SimpleNamespace(state="ALARM", bolus="IDLE", reservoir_U=300.0, active_alarms=("3",))
    check = preflight._ask("pump status", lambda: preflight._status(alarmed))
    assert check.status is preflight.Status.BLOCKER and "active alarms 3" in check.found
    silent = SimpleNamespace(make_safe=lambda reason: SimpleNamespace(ok=False, detail="STOP not acknowledged: timeout"))
    check = preflight._ask("pump STOP", lambda: preflight._stop(silent))
    assert (check.status, check.found) == (preflight.Status.BLOCKER, "STOP not acknowledged: timeout")
    quiet = SimpleNamespace(state="SUSPENDED", bolus="IDLE", reservoir_U=300.0, active_alarms=())
    assert preflight._ask("pump status", lambda: preflight._status(quiet)).status is preflight.Status.OK


def test_an_identity_that_looks_wrong_is_a_warning_with_what_is_wrong_not_ok():
    """A balance whose I2 answers its serial number: flagged in the record, and so in the preflight table."""
    from hil.drivers.mtsics import identity_warnings

    warnings = identity_warnings("B000000001", "B000000001")
    check = preflight._identity("scale", {"model": "B000000001", "serial": "B000000001", "warnings": warnings})
    assert check.status is preflight.Status.WARNING and "I2 (model and capacity) answered the serial" in check.found
    assert check.found.startswith("model B000000001, serial B000000001: ")
    sound = preflight._identity("scale", {"model": "XS205DU-EMU 220 g", "serial": "B000000001"})
    assert (sound.status, sound.found) == (preflight.Status.OK, "model XS205DU-EMU 220 g, serial B000000001")


def test_a_balance_that_answers_an_immediate_reading_wrongly_blocks_naming_the_command():
    """A third-party MT-SICS balance that answers S but not SI as the standard says: every recording would end in a
    rig error, so hil rig check stops the campaign before it starts."""
    from types import SimpleNamespace

    from hil.errors import ProtocolError

    def wrong():
        raise ProtocolError("balance: unexpected reply 'SI S 35.00001 g' to SI")

    check = preflight._ask("scale immediate reading", lambda: preflight._immediate(SimpleNamespace(read=wrong)))
    assert check.status is preflight.Status.BLOCKER and "to SI" in check.found
    nan = SimpleNamespace(read=lambda: SimpleNamespace(mass_mg=float("nan"), stable=True))
    assert preflight._ask("scale immediate reading", lambda: preflight._immediate(nan)).status is preflight.Status.BLOCKER


def test_a_1_mg_balance_blocks_a_one_sided_per_bolus_maximum_naming_the_balance_that_would_resolve_it():
    """DA-BOLUS-001 bounds each 0.05 U bolus to 0.119 U: on a 1 mg balance an exact 0.05 U bolus is 0.05 ± 0.215 U,
    INCONCLUSIVE whatever the pump does within its label; no ratio applies to a one-sided bound, the guard band does."""
    requirements = load_requirements([ROOT / "specs"])
    coarse = load_rig(RIGS / "emulator-coarse-balance.yaml")
    selected = [requirements["DA-BOLUS-001"], requirements["DA-BASAL-003"]]
    checks = {c.item: c for c in preflight.fitness(coarse, selected)}
    (bolus_max,) = (b for b in requirements["DA-BOLUS-001"].acceptance if b.metric == "bolus_max")
    assert checks["DA-BOLUS-001 bolus_max"] == preflight.Check(
        "DA-BOLUS-001 bolus_max",
        f"U = 0.215 U on an exact {requirements['DA-BOLUS-001'].case.bolus_U:g} U, limits {bolus_max.describe()}: "
        "needs a balance of readability ≤ 0.32 mg and repeatability ≤ 0.22 mg",
        preflight.Status.BLOCKER,
    )
    assert checks["DA-BOLUS-001 record_disagreement"].status is preflight.Status.BLOCKER  # 25 × 0.05 U: ± 86 %
    assert {item: c.status for item, c in checks.items() if item.startswith("DA-BASAL-003")} == {
        "DA-BASAL-003 window_delivered_min[window_h=1]": preflight.Status.OK,  # 30 U an hour: well resolved
        "DA-BASAL-003 window_delivered_max[window_h=1]": preflight.Status.OK,
        "DA-BASAL-003 record_disagreement": preflight.Status.OK,
    }
    nominal = {c.item: c for c in preflight.fitness(load_rig(RIGS / "emulator.yaml"), [requirements["DA-BOLUS-001"]])}
    assert nominal["DA-BOLUS-001 bolus_max"].status is preflight.Status.OK


def test_the_balance_a_blocker_names_resolves_the_bound_and_a_coarser_one_does_not():
    requirements = load_requirements([ROOT / "specs"])
    grav = Gravimetry(load_rig(RIGS / "emulator-coarse-balance.yaml"))
    for rid, name in (("DA-BOLUS-001", "bolus_max"), ("DA-BASAL-002", "overall_error"),
                      ("DA-BASAL-002", "window_share_within[window_h=1, band_pct=15]")):
        requirement = requirements[rid]
        (bound,) = (b for b in requirement.acceptance if b.name == name)
        readability, repeatability = balance_needed(requirement, bound, grav)
        for factor, resolved in ((0.99, True), (1.02, False)):
            finer = grav.with_balance(readability * factor, repeatability * factor)
            assert resolves(bound, predictions(requirement, finer)[name]) is resolved, (rid, name, factor)


def test_a_bound_no_balance_can_resolve_says_so(tmp_path):
    """Evaporation known to ±20 mg/h: the 12-h record of 0.05 U/h (0.6 U, 6 mg) is lost in it on any balance."""
    rig = tmp_path / "wet.yaml"
    rig.write_text(f"extends: {RIGS / 'emulator.yaml'}\nrig_id: wet\n"
                   "evaporation_correction: {u_rate_mg_per_h: 20}\n")
    requirements = load_requirements([ROOT / "specs"])
    checks = {c.item: c for c in preflight.fitness(load_rig(rig), [requirements["DA-BASAL-001"]])}
    check = checks["DA-BASAL-001 record_disagreement"]
    assert check.status is preflight.Status.BLOCKER and check.found.endswith(
        "no balance resolves it: the evaporation correction and the water temperature alone are too uncertain")
