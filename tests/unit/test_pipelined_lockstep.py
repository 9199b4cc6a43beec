"""Pipelined lockstep: steps the harness does not wait for. The emulator holds what is written on a held endpoint until
the control channel announces it, and handles it after the step announced with it, whatever order the ptys deliver
the two in; a recording asked ahead is the recording read one sample at a time, to the bit; a step that reaches
another time than the harness stamped is an error, never a silent shift."""

import os
import select
from pathlib import Path

import pytest

from hil.drivers.contracts import AsksAhead
from hil.drivers.emulator_control import EmulatorControl
from hil.emulation.wire_faults import WireFaultKind
from hil.errors import InstrumentRefused, LineFault, ProtocolError, TransportError
from hil.evidence.recording import CsvRecording
from hil.procedures import delivery
from hil.rig.clock import SimClock
from hil.rig.config import load_rig
from hil.rig.emulator_process import EmulatorProcess
from hil.rig.rig import Rig
from hil.transport.frames import decode, encode
from tests.unit.pty_instrument import ScriptedInstrument

ROOT = Path(__file__).resolve().parents[2]
NOMINAL = ROOT / "fixtures" / "rigs" / "emulator.yaml"
HOUR_S = 3600.0


class Wire:
    """The harness end of one emulator pty, raw."""

    def __init__(self, path: str):
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)

    def received(self, quiet_s: float = 0.3) -> bytes:
        data = b""
        while select.select([self.fd], [], [], quiet_s)[0]:
            data += os.read(self.fd, 65536)
        return data


@pytest.fixture
def emulator():
    """A fresh emulator (nothing written on its balance yet), its control channel and its balance's wire."""
    process = EmulatorProcess(NOMINAL)
    control = EmulatorControl(process.endpoints["control"])
    balance = Wire(process.endpoints["balance"])
    control.reset(7)
    yield control, balance
    os.close(balance.fd)
    control.close()
    process.stop()


def _weight_an_hour_on(control: EmulatorControl, balance: Wire) -> bytes:
    """The balance's SI reply an hour from now, asked the synchronous way: the step answered, then SI."""
    control.advance(HOUR_S)
    os.write(balance.fd, b"SI\r\n")
    return balance.received()


def test_a_request_written_before_its_step_arrives_is_answered_after_the_step():
    """The request reaches the emulator before the step it follows (written first here, as the ptys may deliver
    them); held, it is answered with the weight after the step, as the synchronous exchange gives it, not before."""
    replies = {}
    for way in ("synchronous", "held"):
        process = EmulatorProcess(NOMINAL)
        control = EmulatorControl(process.endpoints["control"])
        balance = Wire(process.endpoints["balance"])
        try:
            control.reset(7)
            if way == "synchronous":
                replies[way] = _weight_an_hour_on(control, balance)
                continue
            control.link.request("HOLD", "balance=0")
            os.write(balance.fd, b"SI\r\n")
            assert balance.received() == b"", "a held request was answered before it was announced"
            frame = control.link.request("ADV", f"{HOUR_S:.6f}", "balance=4")
            assert float(frame.fields["t"]) == pytest.approx(HOUR_S, abs=1e-6)
            replies[way] = balance.received()
        finally:
            os.close(balance.fd)
            control.close()
            process.stop()
    assert replies["held"] == replies["synchronous"]
    assert replies["held"].startswith(b"S ")


def test_the_step_before_a_request_changes_its_answer(emulator):
    """The contrast the test above rests on: asked before and after an hour, the balance answers differently."""
    control, balance = emulator
    os.write(balance.fd, b"SI\r\n")
    before = balance.received()
    assert before != _weight_an_hour_on(control, balance)


def test_a_fence_is_not_answered_and_releases_what_it_announces(emulator):
    control, balance = emulator
    control.link.request("HOLD", "balance=0")
    os.write(balance.fd, b"I4\r\n")
    assert balance.received() == b""
    control.link.send("FENCE", "balance=4", answered=False)
    assert balance.received() == b'I4 A "B000000001"\r\n'
    assert control.link.line.pending_lines() == []  # the FENCE was not answered
    control.link.request("UNHOLD", "balance")
    os.write(balance.fd, b"I4\r\n")
    assert balance.received() == b'I4 A "B000000001"\r\n'  # handled as it comes again


def test_a_refused_fence_raises_where_it_is_read(emulator):
    control, _ = emulator
    control.link.request("HOLD", "balance=0")
    control.link.send("FENCE", "balance=0", "scale=3", answered=False)
    with pytest.raises(InstrumentRefused, match="BAD_ARGUMENT"):
        control.now()


def test_unannounced_bytes_are_refused_at_unhold_and_hold_refuses_bytes_it_was_not_told_of(emulator):
    control, balance = emulator
    os.write(balance.fd, b"I4\r\n")
    balance.received()
    with pytest.raises(InstrumentRefused, match="more than the 0 written"):
        control.link.request("HOLD", "balance=0")
    control.link.request("HOLD", "balance=4")
    os.write(balance.fd, b"I4\r\n")
    with pytest.raises(InstrumentRefused, match="never announced"):
        control.link.request("UNHOLD", "balance")


