"""The emulator's CAN bus, served as an slcan adapter on a pty (python-can's `slcan` client talks to it).

The device side of slcan: ASCII commands ending in CR (`O`/`L` open, `C` close, `S<n>`/`s<btr>` bitrate,
`V`/`N` version and serial, `t<id><dlc><data>` transmit a standard frame); `\\r` acknowledges a command and
`\\a` (BELL) refuses a malformed one. Received frames are written as `t<id><dlc><data>\\r`. PumpRequest
frames are handed to the same firmware as the serial protocol (hil.transport.can_protocol maps them).

With `events_behind_status_s` (the rig file's `emulator.can_events_behind_status_s`) the pump's event frames are
held until its next STATUS reply has gone out and follow it that many wall seconds later: a pump whose status frames
win arbitration over its event frames, so that a STATUS shows an alarm before the alarm's frames arrive.
"""

import functools
from collections.abc import Callable

from hil.emulator.pump import Refused
from hil.transport import can_protocol as cp
from hil.transport.frames import Frame

OK, BELL = b"\r", b"\a"


class CanEndpoint:
    def __init__(
        self,
        dbc_path,
        world: Callable,
        write: Callable[[bytes], None],
        write_later: Callable[[bytes, float], None] | None = None,
        events_behind_status_s: float | None = None,
    ):
        self._dbc_path = dbc_path or None
        self.world = world  # returns the World (its pump and load cell change on RESET)
        self.write = write
        self.write_later = write_later
        self.events_behind_status_s = events_behind_status_s
        self._held: list[bytes] = []  # event frames waiting for the next STATUS reply (events_behind_status_s)
        self.open = False
        self.counters = {"pump events": 0, "pump heartbeat": 0, "load cell": 0}
        self._stream = None

    @functools.cached_property
    def db(self):
        """The CAN database, loaded when the bus first carries a frame: an emulator whose harness never opens its
        CAN endpoint never imports cantools (the server loads a rig's own DBC at its start, to refuse a bad one)."""
        return cp.load_database(self._dbc_path)

    # -- slcan ---------------------------------------------------------------------------------------------
    def handle_line(self, line: bytes) -> None:
        text = line.strip(b"\r\n").decode("ascii", errors="replace")
        if not text:
            return
        kind = text[0]
        if kind in "OL":
            self.open = True
            self.write(OK)
        elif kind == "C":
            self.open = False
            self.write(OK)
        elif kind in "SsFZ":
            self.write(OK)
        elif kind == "V":
            self.write(b"V0101\r")
        elif kind == "N":
            self.write(b"NEMU1\r")
        elif kind == "t":
            self._transmit(text)
        elif kind == "T":
            self.write(OK)  # an extended frame: valid on the bus, but no node here listens to one
        else:
            self.write(BELL)

    def _transmit(self, text: str) -> None:
        try:
            can_id, dlc = int(text[1:4], 16), int(text[4])
            data = bytes.fromhex(text[5 : 5 + 2 * dlc])
            if len(data) != dlc or dlc > 8 or len(text) != 5 + 2 * dlc:
                raise ValueError
        except (ValueError, IndexError):
            self.write(BELL)
            return
        self._frame(can_id, data)

    def _send(self, name: str, signals: dict, held: bool = False) -> None:
        """Transmit a frame; `held`: an event frame, which waits for the next STATUS reply when events go behind
        status."""
        if not self.open:
            return
        message = self.db.get_message_by_name(name)
        data = cp.encode(message, signals)
        line = f"t{message.frame_id:03X}{len(data)}{data.hex().upper()}\r".encode("ascii")
        if held and self.events_behind_status_s is not None:
            self._held.append(line)
        else:
            self.write(line)

    def _release_held(self) -> None:
        """After a STATUS reply: the event frames held behind it, `events_behind_status_s` later."""
        assert self.write_later is not None and self.events_behind_status_s is not None  # set together (server)
        for line in self._held:
            self.write_later(line, self.events_behind_status_s)
        self._held = []

    # -- the pump node -------------------------------------------------------------------------------------
    def _frame(self, can_id: int, data: bytes) -> None:
        try:
            message = self.db.get_message_by_frame_id(can_id)
        except KeyError:
            return  # another node's frame
        if message.name == "CgmValue":
            self._cgm(cp.decode(message, data) if len(data) == message.length else None)
            return
        if message.name == "LoadCellCommand":
            self._loadcell(cp.decode(message, data) if len(data) == message.length else None)
            return
        if message.name != "PumpRequest" or self.world().pump is None:
            return  # another node's frame, or the reference pump's when a firmware process is the pump
        try:
            signals = cp.decode(message, data)
        except Exception:  # noqa: BLE001 - any undecodable payload is a bad frame, answered as such
            self._send("PumpResponse", {"seq": data[0] if data else 0, "opcode": 0, "result": "BAD_FRAME"})
            return
        seq, word = int(signals["seq"]), signals["opcode"]
        if not isinstance(word, str):
            self._send("PumpResponse", {"seq": seq, "opcode": int(word), "result": "UNKNOWN_COMMAND"})
            return
        pump = self.world().pump
        assert pump is not None  # the reference pump's request (above)
        try:
            if word == "AUTO" and cp.auto_settings_args(signals):  # the settings an AUTO request carries, first
                pump.handle(Frame(str(seq), "SET", cp.auto_settings_args(signals)))
            fields = dict(a.split("=", 1) for a in pump.handle(Frame(str(seq), word, cp.request_args(word, signals))))
        except Refused as exc:
            result = exc.code if exc.code in cp.RESULTS else "BAD_ARGUMENT"
            self._send("PumpResponse", {"seq": seq, "opcode": word, "result": result})
            return
        if word == "ID":
            self._ident(seq, fields)
        elif word == "STATUS":
            self._status(seq, fields)
        else:
            self._send(
                "PumpResponse", {"seq": seq, "opcode": word, "result": "OK", **cp.response_signals(word, fields)}
            )

    def _ident(self, seq: int, fields: dict) -> None:
        for number, name in enumerate(cp.IDENT_FIELDS):
            for part, last, chunk in cp.ident_chunks(fields[name]):
                self._send(
                    "PumpIdent",
                    {
                        "seq": seq,
                        "field": number,
                        "part": part,
                        "last": int(last),
                        **{f"c{i}": b for i, b in enumerate(chunk)},
                    },
                )

    def _status(self, seq: int, f: dict) -> None:
        alarms = [int(a) % 256 for a in f["alarms"].split(",")] if f["alarms"] != "-" else []
        pressure = f.get("pressure")
        self._send(
            "PumpStatus1",
            {
                "seq": seq,
                "state": f["state"],
                "bolus_kind": f["bolus"],
                "backoff": int(f["backoff"]),
                "pressure_valid": int(pressure is not None),
                "basal_rate": float(f["basal"]),
                "pressure": float(pressure or 0.0),
                "alarm_count": len(alarms),
            },
        )
        self._send("PumpStatus2", {"seq": seq, "reservoir": float(f["reservoir"]), "delivered": float(f["delivered"])})
        self._send("PumpStatus3", {"seq": seq, "pump_time": float(f["t"]), "bolus_left": float(f["bolus_left"])})
        ids = (alarms + [0] * 7)[:7]
        self._send("PumpStatus4", {"seq": seq, **{f"alarm_id{i}": a for i, a in enumerate(ids)}})
        cgm = f.get("cgm", "-")
        self._send("PumpStatus5", {"seq": seq, "cgm_valid": int(cgm != "-"), "cgm": 0 if cgm == "-" else int(cgm)})
        if self._held:
            self._release_held()

    def _cgm(self, signals: dict | None) -> None:
        """A CGM value on the bus: the pump takes it as the serial CGM command (no reply on the bus)."""
        pump = self.world().pump
        if signals is None or pump is None:
            return
        try:
            value = (f"{signals['glucose']:.0f}", f"{signals['trend']:.1f}", f"{signals['age']:.2f}")
            pump.handle(Frame("0", "CGM", value))
        except Refused:
            pass  # an out-of-range value is ignored by the pump, as a sensor error would be

    def _count(self, group: str, modulus: int = 256) -> int:
        value = self.counters[group]
        self.counters[group] = (value + 1) % modulus
        return value

    # -- the load-cell node --------------------------------------------------------------------------------
    def _loadcell(self, signals: dict | None) -> None:
        """Opcodes: 1 identify (value = serial number), 2 tare (value = tare, mg), 3 zero, 4 stream at rate Hz."""
        if signals is None:
            return
        seq, opcode, cell = int(signals["seq"]), int(signals["opcode"]), self.world().loadcell
        value, result = 0.0, 0
        if opcode == 1:
            value = float(cell.p.serial)
        elif opcode in (2, 3):
            value = cell.tare()
        elif opcode == 4:
            self._send("LoadCellResponse", {"seq": seq, "opcode": opcode, "result": result, "value": value})
            self._start_stream(float(signals["rate"]))
            return
        else:
            result = 2
        self._send("LoadCellResponse", {"seq": seq, "opcode": opcode, "result": result, "value": value})
        if opcode in (2, 3) and self._stream:
            self._sample()  # a fresh sample right after a tare, as the amplifier sends

    def _start_stream(self, rate_hz: float) -> None:
        if self._stream:
            self._stream.cancel()
            self._stream = None
        if rate_hz <= 0:
            return
        scheduler = self.world().scheduler

        def tick():
            self._sample()
            self._stream = scheduler.at(scheduler.now + 1.0 / rate_hz, tick)

        tick()  # the amplifier sends its first sample as the stream starts

    def _sample(self) -> None:
        world = self.world()
        mass, stable, overload = world.loadcell.sample()
        self._send(
            "LoadCellMass",
            {
                "counter": self._count("load cell", 65536),
                "mass": mass,
                "stable": int(stable),
                "overload": int(overload),
                "timestamp": int(world.scheduler.now * 1000) % 16384,
            },
        )

    def event(self, kind: str, fields: dict) -> None:
        """A pump event (as the serial EVT) on the bus."""
        if kind == "ALARM":
            pressure = fields.get("pressure")
            self._send(
                "PumpAlarm",
                {
                    "counter": self._count("pump events"),
                    "alarm_id": int(fields["id"]),
                    "kind": fields["kind"],
                    "priority": fields["priority"],
                    "pressure_valid": int(pressure is not None),
                    "pressure": float(pressure or 0.0),
                },
                held=True,
            )
            self._send(
                "PumpAlarmTime",
                {"counter": self._count("pump events"), "alarm_id": int(fields["id"]), "raised": float(fields["t"])},
                held=True,
            )
        elif kind in ("BOLUS_DONE", "PRIME_DONE"):
            self._send(
                "PumpEvent",
                {
                    "counter": self._count("pump events"),
                    "kind": kind,
                    "amount": float(fields["amount"]),
                    "reason": "NONE",
                },
                held=True,
            )
        elif kind in ("SUSPEND", "RESUME", "AUTO_EXIT"):
            self._send(
                "PumpEvent",
                {
                    "counter": self._count("pump events"),
                    "kind": kind,
                    "reason": fields["reason"],
                    "at": int(float(fields["t"])),
                },
                held=True,
            )
        elif kind in ("AUTO_BASAL", "AUTO_BOLUS"):
            self._send(
                "PumpEvent",
                {
                    "counter": self._count("pump events"),
                    "kind": kind,
                    "amount": float(fields["rate" if kind == "AUTO_BASAL" else "amount"]),
                    "reason": fields.get("zone", "NONE"),
                    "at": int(float(fields["t"])),
                },
                held=True,
            )
            self._send(
                "PumpAutoDetail",
                {
                    "counter": self._count("pump events"),
                    "predicted_valid": int("predicted" in fields),
                    "predicted": float(fields.get("predicted", 0)),
                    "iob": float(fields.get("iob", 0)),
                },
                held=True,
            )

    def heartbeat(self, state: str, pump_time: float) -> None:
        self._send("PumpHeartbeat", {"counter": self._count("pump heartbeat"), "state": state, "pump_time": pump_time})
