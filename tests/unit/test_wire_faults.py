"""Wire faults: each kind does what it says to the bytes the real emulator process puts on its ptys, armed from the
control channel (FAULT) or from the rig file (after every RESET)."""

import os
import select
import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from hil.drivers.emulator_control import EmulatorControl
from hil.emulation.wire_faults import WireFault, WireFaultKind
from hil.errors import InstrumentRefused, RigError
from hil.rig.emulator_process import EmulatorProcess
from hil.transport.frames import FrameError, decode, encode

ROOT = Path(__file__).resolve().parents[2]
NOMINAL = ROOT / "fixtures" / "rigs" / "emulator.yaml"
I4 = b'I4 A "B000000001"\r\n'  # the balance's answer to I4: the same bytes every time


class Wire:
    """The harness end of one emulator pty, read as raw bytes (no line discipline of our own)."""

    def __init__(self, path: str):
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)

    def send(self, data: bytes) -> None:
        os.write(self.fd, data)

    def received(self, quiet_s: float = 0.2) -> bytes:
        """Everything that arrives until the wire has been quiet for quiet_s."""
        data = b""
        while select.select([self.fd], [], [], quiet_s)[0]:
            data += os.read(self.fd, 65536)
        return data

    def close(self) -> None:
        os.close(self.fd)


@pytest.fixture(scope="module")
def emulator():
    process = EmulatorProcess(NOMINAL)
    control = EmulatorControl(process.endpoints["control"])
    wires = {name: Wire(process.endpoints[name]) for name in ("pump", "balance", "can")}
    yield control, wires
    for wire in wires.values():
        wire.close()
    control.close()
    process.stop()


@pytest.fixture
def control(emulator):
    control, wires = emulator
    control.clear_wire_faults()
    for wire in wires.values():
        wire.received(0.05)
    return control


@pytest.fixture
def balance(emulator, control):
    return emulator[1]["balance"]


def ask_i4(balance: Wire, times: int = 1) -> bytes:
    for _ in range(times):
        balance.send(b"I4\r\n")
    return balance.received()


def test_without_a_fault_the_wire_is_untouched(control, balance):
    assert ask_i4(balance, 2) == I4 * 2


