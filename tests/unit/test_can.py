"""The CAN layer: the DBC round-trips, the hub turns bad frames and lost frames into typed errors, the
emulator's slcan endpoint answers any input with an acknowledgement, a refusal or frames."""

import os
import time
import tty

import can
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hil.emulation.options import EmulatorConfig
from hil.emulator.can_endpoint import BELL, OK, CanEndpoint
from hil.emulator.world import World
from hil.errors import ProtocolError
from hil.transport import can_protocol as cp
from hil.transport.can_hub import CanHub
from hil.transport.slcan_bus import SlcanBus

DB = cp.load_database()


def raw_values(draw, signals):
    values = {}
    for signal in signals:
        if signal.is_signed:
            values[signal.name] = draw(st.integers(-(2 ** (signal.length - 1)), 2 ** (signal.length - 1) - 1))
        else:
            values[signal.name] = draw(st.integers(0, 2**signal.length - 1))
    return values


@st.composite
def message_and_values(draw):
    message = draw(st.sampled_from(DB.messages))
    if message.is_multiplexed():
        mux = next(s for s in message.signals if s.is_multiplexer)
        ids = sorted({i for s in message.signals for i in (s.multiplexer_ids or [])})
        chosen = draw(st.sampled_from(ids))
        signals = [s for s in message.signals if s.is_multiplexer or not s.multiplexer_ids or chosen in s.multiplexer_ids]
        values = raw_values(draw, [s for s in signals if not s.is_multiplexer])
        values[mux.name] = chosen
    else:
        values = raw_values(draw, message.signals)
    return message, values


@settings(max_examples=300)
@given(message_and_values())
def test_every_dbc_message_round_trips(case):
    message, values = case
    data = message.encode(values, scaling=False, strict=False)  # every bit pattern, not only the ranged ones
    assert len(data) == message.length
    assert message.decode(data, scaling=False, decode_choices=False) == values


@settings(max_examples=300)
@given(message_and_values())
def test_decoded_values_are_whole_steps_of_their_signal_and_encode_to_the_same_raw_values(case):
    message, values = case
    decoded = cp.decode(message, message.encode(values, scaling=False, strict=False))
    for signal in message.signals:
        value = decoded.get(signal.name)
        if isinstance(value, float):  # raw × scale + offset, written with no more places than the scale has
            assert value == float(f"{signal.scale * values[signal.name] + signal.offset:.{cp._places(signal.scale, signal.offset)}f}")
    again = message.decode(message.encode(decoded, strict=False), scaling=False, decode_choices=False)
    assert {name: again[name] for name in decoded} == {name: values[name] for name in decoded}


@pytest.fixture
def hub_and_node():
    channel = f"hil-test-{os.getpid()}"
    hub = CanHub(dbc=None, now=lambda: 0.0, timeout_s=0.2, interface="virtual", channel=channel)
    node = can.Bus(interface="virtual", channel=channel)
    yield hub, node
    hub.close()
    node.shutdown()


def send(node, name, **signals):
    spec = DB.get_message_by_name(name)
    node.send(can.Message(arbitration_id=spec.frame_id, data=spec.encode(signals), is_extended_id=False))


def test_a_lost_frame_is_detected_by_its_counter(hub_and_node):
    hub, node = hub_and_node
    for counter in (0, 1, 3):
        send(node, "PumpHeartbeat", counter=counter, state="RUNNING", pump_time=1.0)
    with pytest.raises(ProtocolError, match="1 pump heartbeat frame.s. lost .counter 1 then 3."):
        hub.drain()


def test_counters_wrap_without_a_false_alarm(hub_and_node):
    hub, node = hub_and_node
    for counter in (254, 255, 0, 1):
        send(node, "PumpHeartbeat", counter=counter, state="RUNNING", pump_time=1.0)
    hub.drain()
    assert [f["counter"] for f in hub.queues["PumpHeartbeat"]] == [254, 255, 0, 1]


@settings(max_examples=200, deadline=None)
@given(frame_id=st.sampled_from([m.frame_id for m in DB.messages] + [0x7FF, 0x000]), data=st.binary(max_size=8))
def test_random_frames_decode_or_give_a_typed_error(frame_id, data):
    channel = "hil-fuzz"
    hub = CanHub(dbc=None, now=lambda: 0.0, timeout_s=0.2, interface="virtual", channel=channel)
    node = can.Bus(interface="virtual", channel=channel)
    try:
        node.send(can.Message(arbitration_id=frame_id, data=data, is_extended_id=False))
        try:
            hub.drain()
        except ProtocolError:
            pass
    finally:
        hub.close()
        node.shutdown()


