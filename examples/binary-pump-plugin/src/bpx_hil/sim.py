"""`python -m bpx_hil.sim RIG.yaml [--watch-stdin]`: the emulated BPX pump, for trying its driver without the pump.

It is hil's reference emulator (the same pump firmware model, fluid path, balances, valve and site fixture, on one
clock) with the pump endpoint speaking the BPX binary protocol (bpx_hil.wire) instead of the reference text
protocol, numbering its events on its own counter. A rig names it as its emulator (`emulator: {module:
bpx_hil.sim}`); with `clock: rehearsal` it runs free, as a pump does, `speed` times faster than real time.
"""

import argparse
import struct

from bpx_hil import wire
from hil.emulation.options import EmulatorConfig
from hil.emulator.pump import Refused
from hil.emulator.server import EmulatorServer, main
from hil.rig.config import load_rig
from hil.transport.frames import Frame


def _fields(reply: tuple[str, ...]) -> dict[str, str]:
    return dict(item.split("=", 1) for item in reply if "=" in item)


def _f(value: str) -> float:
    return wire.number(None if value == "-" else float(value))


class BinaryPumpServer(EmulatorServer):
    PUMP_TERMINATOR = wire.FLAG

    def __init__(self, config: EmulatorConfig):
        super().__init__(config)
        self._bpx_event_no = wire.FIRST_EVENT - 1

    def _pump_line(self, line: bytes) -> None:
        try:
            request = wire.decode(line)
        except wire.WireError as exc:
            self._send(wire.REFUSED, 0, wire.text("BAD_FRAME") + wire.text(str(exc)))
            return
        try:
            word, args, reply = self._request(request)
            fields = _fields(self.world.pump.handle(Frame(str(request.seq), word, args)))
            payload = reply(fields)
        except Refused as exc:
            self._send(wire.REFUSED, request.seq, wire.text(exc.code) + wire.text(exc.message))
            return
        except (struct.error, KeyError, ValueError) as exc:
            self._send(wire.REFUSED, request.seq, wire.text("BAD_ARGUMENT") + wire.text(f"{exc}"))
            return
        self._send(request.kind | 0x80, request.seq, payload)

    def _send(self, kind: int, seq: int, payload: bytes) -> None:
        self.pump_ch.write(wire.encode(wire.Message(kind, seq, payload)))

    def _request(self, m: wire.Message):
        """The reference firmware's command for a BPX request, and how its answer becomes the BPX reply."""
        p = m.payload
        empty = lambda f: b""  # noqa: E731 - a table of small translations
        amount = lambda f, key: wire.AMOUNT.pack(float(f[key]))  # noqa: E731
        match m.kind:
            case wire.IDENT:
                return "ID", (), lambda f: b"".join(wire.text(f[k]) for k in ("model", "serial", "fw", "proto"))
            case wire.STATUS:
                return "STATUS", (), self._status
            case wire.BASAL:
                (rate,) = struct.unpack(">I", p)
                return "BASAL", (f"{rate / 1000:.3f}",), empty
            case wire.TEMPBASAL:
                rate, minutes = struct.unpack(">IH", p)
                return "TEMPBASAL", (f"{rate / 1000:.3f}", str(minutes)), empty
            case wire.BOLUS:
                units, quick = struct.unpack(">IB", p)
                return "BOLUS", (f"{units / 1000:.3f}", *(("QUICK",) if quick else ())), lambda f: amount(f, "duration")
            case wire.PRIME:
                (units,) = struct.unpack(">I", p)
                return "PRIME", (f"{units / 1000:.3f}",), lambda f: amount(f, "duration")
            case wire.CANCEL:
                return "CANCEL", (), lambda f: amount(f, "cancelled")
            case wire.SUSPEND | wire.RESUME | wire.STOP:
                return {wire.SUSPEND: "SUSPEND", wire.RESUME: "RESUME", wire.STOP: "STOP"}[m.kind], (), empty
            case wire.ACK:
                (alarm_id,) = struct.unpack(">H", p)
                return "ACK", (str(alarm_id),), empty
            case wire.HISTORY:
                (since,) = struct.unpack(">d", p)
                return (
                    "HISTORY",
                    (f"{since:.3f}",),
                    lambda f: wire.HISTORY_REPLY.pack(int(f["strokes"]), float(f["amount"])),
                )
            case wire.CGM:
                glucose, trend, age = struct.unpack(">HhH", p)
                return "CGM", (str(glucose), f"{trend / 10:.1f}", *((str(age),) if age else ())), empty
            case wire.AUTO:
                (switch,) = struct.unpack(">B", p)
                args = {wire.AUTO_QUERY: (), wire.AUTO_ON: ("ON",), wire.AUTO_OFF: ("OFF",)}[switch]
                return "AUTO", args, self._auto_state
            case wire.SETTINGS:
                return "SET", self._settings(p), empty
        raise Refused("UNKNOWN_COMMAND", f"type {m.kind:#04x}")

    @staticmethod
    def _settings(p: bytes) -> tuple[str, ...]:
        match p[0]:
            case wire.SET_BACKOFF:
                return (f"backoff={p[1]}",)
            case wire.SET_SUSPEND:
                low, before, on = struct.unpack(">HBB", p[1:])
                return (f"low_limit={low}", f"before_low={before}", f"on_low={on}")
            case wire.SET_AUTO:
                target, isf, max_basal, max_iob = struct.unpack(">ffff", p[1:])
                return (f"target={target:g}", f"isf={isf:g}", f"max_basal={max_basal:g}", f"max_iob={max_iob:g}")
        raise ValueError(f"no setting {p[0]}")

    @staticmethod
    def _status(f: dict[str, str]) -> bytes:
        alarms = [] if f["alarms"] == "-" else [int(a) for a in f["alarms"].split(",")]
        head = wire.STATUS_HEAD.pack(
            wire.STATES.index(f["state"]),
            wire.BOLUS_KINDS.index(f["bolus"]),
            float(f["basal"]),
            float(f["bolus_left"]),
            float(f["reservoir"]),
            float(f["delivered"]),
            _f(f.get("pressure", "-")),
            _f(f.get("cgm", "-")),
            float(f["t"]),
            len(alarms),
        )
        return head + b"".join(struct.pack(">H", a) for a in alarms)

    @staticmethod
    def _auto_state(f: dict[str, str]) -> bytes:
        on = f["auto"] == "ON"
        return wire.AUTO_STATE.pack(on, float(f["basal"]), wire.code(wire.ZONES, f["zone"]), float(f["iob"]))

    def _pump_event(self, kind: str, fields: dict) -> None:
        """An event of the pump's, numbered on its own counter."""
        self._event_no += 1
        self._bpx_event_no = wire.FIRST_EVENT if self._bpx_event_no >= 0xFFFF else self._bpx_event_no + 1
        f = {k: str(v) for k, v in fields.items()}
        match kind:
            case "ALARM":
                payload = wire.ALARM_EVENT.pack(
                    int(f["id"]),
                    wire.ALARM_KINDS.index(f["kind"]),
                    wire.PRIORITIES.index(f["priority"]),
                    float(f["t"]),
                    _f(f.get("pressure", "-")),
                )
            case "SUSPEND":
                payload = wire.REASON_EVENT.pack(wire.SUSPEND_REASONS.index(f["reason"]), float(f["t"]))
            case "RESUME":
                payload = wire.REASON_EVENT.pack(wire.RESUME_REASONS.index(f["reason"]), float(f["t"]))
            case "AUTO_EXIT":
                payload = wire.REASON_EVENT.pack(wire.EXIT_REASONS.index(f["reason"]), float(f["t"]))
            case "BOLUS_DONE" | "PRIME_DONE":
                payload = wire.AMOUNT.pack(float(f["amount"]))
            case "AUTO_BASAL":
                payload = wire.AUTO_BASAL_EVENT.pack(
                    float(f["rate"]),
                    wire.ZONES.index(f["zone"]),
                    _f(f.get("predicted", "-")),
                    _f(f.get("iob", "-")),
                    float(f["t"]),
                )
            case "AUTO_BOLUS":
                payload = wire.AUTO_BOLUS_EVENT.pack(
                    float(f["amount"]), float(f["predicted"]), float(f["iob"]), float(f["t"])
                )
            case _:
                raise ValueError(f"the BPX protocol has no event {kind}")
        self._send(wire.EVENT_TYPES[kind], self._bpx_event_no, payload)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bpx_hil.sim")
    parser.add_argument("rig", help="rig file whose emulator: and environment: sections configure the emulation")
    parser.add_argument("--watch-stdin", action="store_true", help="exit when standard input closes")
    options = parser.parse_args()
    main(EmulatorConfig.from_rig(load_rig(options.rig).data), options.watch_stdin, BinaryPumpServer)