def test_corrupt_flips_one_bit_and_keeps_the_terminator(control, balance):
    control.wire_fault("balance", WireFaultKind.CORRUPT)
    body = bytearray(I4[:-2])
    body[len(body) // 2] ^= 0x80  # default: the middle byte, its top bit (non-ASCII, as a framing error leaves)
    assert ask_i4(balance, 2) == bytes(body) + b"\r\n" + I4
    control.wire_fault("balance", WireFaultKind.CORRUPT, byte=-1, bit=0)
    assert ask_i4(balance) == I4[:-3] + b"#\r\n"  # '"' ^ 1


def test_drop_loses_the_next_line_only(control, balance):
    control.wire_fault("balance", WireFaultKind.DROP)
    assert ask_i4(balance, 3) == I4 * 2


def test_duplicate_sends_the_next_line_twice(control, balance):
    control.wire_fault("balance", "duplicate")
    assert ask_i4(balance, 2) == I4 * 3


def test_truncate_sends_half_a_line_without_its_terminator(control, balance):
    control.wire_fault("balance", WireFaultKind.TRUNCATE)
    half = I4[: (len(I4) - 2) // 2]
    assert ask_i4(balance) == half
    assert ask_i4(balance) == I4  # the next line follows on the same wire: the receiver sees half + line


def test_count_sets_how_many_lines_are_hit(control, balance):
    control.wire_fault("balance", WireFaultKind.DROP, count=2)
    assert ask_i4(balance, 4) == I4 * 2


def test_skip_lets_lines_through_before_the_fault(control, balance):
    control.wire_fault("balance", WireFaultKind.DROP, skip=2, count=2)
    assert ask_i4(balance, 5) == I4 * 3  # lines 1 and 2 through, 3 and 4 dropped, 5 through


def test_stall_holds_the_output_back_for_its_wall_seconds(control, balance):
    control.wire_fault("balance", WireFaultKind.STALL, seconds=0.6)
    started = time.monotonic()
    balance.send(b"I4\r\nI4\r\n")
    assert not select.select([balance.fd], [], [], 0.4)[0]  # nothing yet: the device answers late
    assert balance.received(0.5) == I4 * 2  # then everything it held, in order
    assert 0.6 <= time.monotonic() - started < 1.6
    assert ask_i4(balance) == I4


def test_silent_answers_nothing_until_cleared(control, balance):
    control.wire_fault("balance", WireFaultKind.SILENT)
    assert ask_i4(balance, 3) == b""
    assert control.clear_wire_faults("balance") == 1
    assert ask_i4(balance) == I4


def test_a_fault_at_a_simulated_time_waits_for_it(control, balance):
    now = control.now()
    control.wire_fault("balance", WireFaultKind.DROP, at=now + 10.0)
    assert ask_i4(balance) == I4
    control.advance(10.0)
    assert ask_i4(balance, 2) == I4


def test_a_span_hits_every_line_within_it_and_nothing_after(control, balance):
    control.wire_fault("balance", WireFaultKind.SILENT, span_s=5.0)
    assert ask_i4(balance, 2) == b""
    control.advance(5.0)
    assert ask_i4(balance) == I4


def test_pump_frames_fail_their_crc_when_corrupted_and_repeat_their_tag_when_duplicated(emulator, control):
    pump = emulator[1]["pump"]
    control.wire_fault("pump", WireFaultKind.CORRUPT)
    pump.send(encode("1", "ID"))
    with pytest.raises(FrameError):
        decode(pump.received())
    control.wire_fault("pump", WireFaultKind.DUPLICATE)
    pump.send(encode("2", "ID"))
    first, second, rest = pump.received().split(b"\n")
    assert first == second and decode(first + b"\n").tag == "2" and rest == b""


def test_can_frames_are_faulted_on_the_slcan_pty(emulator, control):
    can = emulator[1]["can"]
    control.wire_fault("can", WireFaultKind.DUPLICATE)
    can.send(b"V\r")
    assert can.received() == b"V0101\rV0101\r"


def test_reset_disarms_the_faults_of_the_control_channel(control, balance):
    control.wire_fault("balance", WireFaultKind.SILENT)
    control.reset(5)
    assert ask_i4(balance) == I4


@pytest.mark.parametrize("args", [
    ("control", "drop"),  # the control channel itself is never faulted
    ("pump", "melt"),
    ("pump",),
    ("pump", "stall"),  # a stall needs its seconds
    ("pump", "drop", "seconds=1"),
    ("pump", "drop", "count=0"),
    ("pump", "drop", "skip=-1"),
    ("pump", "drop", "count=1", "span=2"),
    ("pump", "drop", "span=nan"),
    ("pump", "silent", "count=3"),
    ("pump", "corrupt", "bit=8"),
    ("pump", "drop", "count=two"),
    ("pump", "drop", "after=3"),
    ("CLEAR", "control"),
])
def test_bad_fault_arguments_are_refused_with_a_typed_error(control, args):
    with pytest.raises(InstrumentRefused) as info:  # the emulator's refusal is the rig's, never the pump's
        control.link.request("FAULT", *args)
    assert info.value.code == "BAD_ARGUMENT" and isinstance(info.value, RigError)


def test_the_rig_file_model_is_strict():
    fault = WireFault(endpoint="balance", kind="stall", at_s=1800, seconds=5.0)
    assert fault.kind is WireFaultKind.STALL and fault.count is None
    for bad in ({"endpoint": "balance", "kind": "drop", "at_s": float("inf")},
                {"endpoint": "balance", "kind": "drop", "count": "1"},
                {"endpoint": "balance", "kind": "drop", "count": True},
                {"endpoint": "scale", "kind": "drop"},
                {"endpoint": "balance", "kind": "drop", "when": 3}):
        with pytest.raises(ValidationError):
            WireFault(**bad)


def test_rig_file_faults_are_armed_after_every_reset_counted_from_it(tmp_path):
    rig_file = tmp_path / "faulty.yaml"
    rig_file.write_text(f"extends: {NOMINAL}\nrig_id: wire-fault-unit\nemulator:\n"
                        "  wire_faults: [{endpoint: balance, kind: silent, at_s: 10, span_s: 5}]\n")
    process = EmulatorProcess(rig_file)
    control, balance = EmulatorControl(process.endpoints["control"]), Wire(process.endpoints["balance"])
    try:
        control.advance(20.0)
        assert ask_i4(balance) == I4  # not armed before the first RESET
        for seed in (1, 2):
            control.reset(seed)
            control.advance(9.0)
            assert ask_i4(balance) == I4
            control.advance(1.0)
            assert ask_i4(balance) == b""
            control.advance(5.0)
            assert ask_i4(balance) == I4
    finally:
        balance.close()
        control.close()
        process.stop()