def test_a_garbled_adapter_line_is_a_protocol_error():
    master, slave = os.openpty()
    tty.setraw(slave)
    hub = CanHub(dbc=None, now=lambda: 0.0, timeout_s=0.5, interface="slcan", channel=os.ttyname(slave))
    try:
        os.write(master, b"t1G28ZZ\r")
        with pytest.raises(ProtocolError, match="garbled frame"):
            hub.read_until(lambda name, signals: True)
    finally:
        hub.close()
        os.close(master)
        os.close(slave)


def test_a_line_that_is_not_text_is_one_protocol_error_and_the_next_frame_still_comes():
    """A byte the wire garbled into a non-ASCII one: that line is a ProtocolError once, and the frame after it is
    read (python-can 4.6.1 decoded the line before taking it out of its buffer, so every later read failed)."""
    master, slave = os.openpty()
    tty.setraw(slave)
    hub = CanHub(dbc=None, now=lambda: 0.0, timeout_s=0.5, interface="slcan", channel=os.ttyname(slave))
    try:
        os.write(master, b"t12\xff8\r" + _slcan_line("PumpHeartbeat", {"counter": 7, "state": 1, "pump_time": 7}))
        with pytest.raises(ProtocolError, match="garbled frame"):
            hub.read_until(lambda name, signals: True)
        name, signals = hub.read_until(lambda name, signals: True)
        assert (name, signals["counter"]) == ("PumpHeartbeat", 7)
    finally:
        hub.close()
        os.close(master)
        os.close(slave)


def endpoint():
    written = []
    world = World(EmulatorConfig(), lambda kind, fields: None, lambda line: None)
    ep = CanEndpoint(None, lambda: world, written.append)
    ep.handle_line(b"O\r")
    written.clear()
    return ep, written


@given(st.binary(max_size=40))
def test_any_slcan_input_gets_an_answer_never_an_exception(line):
    ep, written = endpoint()
    ep.handle_line(line.replace(b"\r", b"") + b"\r")
    for out in written:
        assert out in (OK, BELL) or out.startswith((b"t", b"V", b"N"))


def test_a_request_over_slcan_is_answered_by_the_firmware():
    ep, written = endpoint()
    spec = DB.get_message_by_name("PumpRequest")
    data = spec.encode({"seq": 7, "opcode": "BOLUS", "bolus_amount": 1.0, "bolus_speed": 0})
    ep.handle_line(f"t100{len(data)}{data.hex()}\r".encode())
    (reply,) = written
    response = DB.get_message_by_name("PumpResponse")
    decoded = cp.decode(response, bytes.fromhex(reply[5:-1].decode()))
    assert reply.startswith(b"t101") and decoded["seq"] == 7 and decoded["result"] == "NOT_ALLOWED"  # suspended


def test_a_malformed_transmit_is_refused_with_bell():
    ep, written = endpoint()
    ep.handle_line(b"t1003ZZZZZZ\r")
    assert written == [BELL]


