"""The SBI driver against the emulated SBI balance over its pty (the emulator process, as a bench is driven)
and against scripted balances for what the emulator never does. Every fault here is the rig's (a RigError),
never the pump's; nothing waits beyond the link's timeout."""

import time

import pytest

from hil.drivers.contracts import Refusal
from hil.drivers.emulator_control import EmulatorControl
from hil.drivers.mtsics import MtSicsBalance
from hil.drivers.pump_reference import ReferencePumpDriver
from hil.drivers.sartorius_sbi import SartoriusSbiBalance
from hil.emulation.wire_faults import WireFaultKind
from hil.errors import InstrumentRefused, LineFault, ProtocolError, RigError, TransportError
from hil.rig.emulator_process import EmulatorProcess
from tests.unit.pty_instrument import ScriptedInstrument

from .test_wire_faults import NOMINAL

TIMEOUT_S = 1.0


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    """The emulator with both balances on SBI; the lost-vessel one too small for its 35 g vessel."""
    rig = tmp_path_factory.mktemp("sbi") / "sbi.yaml"
    rig.write_text(f"extends: {NOMINAL}\nemulator:\n  balance: {{protocol: sbi, model: MSE225S-EMU}}\n"
                   f"  lost_balance: {{protocol: sbi, capacity_g: 30.0}}\n")
    process = EmulatorProcess(rig)
    control = EmulatorControl(process.endpoints["control"])
    yield process.endpoints, control
    control.close()
    process.stop()


@pytest.fixture
def connect(emulator):
    endpoints, control = emulator
    control.reset(7)
    opened = []

    def make(endpoint="balance"):
        opened.append(SartoriusSbiBalance(endpoints[endpoint], control.now, timeout_s=TIMEOUT_S))
        return opened[-1]

    yield make
    for balance in opened:
        balance.close()


def test_identity_and_reset(connect):
    balance = connect()
    assert balance.identify() == {"model": "MSE225S-EMU", "serial": "B000000001", "software": "EMU-1.0"}
    assert balance.reset() == "B000000001"


def test_a_settled_vessel_reads_stable_at_the_rig_clock(connect, emulator):
    balance, control = connect(), emulator[1]
    control.advance(5.0)
    reading = balance.read()
    assert reading.stable and reading.mass_mg == pytest.approx(35000.0, abs=0.1) and reading.t == control.now()
    assert balance.read_stable().mass_mg == pytest.approx(35000.0, abs=0.1)


def test_while_a_bolus_settles_a_stable_read_is_busy_and_never_a_dynamic_value(connect, emulator):
    endpoints, control = emulator
    balance, pump = connect(), ReferencePumpDriver(endpoints["pump"], timeout_s=2.0)
    try:
        pump.resume()
        pump.bolus(1.0)
        control.advance(30.0)  # past the plunger slack: drops are arriving
        assert not balance.read().stable
        for attempt in (balance.read_stable, balance.tare, balance.zero):
            with pytest.raises(InstrumentRefused) as info:
                attempt()
            assert info.value.code is Refusal.BUSY and "not stable" in str(info.value)
        control.advance(300.0)
        assert balance.read_stable().mass_mg == pytest.approx(35000.0 + 7.0, abs=1.0)  # 0.7 U past the slack
    finally:
        pump.stop()
        pump.close()


def test_over_the_wire_the_sbi_and_mtsics_balances_read_the_same_for_a_seed(emulator):
    """One weighing model behind both protocols: the same readings, settling ones included, for a seed (time
    runs on across RESET, so the two emulators' clocks differ; the readings do not)."""

    def readings(endpoints, control, driver):
        control.reset(11)
        balance, pump = driver(endpoints["balance"], control.now), ReferencePumpDriver(endpoints["pump"])
        try:
            pump.resume()
            pump.bolus(0.5)
            readings = []
            for _ in range(20):
                control.advance(3.0)
                reading = balance.read()
                readings.append((reading.mass_mg, reading.stable))
            return readings
        finally:
            pump.stop()
            pump.close()
            balance.close()

    mtsics = EmulatorProcess(NOMINAL)
    control = EmulatorControl(mtsics.endpoints["control"])
    try:
        by_mtsics = readings(mtsics.endpoints, control, MtSicsBalance)
    finally:
        control.close()
        mtsics.stop()
    by_sbi = readings(*emulator, SartoriusSbiBalance)
    assert by_sbi == by_mtsics and {stable for _, stable in by_sbi} == {True, False}


