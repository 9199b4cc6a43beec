"""A load cell on the rig's CAN bus (LoadCellCommand/Response/Mass in fixtures/can/pump.dbc): streams mass
at a configured rate with its own counter (lost samples are a rig fault, detected by the CanHub) and
timestamps. The same scale API as the MT-SICS balance."""

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

from pydantic import Field

from hil.drivers.contracts import Reading, Refusal
from hil.drivers.registry import DeviceKind, DriverOptions, RigContext
from hil.errors import InstrumentRefused

if TYPE_CHECKING:  # the rig opens the bus (hil.rig.rig): python-can is imported then
    from hil.transport.can_hub import CanHub

IDENTIFY, TARE, ZERO, STREAM = 1, 2, 3, 4


class CanLoadCell:
    """A load cell streaming on the rig's CAN bus (registered as `can-loadcell`)."""

    device = DeviceKind.SCALE

    class Options(DriverOptions):
        rate_hz: Annotated[float, Field(gt=0, le=1000, description="streaming rate")] = 10.0

    @classmethod
    def connect(cls, options: Options, rig: RigContext) -> "CanLoadCell":
        return cls(rig.can_bus(), rig.now, rate_hz=options.rate_hz)

    def __init__(self, hub: "CanHub", now: Callable[[], float], *, rate_hz: float):
        self.hub = hub
        self.now = now
        self.rate_hz = rate_hz
        self._seq = 0
        self._latest: dict | None = None
        self._command(STREAM, rate=rate_hz)

    def _command(self, opcode: int, rate: float = 0.0) -> float:
        self._seq = (self._seq + 1) % 256
        seq = self._seq
        self.hub.send("LoadCellCommand", {"seq": seq, "opcode": opcode, "rate": rate})
        reply = self.hub.read_until(
            lambda n, s: n == "LoadCellResponse" and s["seq"] == seq, what=f"load-cell reply to opcode {opcode}"
        )[1]
        if reply["result"] != 0:  # docs/protocol.md §5: 2 is an unknown opcode, any other is a refusal
            code = Refusal.NOT_UNDERSTOOD if reply["result"] == 2 else Refusal.NOT_ALLOWED
            raise InstrumentRefused("load cell", code, f"result {reply['result']} to opcode {opcode}")
        return float(reply["value"])

    def identify(self) -> dict[str, str]:
        return {"model": "CAN load cell", "serial": str(int(self._command(IDENTIFY)))}

    def reset(self) -> str:
        """Restart the stream (after the emulator's RESET or a bench reconnect); returns the serial number."""
        self._forget_samples()
        self._command(STREAM, rate=self.rate_hz)
        return self.identify()["serial"]

    def _forget_samples(self) -> None:
        self.hub.queues.pop("LoadCellMass", None)
        self._latest = None

    def tare(self) -> float:
        """Tare; samples from before it are dropped (the cell sends a fresh one right after)."""
        self._forget_samples()
        return self._command(TARE)

    def zero(self) -> None:
        self._forget_samples()
        self._command(ZERO)

    def read(self) -> Reading:
        """The newest streamed sample (waiting only for the first one of a stream)."""
        self.hub.drain()
        samples = self.hub.queues.pop("LoadCellMass", None)
        if samples:
            self._latest = samples[-1]
        elif self._latest is None:
            self._latest = self.hub.read_until(lambda n, s: n == "LoadCellMass", what="load-cell sample")[1]
        sample = self._latest
        if sample["overload"]:
            raise InstrumentRefused("load cell", Refusal.OVERLOAD, "load cell in overload")
        return Reading(self.now(), float(sample["mass"]), bool(sample["stable"]))

    def read_stable(self) -> Reading:
        reading = self.read()
        if not reading.stable:
            raise InstrumentRefused("load cell", Refusal.BUSY, "not stable now")
        return reading

    def close(self) -> None:
        """The hub belongs to the rig, which closes it."""