def test_auto_mode_over_can_takes_its_settings_with_the_switch_and_sends_its_decisions():
    written: list[bytes] = []
    world = World(EmulatorConfig(), lambda kind, fields: ep.event(kind, fields), lambda line: None)
    ep = CanEndpoint(None, lambda: world, written.append)
    ep.handle_line(b"O\r")

    def send(name: str, **signals) -> list[dict]:
        written.clear()
        data = cp.encode(DB.get_message_by_name(name), signals)
        ep.handle_line(f"t{DB.get_message_by_name(name).frame_id:03X}{len(data)}{data.hex()}\r".encode())
        frames = []
        for line in written:
            spec = DB.get_message_by_frame_id(int(line[1:4], 16))
            frames.append({"_name": spec.name, **cp.decode(spec, bytes.fromhex(line[5:-1].decode()))})
        return frames

    send("PumpRequest", seq=1, opcode="BASAL", basal_rate=1.0)
    send("PumpRequest", seq=2, opcode="RESUME")
    unchanged = {name: value for name, _, value in cp.AUTO_SETTINGS}
    (reply,) = send("PumpRequest", seq=3, opcode="AUTO", auto_switch="ON", **unchanged | {"auto_target": 120,
                                                                                         "auto_max_basal": 2.0})
    assert (reply["result"], reply["auto_on"], reply["auto_zone"], reply["auto_basal"]) == ("OK", 1, "NONE", 1.0)
    settings = world.pump.auto_settings
    assert (settings.target, settings.isf, settings.max_basal, settings.max_iob) == (120, 50, 2.0, 5.0)
    frames = send("CgmValue", counter=1, glucose=250, trend=0.0, age=0.0)
    basal, detail, bolus, _ = frames
    assert (basal["_name"], basal["kind"], basal["reason"], basal["amount"]) == ("PumpEvent", "AUTO_BASAL", "INCREASE", 2.0)
    assert (detail["_name"], detail["predicted_valid"], detail["predicted"]) == ("PumpAutoDetail", 1, 250)
    assert (bolus["kind"], bolus["amount"]) == ("AUTO_BOLUS", 1.55)  # 0.6 × (250 − 120) / 50, 0.05 U steps down
    assert [f["counter"] for f in frames] == [0, 1, 2, 3]  # one counter for every event frame: no gap
    assert send("CgmValue", counter=2, glucose=250, trend=0.0, age=900.0) == []  # stale: no decision


def _slcan_line(name: str, signals: dict) -> bytes:
    spec = DB.get_message_by_name(name)
    data = cp.encode(spec, signals)
    return f"t{spec.frame_id:03X}{len(data)}{data.hex().upper()}\r".encode()


def _received(bus: can.BusABC, timeout_s: float = 0.05) -> list[tuple]:
    got = []
    while (message := bus.recv(timeout=timeout_s)) is not None:
        got.append((message.arbitration_id, bytes(message.data), message.is_remote_frame, message.is_extended_id))
    return got


@settings(max_examples=25, deadline=None)
@given(
    lines=st.lists(
        st.sampled_from([b"z\r", b"\a", b"T123456782AABB\r", b"r1230\r", b"V1013\r"])
        | st.integers(0, 255).map(lambda n: _slcan_line("PumpHeartbeat", {"counter": n, "state": 1, "pump_time": n})),
        max_size=30,
    ),
    cuts=st.lists(st.integers(1, 60), max_size=10),
)
def test_the_slcan_client_reading_what_waits_gives_python_cans_frames(lines, cuts):
    """hil.transport.slcan_bus reads all the adapter has sent at once: the same messages, in the same order, as
    python-can's own slcan client reading the same bytes, however the writes cut them."""
    stream = b"".join(lines)
    results = []
    for cls in (can.interfaces.slcan.slcanBus, SlcanBus):
        master, slave = os.openpty()
        tty.setraw(slave)
        bus = cls(channel=os.ttyname(slave), sleep_after_open=0)
        try:
            os.read(master, 64)  # the client's "O" (open)
            at, got = 0, []
            for cut in [*cuts, len(stream)]:
                os.write(master, stream[at : at + cut])
                at += cut
                time.sleep(0.002)
                got += _received(bus, 0.0)  # a read between writes: a line split across reads
            results.append(got + _received(bus))
        finally:
            bus.shutdown()
            os.close(master)
            os.close(slave)
    assert results[0] == results[1]


def test_a_drain_takes_every_frame_already_read_from_the_port():
    """Frames that arrived together are all queued by one drain, though the port is empty once the client has read
    them all in one read."""
    master, slave = os.openpty()
    tty.setraw(slave)
    hub = CanHub(dbc=None, now=lambda: 0.0, timeout_s=0.5, interface="slcan", channel=os.ttyname(slave))
    try:
        os.write(master, b"z\r" * 1500 + b"".join(_slcan_line("PumpHeartbeat", {"counter": n, "state": 1, "pump_time": n})
                                           for n in range(5)))  # after adapter replies, which are no frames
        time.sleep(0.05)
        hub.drain()
        assert [frame["counter"] for frame in hub.queues["PumpHeartbeat"]] == [0, 1, 2, 3, 4]
    finally:
        hub.close()
        os.close(master)
        os.close(slave)