def test_tare_takes_the_vessel_off_the_display_and_a_zero_with_it_on_is_not_taken(connect):
    """A balance zeroes only a pan near its power-on zero: with the 35 g vessel on, the zero key is ignored and the
    tare stays (as an MT-SICS balance answers Z +)."""
    balance = connect()
    assert balance.tare() == pytest.approx(35000.0, abs=0.1)
    assert balance.read_stable().mass_mg == pytest.approx(0.0, abs=0.1)
    balance.zero()
    assert balance.read_stable().mass_mg == pytest.approx(0.0, abs=0.1)  # still tared


def test_overload_is_a_typed_refusal(connect):
    balance = connect("balance-lost")  # 35 g on a 30 g balance
    for attempt in (balance.read, balance.read_stable, balance.tare):
        with pytest.raises(InstrumentRefused) as info:
            attempt()
        assert info.value.code is Refusal.OVERLOAD and isinstance(info.value, RigError)


def test_a_duplicated_line_is_a_line_fault_and_a_caller_that_goes_on_is_aligned(connect, emulator):
    balance, control = connect(), emulator[1]
    control.wire_fault("balance", WireFaultKind.DUPLICATE)
    first = balance.read()
    time.sleep(0.05)
    with pytest.raises(LineFault, match="1 unasked-for line\\(s\\) before ESC P"):
        balance.read()  # the copy is never taken for this reading's reply
    assert balance.read().mass_mg == pytest.approx(first.mass_mg, abs=0.1)


def test_a_silent_balance_is_the_links_timeout_not_a_hang(connect, emulator):
    balance, control = connect(), emulator[1]
    control.wire_fault("balance", WireFaultKind.SILENT)
    for attempt in (balance.read, balance.identify, balance.tare, balance.reset):
        started = time.monotonic()
        with pytest.raises(TransportError, match=f"no answer within {TIMEOUT_S:g} s"):
            attempt()
        assert time.monotonic() - started < TIMEOUT_S + 0.5


@pytest.fixture
def scripted():
    made = []

    def make(answer, timeout_s=TIMEOUT_S):
        fake = ScriptedInstrument(answer)
        made.append((fake, SartoriusSbiBalance(fake.path, time.monotonic, timeout_s=timeout_s)))
        return made[-1]

    yield make
    for fake, balance in made:
        balance.close()
        fake.close()


def test_a_tare_the_balance_ignores_is_refused(scripted):
    fake, balance = scripted(lambda command: ["+ 35.00000 g  "] if command == "\x1bP" else [])
    with pytest.raises(InstrumentRefused) as info:
        balance.tare()
    assert info.value.code is Refusal.NOT_ALLOWED and "35000 mg after it" in str(info.value)
    assert fake.commands == ["\x1bP", "\x1bU", "\x1bP"]


def test_a_tare_or_zero_on_an_unstable_display_is_busy_and_never_pressed(scripted):
    fake, balance = scripted(lambda command: ["+ 35.00000    "] if command == "\x1bP" else [])
    for press in (balance.tare, balance.zero):
        with pytest.raises(InstrumentRefused) as info:
            press()
        assert info.value.code is Refusal.BUSY
    assert fake.commands == ["\x1bP", "\x1bP"]  # neither key was pressed


def test_lines_that_arrive_unasked_are_a_line_fault(scripted):
    fake, balance = scripted(lambda command: ["+  2.00000 g  "])
    fake.send("+  9.00000    ")  # a late line, or one of an auto print stream
    time.sleep(0.05)
    with pytest.raises(LineFault, match=r"\+  9\.00000"):
        balance.read()
    assert balance.read().mass_mg == 2000.0


def test_reset_passes_over_an_auto_print_stream_to_the_serial_number(scripted):
    stream = ["+  1.00000    ", "      High    "] * 4
    _, balance = scripted(lambda command: stream + ["SerNo.    0031801165"] if command == "\x1bx2_" else [])
    assert balance.reset() == "SerNo.    0031801165"


def test_a_reset_that_never_sees_its_reply_is_a_rig_fault_not_a_hang(scripted):
    _, balance = scripted(lambda command: ["+  1.00000    "] * 40, timeout_s=0.2)  # 9600 baud: 14 lines in 0.2 s
    with pytest.raises(ProtocolError, match="no reply to ESC x2_"):
        balance.reset()
