"""Preflight parts that need no rig: the campaign's rig time from earlier records, the blank run's model."""

import json

import pytest
from pydantic import ValidationError

from hil.procedures import preflight
from hil.rig.model import EvaporationCorrection


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
