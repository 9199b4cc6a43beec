"""The harness against the real emulator process, over its ptys, as a bench would be driven."""

import os
from pathlib import Path

import pytest

from hil.drivers.contracts import BasalSchedule, BasalSegment, BolusAdvice, BolusDone, CalculatorSettings, PumpState
from hil.drivers.mtsics import MtSicsBalance
from hil.emulation.wire_faults import WireFaultKind
from hil.errors import DeviceRefused, LineFault, LostEvent, TransportError
from hil.rig.config import load_rig
from hil.rig.rig import Rig
from hil.transport.serial_line import SerialLine

ROOT = Path(__file__).resolve().parents[2]
NOMINAL = ROOT / "fixtures" / "rigs" / "emulator.yaml"


@pytest.fixture
def rig():
    with Rig(load_rig(NOMINAL)) as the_rig:
        the_rig.begin_test("unit")
        yield the_rig


def test_identities_come_over_the_wire(rig):
    assert rig.identities["pump"]["model"] == "RP-1" and rig.identities["pump"]["protocol"] == "1"
    assert rig.identities["scale"]["serial"] == "B000000001"


def test_sim_clock_advances_only_when_asked(rig):
    start = rig.clock.now()
    rig.scale.read()
    assert rig.clock.now() == start
    rig.clock.sleep(3600.0)
    assert rig.clock.now() == pytest.approx(start + 3600.0)
    assert rig.scale.read().t == pytest.approx(start + 3600.0)


def test_a_test_seed_gives_the_same_readings_in_a_new_emulator_process():
    def readings():
        with Rig(load_rig(NOMINAL)) as the_rig:
            the_rig.begin_test("determinism")
            the_rig.pump.resume()
            the_rig.pump.set_basal(30.0)
            out = []
            for _ in range(50):
                the_rig.clock.sleep(7.0)
                out.append(the_rig.scale.read().mass_mg)
            return out

    assert readings() == readings()


def test_device_refusals_are_typed(rig):
    with pytest.raises(DeviceRefused) as info:
        rig.pump.bolus(1.0)  # a fresh pump is suspended
    assert info.value.code == "NOT_ALLOWED"


def test_a_corrupt_request_gets_a_typed_error_frame(rig):
    line = rig.pump.link.line
    line.write_line(b"7 STATUS*0000\r\n")
    assert line.read_line().startswith(b"0 ERR BAD_FRAME CRC_mismatch")


def test_make_safe_stops_delivery(rig):
    rig.pump.resume()
    rig.pump.set_basal(1.0)
    assert rig.make_safe("unit test").ok
    assert rig.pump.status().state is PumpState.SUSPENDED


def test_leaving_the_rig_on_an_exception_stops_the_pump():
    with pytest.raises(RuntimeError):
        with Rig(load_rig(NOMINAL)) as the_rig:
            the_rig.pump.resume()
            the_rig.pump.set_basal(1.0)
            raise RuntimeError("a test went wrong")
    assert the_rig.safety_log[-1].ok and "RuntimeError" in the_rig.safety_log[-1].reason
    assert not the_rig.emulator.alive()


def test_a_silent_balance_times_out_with_a_clear_error():
    master, slave = os.openpty()
    try:
        balance = MtSicsBalance(os.ttyname(slave), lambda: 0.0, timeout_s=0.3)
        with pytest.raises(TransportError, match=r"balance .* no answer within 0.3 s"):
            balance.read()
        balance.close()
    finally:
        os.close(master)
        os.close(slave)


def test_a_missing_port_is_a_clear_transport_error():
    with pytest.raises(TransportError, match="cannot open /dev/ttyNOPE"):
        SerialLine("/dev/ttyNOPE", name="pump")