def _record(rig: Rig, hours: float, path: Path) -> delivery.Series:
    rig.begin_test("asked-ahead")
    rig.pump.resume()
    rig.pump.set_basal(2.0)
    with CsvRecording(path, ["t_s", "mass_mg", "stable"]) as recording:
        return delivery.record(rig, rig.clock.now(), hours * HOUR_S, 10.0, recording)


def test_a_recording_asked_ahead_is_the_recording_read_one_sample_at_a_time(tmp_path):
    """The same samples at the same times, to the bit, and the same file: pipelining changes only the waits."""
    series = {}
    for pipelined in (False, True):
        with Rig(load_rig(NOMINAL)) as rig:
            assert isinstance(rig.scale, AsksAhead) and rig.clock.pipelines
            rig.clock.pipelines = pipelined
            series[pipelined] = _record(rig, 3.3, tmp_path / f"{pipelined}.csv")
    for column in ("t_s", "mass_mg", "stable"):
        assert getattr(series[True], column).tolist() == getattr(series[False], column).tolist()
    assert (tmp_path / "True.csv").read_bytes() == (tmp_path / "False.csv").read_bytes()
    assert len(series[True].t_s) > 2 * delivery.ASK_AHEAD  # several windows, the last one short


def test_a_bolus_recording_asked_ahead_is_the_one_read_one_sample_at_a_time(tmp_path):
    """Its samples up to the bolus's nominal end are asked ahead (nothing is asked of the pump before it), the rest
    one at a time with the pump's status: the same series, the same end, the same file."""
    got = {}
    for pipelined in (False, True):
        with Rig(load_rig(NOMINAL)) as rig:
            rig.clock.pipelines = pipelined
            rig.begin_test("bolus asked ahead")
            rig.pump.resume()
            nominal_s = rig.pump.bolus(5.0)
            with CsvRecording(tmp_path / f"{pipelined}.csv", ["t_s", "mass_mg", "stable"]) as recording:
                series, idle_at = delivery.record_bolus(rig, rig.clock.now(), nominal_s, 60.0, 1.0, 2.0, recording)
            got[pipelined] = (series.t_s.tolist(), series.mass_mg.tolist(), series.stable.tolist(), idle_at)
    assert got[True] == got[False]
    assert got[True][3] is not None and len(got[True][0]) > 2 * delivery.ASK_AHEAD
    assert (tmp_path / "True.csv").read_bytes() == (tmp_path / "False.csv").read_bytes()


@pytest.mark.parametrize(
    ("kind", "raised"), [(WireFaultKind.DUPLICATE, LineFault), (WireFaultKind.DROP, (ProtocolError, TransportError))]
)
def test_a_reply_doubled_or_lost_in_a_window_keeps_what_reading_one_at_a_time_keeps(tmp_path, kind, raised):
    """Replies asked ahead carry no number: a reply doubled or lost in the middle of a window would shift every one
    after it. The driver's markers show it at the sample where reading one at a time shows it, so the rows kept are
    the same, every one its own reply (the same bytes as the run read one sample at a time)."""
    sample = delivery.ASK_AHEAD + 5  # in the second window
    for pipelined in (False, True):
        with Rig(load_rig(NOMINAL)) as rig:
            rig.clock.pipelines = pipelined
            rig.begin_test("faulted")
            rig.pump.resume()
            rig.pump.set_basal(2.0)
            assert rig.control is not None
            # the balance's lines: a reply a sample, and with the samples asked ahead a marker after each
            rig.control.wire_fault("balance", kind, skip=sample * (2 if pipelined else 1))
            with CsvRecording(tmp_path / f"{pipelined}.csv", ["t_s", "mass_mg", "stable"]) as recording:
                with pytest.raises(raised):
                    delivery.record(rig, rig.clock.now(), 3 * HOUR_S, 10.0, recording)
    rows = (tmp_path / "True.csv").read_text().splitlines()
    assert (tmp_path / "True.csv").read_bytes() == (tmp_path / "False.csv").read_bytes()
    assert len(rows) == 1 + sample + (kind is WireFaultKind.DUPLICATE)  # the header, and the doubled one's own


class _ScriptedControl:
    """The control channel's ADV and NOW as the emulator answers them, but a step lands `off` seconds away."""

    def __init__(self, off: float):
        self.t, self.off = 100.0, off
        self.wire = ScriptedInstrument(self._answer)
        self.control = EmulatorControl(self.wire.path, timeout_s=2.0)

    def _answer(self, line: str) -> list[str]:
        frame = decode(line.encode())
        if frame.word == "ADV":
            self.t += float(frame.args[0]) + self.off
        return [encode(frame.tag, "OK", f"t={self.t:.6f}", "events=0").decode().rstrip()]


@pytest.mark.parametrize("off", [0.0, 1e-6])
def test_a_step_that_lands_elsewhere_than_stamped_is_a_protocol_error(off):
    scripted = _ScriptedControl(off)
    clock = SimClock(scripted.control)
    clock.pipelines = True
    try:
        with clock.pipelined():
            clock.sleep(10.0)
            assert clock.now() == 110.0  # the time the step reaches, before its answer is read
            if off:
                with pytest.raises(ProtocolError, match="reached t=110.000001, not the 110.000000"):
                    scripted.control.settle()
            else:
                assert scripted.control.settle()
    finally:
        scripted.control.close()
        scripted.wire.close()
