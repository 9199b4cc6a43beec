"""Insertion-site faults: the emulated site (mass balance, back-pressure), the firmware's site check and its
seeded defects, and the fixture drivers (relay board on a real pty, operator prompt on a pipe)."""

import math
import os
import time

import pytest

from hil.drivers.site_faults import OperatorPromptSite, RelayBoardSite, SiteFaultUnavailable
from hil.emulation.options import Defects, EmulatorConfig, PumpParams
from hil.emulator.bench import Bench
from hil.emulator.world import World
from hil.transport.frames import Frame

from .test_occlusion_valves import FakeRelayBoard


def bench(**overrides):
    params = dict(compliance_uL_per_kPa=0.25, resistance_kPa_s_per_uL=18.76, settling_tau_s=2.0,
                  indication_mg_per_uL=1.0, evaporation_mg_per_s=0.0, vessel_mg=0.0, tissue_pressure_kPa=5.0)
    return Bench(**(params | overrides))


@pytest.mark.parametrize("leak", [0.0, 0.25, 0.5, 1.0])
def test_every_microlitre_ends_in_one_vessel_or_the_other(leak):
    b = bench()
    b.set_site(leak_fraction=leak)
    for _ in range(20):
        b.push(0.5)
        b.advance(180.0)
    assert b.arrived_uL + b.lost_uL + b.stored_uL == pytest.approx(10.0 + 0.25 * 5.0 * leak, rel=1e-9)
    assert b.lost_uL / (b.arrived_uL + b.lost_uL) == pytest.approx(leak, abs=0.02)
    assert b.lost_vessel.indication_mg == pytest.approx(b.lost_uL, rel=1e-6)


def test_the_line_rests_at_the_back_pressure_the_site_leaves():
    b = bench()
    assert b.pressure_kPa == 5.0
    b.set_site(leak_fraction=0.5)
    b.advance(60.0)
    assert b.pressure_kPa == pytest.approx(2.5, abs=1e-4)
    b.set_site(leak_fraction=1.0)
    b.advance(60.0)
    assert b.pressure_kPa == pytest.approx(0.0, abs=1e-4)
    b.set_site()  # back in the tissue: the line is short of the back-pressure's volume until strokes refill it
    assert b.stored_uL == pytest.approx(-1.25, abs=1e-4) and b.pressure_kPa == pytest.approx(0.0, abs=1e-4)
    b.advance(600.0)
    assert b.arrived_uL + b.lost_uL == pytest.approx(0.25 * 5.0, rel=1e-4)  # nothing flows back


def test_a_kink_multiplies_the_time_constant_and_a_full_one_blocks():
    b = bench()
    b.set_site(kink_factor=100.0)
    assert b.tau_f == pytest.approx(100 * 18.76 * 0.25)
    b.set_site(kink_factor=math.inf)
    b.push(1.0)
    b.advance(3600.0)
    assert b.stored_uL == 1.0 and b.arrived_uL == 0.0


class Pump:
    def __init__(self, seed=1, **defects):
        self.events = []
        config = EmulatorConfig(seed=seed, pump=PumpParams(slack_U=0.0), defects=Defects(**defects))
        self.world = World(config, lambda kind, fields: self.events.append((kind, fields)), lambda line: None)
        for word, *args in [("PRIME", "0.5"), ("RESUME",), ("BASAL", "1.000")]:
            self.world.pump.handle(Frame("1", word, tuple(args)))

    def site(self, **site):
        self.world.bench.set_site(**site)

    def alarms(self):
        return [f for k, f in self.events if k == "ALARM"]


def test_the_site_check_is_quiet_on_a_good_site_and_alarms_on_a_leak_then_escalates():
    pump = Pump()
    pump.world.advance(24 * 3600.0)
    assert pump.alarms() == []
    pump.site(leak_fraction=0.5)
    pump.world.advance(3600.0 + pump.world.config.pump.alarm_escalation_s)
    first, again = pump.alarms()
    assert first["kind"] == "CHECK_SITE" and first["priority"] == "MEDIUM"
    assert again["id"] == first["id"] and again["priority"] == "HIGH"
    assert pump.world.pump.state == "RUNNING"  # a site alarm does not stop delivery


def test_a_prime_relearns_the_site():
    pump = Pump()
    pump.world.advance(2 * 3600.0)
    pump.site(leak_fraction=0.5)
    for word, *args in [("STOP",), ("PRIME", "0.5"), ("RESUME",), ("BASAL", "1.000")]:
        pump.world.pump.handle(Frame("1", word, tuple(args)))
    pump.world.advance(6 * 3600.0)
    assert pump.alarms() == []  # the half back-pressure is this set's normal