def test_balance_streaming_follows_simulated_time(rig):
    first = rig.scale.start_stream()  # the immediate reply to SIR
    rig.clock.sleep(5.0)  # one SIR reading per emulated second (BalanceParams.sir_interval_s)
    streamed = [rig.scale.stream_reading() for _ in range(5)]
    assert first.stable and all(r.stable for r in streamed)
    assert rig.scale.reset() == "B000000001"  # @ stops the stream and discards what is left
    assert rig.scale.read().stable


def test_the_pump_over_can_behaves_as_over_serial():
    with Rig(load_rig(ROOT / "fixtures" / "rigs" / "emulator-can.yaml")) as can_rig:
        can_rig.begin_test("unit")
        assert can_rig.identities["pump"] == {"model": "RP-1", "serial": "EMU-0001", "firmware": "1.0.0", "protocol": "1"}
        with pytest.raises(DeviceRefused) as info:
            can_rig.pump.bolus(1.0)
        assert info.value.code == "NOT_ALLOWED"
        can_rig.pump.resume()
        assert can_rig.pump.bolus(1.0) == pytest.approx(40.0)
        can_rig.clock.sleep(60.0)
        # Over CAN an event carries no number the clock step could await, as the serial EVT's does, and the step is
        # answered on another link (read right after it, the BolusDone was missing once under load): a request on
        # the pump's own bus first, by whose reply an event sent before it has arrived (conformance.bolus_done_event)
        status = can_rig.pump.status()
        assert [type(e) for e in can_rig.pump.events()] == [BolusDone]
        assert (status.state, status.delivered_U, status.bolus) == ("RUNNING", pytest.approx(1.0), "IDLE")
        assert can_rig.pump.history_since(0.0) == (20, pytest.approx(1.0))


@pytest.mark.parametrize("rig_file", ["emulator.yaml", "emulator-can.yaml"])
def test_temporary_basal_over_either_transport(rig_file):
    with Rig(load_rig(ROOT / "fixtures" / "rigs" / rig_file)) as the_rig:
        the_rig.begin_test("temp basal")
        the_rig.pump.resume()
        the_rig.pump.set_basal(1.0)
        the_rig.pump.set_temp_basal(0.0, 30)
        assert the_rig.pump.status().basal_U_per_h == 0.0
        the_rig.clock.sleep(1800.0 + 1)
        assert the_rig.pump.status().basal_U_per_h == 1.0


@pytest.mark.parametrize("rig_file", ["emulator.yaml", "emulator-can.yaml"])
def test_cgm_values_reach_the_pump_over_either_transport(rig_file):
    with Rig(load_rig(ROOT / "fixtures" / "rigs" / rig_file)) as the_rig:
        the_rig.begin_test("cgm")
        assert the_rig.pump.status().cgm_mg_dl is None
        the_rig.pump.cgm_input(112, -1.5)
        assert the_rig.pump.status().cgm_mg_dl == 112


def test_a_dropped_alarm_line_is_a_lost_event_not_a_missing_alarm(rig):
    rig.pump.resume()
    rig.pump.set_basal(2.0)
    rig.clock.sleep(600.0)
    rig.occlusion_valve.close()
    rig.control.wire_fault("pump", WireFaultKind.DROP)  # the pump's next line: its occlusion ALARM event
    with pytest.raises(LostEvent, match="event E1, sent before the rig clock's last step, did not arrive within 2 s"):
        rig.clock.sleep(4 * 3600.0)  # the step that raised the alarm names the event it sent
    with pytest.raises(LostEvent, match="alarm\\(s\\) 1 active but no ALARM event"):
        rig.pump.status()  # and STATUS shows the alarm whose event never came


def test_each_clock_step_waits_for_the_pump_events_it_sent_even_when_its_answer_comes_first(rig):
    """Over a network the step's answer can overtake the pump's lines; the harness awaits the events the step
    reports. Here the pump's lines are held 0.5 s of wall time (a stall), the control's answer is not."""
    rig.pump.resume()
    rig.pump.set_basal(2.0)
    rig.clock.sleep(600.0)
    rig.occlusion_valve.close()
    rig.control.wire_fault("pump", WireFaultKind.STALL, seconds=0.5)
    rig.clock.sleep(4 * 3600.0)
    assert [type(e).__name__ for e in rig.pump.events()] == ["Alarm"]  # there at once, as on the ptys


