"""The MT-SICS driver keeps request and reply aligned on a wire that duplicates or leaves lines behind, never
weighs with a dynamic reading as if stable, and records identities as given, with a warning when they look wrong.
Every fault here is the rig's (a RigError), never the pump's."""

import itertools
import logging
import time
from types import SimpleNamespace

import pytest

from hil.drivers.contracts import Reading, Refusal
from hil.drivers.mtsics import MtSicsBalance
from hil.errors import InstrumentRefused, InstrumentUnstable, LineFault, ProtocolError, RigError
from hil.procedures.delivery import stable_reading
from hil.rig.clock import RealClock
from tests.unit.pty_instrument import ScriptedInstrument


@pytest.fixture
def instrument():
    made = []

    def make(answer):
        fake = ScriptedInstrument(answer)
        made.append((fake, MtSicsBalance(fake.path, time.monotonic, timeout_s=5.0)))
        return made[-1]

    yield make
    for fake, balance in made:
        balance.close()
        fake.close()


def weights_in_grams():
    return (f"S S {g:.5f} g" for g in itertools.count(1))


def test_a_duplicated_reply_never_shifts_a_reading_and_is_a_rig_fault(instrument):
    replies = weights_in_grams()
    answered = itertools.count()

    def answer(command):
        line = next(replies)
        return [line, line] if next(answered) == 1 else [line]  # the second reply arrives twice

    _, balance = instrument(answer)
    assert [balance.read().mass_mg for _ in range(2)] == [1000.0, 2000.0]
    time.sleep(0.05)
    with pytest.raises(LineFault, match="1 unasked-for line\\(s\\) before SI"):
        balance.read()  # the copy is never taken for this reading's reply
    assert balance.read().mass_mg == 3000.0  # discarded: a caller that goes on is still aligned


def test_lines_that_arrive_unasked_are_discarded_and_a_rig_fault(instrument):
    fake, balance = instrument(lambda command: ["S S 2.00000 g"])
    fake.send("S D 9.00000 g")  # a late reply, or a line from a stream nobody started
    time.sleep(0.05)
    with pytest.raises(LineFault) as info:
        balance.read()
    assert isinstance(info.value, RigError) and "S D 9.00000 g" in str(info.value)
    assert balance.read().mass_mg == 2000.0


def test_read_stable_never_returns_a_dynamic_reading(instrument):
    _, balance = instrument(lambda command: ["S D 0.44970 g"])  # a balance that answers S with S D while settling
    with pytest.raises(InstrumentRefused) as info:
        balance.read_stable()
    assert info.value.code is Refusal.BUSY and "S D" in str(info.value)


def test_the_stable_reading_procedure_waits_out_dynamic_replies(instrument):
    replies = iter(["S D 0.44970 g", "S D 1.90000 g", "S S 2.00000 g"])
    _, balance = instrument(lambda command: [next(replies)])
    rig = SimpleNamespace(clock=RealClock(), scale=balance)
    reading = stable_reading(rig, timeout_s=2.0, poll_s=0.01)
    assert (reading.mass_mg, reading.stable) == (2000.0, True)


def test_a_balance_that_never_settles_is_a_rig_fault(instrument):
    _, balance = instrument(lambda command: ["S I"])
    rig = SimpleNamespace(clock=RealClock(), scale=balance)
    with pytest.raises(InstrumentUnstable, match="not stable within 0.1 s"):
        stable_reading(rig, timeout_s=0.1, poll_s=0.02)


def test_a_reply_that_answers_another_command_is_a_protocol_error_naming_the_command_sent(instrument):
    _, balance = instrument(lambda command: ['I4 A "B0001"'])
    with pytest.raises(ProtocolError, match="to SI$"):
        balance.read()


@pytest.mark.parametrize("reply, code", [("ET", Refusal.TRANSMISSION), ("ES", Refusal.NOT_UNDERSTOOD),
                                         ("S +", Refusal.OVERLOAD), ("S I", Refusal.BUSY)])
def test_balance_refusals_are_rig_faults_naming_the_command(instrument, reply, code):
    _, balance = instrument(lambda command: [reply])
    with pytest.raises(InstrumentRefused) as info:
        balance.read()
    assert info.value.code is code and "SI" in str(info.value)
    assert isinstance(info.value, RigError)


@pytest.mark.parametrize("model, serial, warned", [
    ("XPR205 220 g", "B000000001", None),
    ("B000000001", "B000000001", "serial number"),
    ("B000000002", "B000000001", "no capacity"),
    ("", "B000000001", "I2 answered an empty string"),
    ("XPR205 220 g", "", "I4 answered an empty string"),
])
def test_identities_are_kept_as_given_with_a_warning_when_they_look_wrong(instrument, caplog, model, serial, warned):
    _, balance = instrument(lambda command: [f'{command} A "{model if command == "I2" else serial}"'])
    with caplog.at_level(logging.WARNING):
        identity = balance.identify()
    assert (identity["model"], identity["serial"]) == (model, serial)
    if warned is None:
        assert "warnings" not in identity and not caplog.text
    else:
        assert any(warned in w for w in identity["warnings"]) and warned in caplog.text


def test_the_stable_reading_procedure_refuses_a_dynamic_reading_any_driver_lets_through():
    readings = iter([Reading(0.0, 449.7, False), Reading(1.0, 2000.0, True)])
    rig = SimpleNamespace(clock=RealClock(), scale=SimpleNamespace(read_stable=lambda: next(readings)))
    assert stable_reading(rig, timeout_s=2.0, poll_s=0.01).mass_mg == 2000.0


def test_a_reset_that_never_sees_its_reply_is_a_rig_fault_not_a_hang(instrument):
    fake, balance = instrument(lambda command: ["S D 1.00000 g"] * 60)  # streams on, never answers @ with I4
    with pytest.raises(ProtocolError, match="no I4 reply to @"):
        balance.reset()