@pytest.mark.parametrize("defect, leak, alarms", [
    ("site_leak_detection_disabled", 0.5, 0),
    ("site_leak_detection_disabled", 1.0, 1),
    ("site_alarm_no_escalation", 0.5, 1),
])
def test_seeded_site_defects(defect, leak, alarms):
    pump = Pump(**{defect: True})
    pump.world.advance(2 * 3600.0)
    pump.site(leak_fraction=leak)
    pump.world.advance(3 * 3600.0)
    assert len({a["id"] for a in pump.alarms()}) == alarms


def test_seeded_oversensitive_detector_cries_wolf_on_a_good_site():
    def days_with_an_alarm(**defects):
        pumps = [Pump(seed, **defects) for seed in range(5)]
        for pump in pumps:
            pump.world.advance(24 * 3600.0)
        return sum(bool(pump.alarms()) for pump in pumps)

    assert days_with_an_alarm() == 0
    assert days_with_an_alarm(site_detector_oversensitive=True) >= 3


def test_seeded_low_priority():
    pump = Pump(site_alarm_priority="LOW")
    pump.world.advance(2 * 3600.0)
    pump.site(leak_fraction=1.0)
    pump.world.advance(3600.0)
    assert pump.alarms()[0]["priority"] == "LOW"


def test_relay_board_site_switches_its_fixtures_and_refuses_levels_it_cannot_make():
    board = FakeRelayBoard()
    site = RelayBoardSite(board.path, {"kink_full": 2, "leak": 4, "dislodge": 5}, leak_fraction=0.5, timeout_s=1.0)
    site.kink()
    site.leak(0.5)
    site.dislodge()
    site.restore()
    assert board.commands == ["SET 2 ON", "SET 4 ON", "SET 5 ON", "SET 2 OFF", "SET 4 OFF", "SET 5 OFF"]
    with pytest.raises(SiteFaultUnavailable, match="leak fixture makes 0.5, the test asks for 0.3"):
        site.leak(0.3)
    with pytest.raises(SiteFaultUnavailable, match="no partial-kink fixture"):
        site.kink(100.0)
    site.line.close()
    board.close()


def test_operator_prompt_site_asks_and_keeps_the_dialogue(tmp_path):
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"ok\nok\n")
    with open(read_fd) as answers, open(tmp_path / "asked.txt", "w") as ask:
        site = OperatorPromptSite(leak_fraction=0.5, timeout_s=1.0)
        site.operator.ask, site.operator.answers, site.operator.clock = ask, answers, time.time
        site.dislodge()
        site.restore()
    os.close(write_fd)
    assert [r.answer for r in site.records] == ["ok", "ok"]
    assert "diverter" in site.records[0].question and "RESTORE" in site.records[1].question


def test_site_control_over_the_wire_reaches_the_emulated_bench():
    from pathlib import Path

    from hil.rig.config import load_rig
    from hil.rig.rig import Rig

    rig_file = Path(__file__).resolve().parents[2] / "fixtures" / "rigs" / "emulator.yaml"
    with Rig(load_rig(rig_file)) as rig:
        rig.begin_test("site over the wire")
        rig.site_faults.leak(0.25)
        assert rig.control.inspect()["leak_fraction"] == 0.25
        rig.site_faults.kink(math.inf)
        assert rig.control.inspect()["kink_factor"] == math.inf
        rig.site_faults.restore()
        truth = rig.control.inspect()
        assert truth["kink_factor"] == 1.0 and truth["leak_fraction"] == 0.0
        assert rig.lost_scale.identify()["serial"] == "B000000002"


def test_the_site_poller_clears_a_low_reservoir_alert_so_a_resume_after_a_site_alarm_is_taken(tmp_path):
    """The 12 nominal days take a full reservoir down to its low-reservoir alert: left standing, it would have the pump
    refuse the RESUME that follows a false site alarm (ALARM_ACTIVE), a verdict about the harness."""
    from pathlib import Path

    from hil.evidence.recording import CsvRecording
    from hil.procedures.site_faults import RECORDING_COLUMNS, SitePoller
    from hil.rig.config import load_rig
    from hil.rig.rig import Rig

    rig_file = Path(__file__).resolve().parents[2] / "fixtures" / "rigs" / "emulator.yaml"
    with Rig(load_rig(rig_file)) as rig, CsvRecording(tmp_path / "site.csv", RECORDING_COLUMNS) as raw:
        rig.begin_test("low-reservoir alert in the nominal days")
        rig.reservoir.fit(21.0)
        rig.pump.set_basal(30.0)
        rig.pump.resume()
        rig.clock.sleep(600.0)  # 5 U at 30 U/h: the count passes the 20 U alert
        assert SitePoller(rig, raw).poll(1, "nominal") == []
        rig.pump.stop()
        rig.pump.resume()  # refused ALARM_ACTIVE without the poller's acknowledgement
        rig.pump.stop()
        rig.reservoir.restore()