def test_a_duplicated_balance_reply_is_a_rig_fault_before_any_reading_is_shifted():
    def read_into(out: list[float], duplicate_at: int | None) -> None:
        with Rig(load_rig(NOMINAL)) as the_rig:
            the_rig.begin_test("duplicate")
            the_rig.pump.resume()
            the_rig.pump.set_basal(30.0)
            for k in range(6):
                if k == duplicate_at:
                    the_rig.control.wire_fault("balance", WireFaultKind.DUPLICATE)
                the_rig.clock.sleep(60.0)
                out.append(the_rig.scale.read().mass_mg)

    clean, faulty = [], []
    read_into(clean, duplicate_at=None)
    with pytest.raises(LineFault, match="unasked-for line"):
        read_into(faulty, duplicate_at=2)
    assert faulty == clean[:3]  # the reading whose reply was duplicated, and none after it taken from the copy


@pytest.mark.parametrize("rig_file", ["emulator.yaml", "emulator-can.yaml"])
def test_a_basal_programme_and_the_pumps_clock_over_either_transport(rig_file):
    schedule = BasalSchedule((BasalSegment(0, 1.0), BasalSegment(2 * 60, 2.5), BasalSegment(23 * 60 + 30, 0.0)))
    with Rig(load_rig(ROOT / "fixtures" / "rigs" / rig_file)) as the_rig:
        the_rig.begin_test("programme")
        assert the_rig.pump.set_basal_schedule(schedule) == pytest.approx(schedule.daily_U)  # 2 + 53.75 + 0
        assert the_rig.pump.set_time_of_day(2 * 3600 - 10) == 2 * 3600 - 10
        assert the_rig.pump.status().basal_U_per_h == 1.0
        the_rig.clock.sleep(20.0)
        assert the_rig.pump.status().basal_U_per_h == 2.5
        assert the_rig.pump.time_of_day() == pytest.approx(2 * 3600 + 10, abs=0.01)
        the_rig.pump.set_time_of_day(23 * 3600 + 45 * 60)
        assert the_rig.pump.status().basal_U_per_h == 0.0
        with pytest.raises((DeviceRefused, ValueError)):  # the pump's refusal; over CAN the driver's: no such frame
            the_rig.pump.set_time_of_day(86_400 + 1)
        assert the_rig.pump.time_of_day() == pytest.approx(23 * 3600 + 45 * 60, abs=0.01)


@pytest.mark.parametrize("rig_file", ["emulator.yaml", "emulator-can.yaml"])
def test_the_bolus_calculator_over_either_transport(rig_file):
    settings = CalculatorSettings(carb_ratio_g_per_U=12.0, correction_factor_mg_dl_per_U=40.0, target_mg_dl=110.0)
    with Rig(load_rig(ROOT / "fixtures" / "rigs" / rig_file)) as the_rig:
        the_rig.begin_test("calculator")
        assert the_rig.pump.configure_calculator(settings) == settings
        assert the_rig.pump.bolus_advice(55, 200) == BolusAdvice(6.8, 0.0, 200.0)  # 4.583 + 2.25, rounded down
        assert the_rig.pump.bolus_advice(55) == BolusAdvice(4.55, 0.0, None)  # no glucose: the meal alone
        assert the_rig.pump.bolus_advice(0, use_cgm=True).glucose_mg_dl is None  # no CGM value yet
        the_rig.pump.cgm_input(250, 0.0)
        assert the_rig.pump.bolus_advice(0, use_cgm=True) == BolusAdvice(3.5, 0.0, 250.0)
        the_rig.clock.sleep(601.0)
        assert the_rig.pump.bolus_advice(0, use_cgm=True) == BolusAdvice(0.0, 0.0, None)  # taken over 10 min ago
