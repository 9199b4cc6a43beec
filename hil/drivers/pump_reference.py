"""Driver for pumps speaking the reference protocol (docs/protocol.md) over a serial line.

The lost-event check (an alarm active in STATUS that no ALARM event announced) is the base's (hil.drivers.pump_base);
this driver adds its protocol's own: a gap in the event counter is a LostEvent, and an event or a reply received
twice is a LineFault, both rig faults.
"""

from hil.drivers.contracts import (
    Alarm,
    AlarmKind,
    AutoBasal,
    AutoBolus,
    AutoExit,
    AutoExitReason,
    AutoModeState,
    AutoSettings,
    AutoZone,
    BasalSegment,
    BolusAdvice,
    BolusDone,
    BolusState,
    CalculatorSettings,
    Capability,
    DoseLimits,
    InjectedFault,
    PrimeDone,
    Priority,
    PumpEvent,
    PumpIdentity,
    PumpState,
    PumpStatus,
    Resumed,
    ResumeReason,
    Suspended,
    SuspendReason,
)
from hil.drivers.pump_base import PumpDriver
from hil.drivers.registry import Baudrate, DeviceKind, RigContext, SerialOptions
from hil.errors import LineFault, LostEvent, ProtocolError
from hil.transport.framed import FramedLink
from hil.transport.frames import Frame
from hil.transport.serial_line import SerialLine


class ReferencePumpDriver(PumpDriver):
    """A pump speaking the reference protocol over a serial line (registered as `reference-serial`)."""

    device = DeviceKind.PUMP
    capabilities = frozenset(Capability)  # the reference protocol has every one (docs/protocol.md)

    class Options(SerialOptions):
        baudrate: Baudrate = 115200

    @classmethod
    def connect(cls, options: Options, rig: RigContext) -> "ReferencePumpDriver":
        return cls(rig.port(options.port), baudrate=options.baudrate, timeout_s=options.timeout_s)

    def __init__(self, port: str, *, baudrate: int = 115200, timeout_s: float = 2.0):
        super().__init__()
        self.link = FramedLink(
            SerialLine(port, baudrate=baudrate, timeout_s=timeout_s, name="pump"), "pump", quiet=frozenset({"CGM"})
        )

    def wire_lines(self) -> list[SerialLine]:
        return [self.link.line]

    def _field(self, frame: Frame, key: str, kind=str):
        try:
            return kind(frame.fields[key])
        except (KeyError, ValueError):
            raise ProtocolError(f"pump: answer {frame.body!r} lacks a valid '{key}'") from None

    def identify(self) -> PumpIdentity:
        f = self.link.request("ID", idempotent=True)
        return PumpIdentity(
            self._field(f, "model"), self._field(f, "serial"), self._field(f, "fw"), self._field(f, "proto")
        )

    def _read_status(self) -> PumpStatus:
        f = self.link.request("STATUS", idempotent=True)
        alarms = self._field(f, "alarms")
        return PumpStatus(
            state=self._field(f, "state", PumpState),
            basal_U_per_h=self._field(f, "basal", float),
            bolus=self._field(f, "bolus", BolusState),
            bolus_left_U=self._field(f, "bolus_left", float),
            reservoir_U=self._field(f, "reservoir", float),
            delivered_U=self._field(f, "delivered", float),
            active_alarms=() if alarms == "-" else tuple(alarms.split(",")),
            pressure_kPa=self._field(f, "pressure", float) if "pressure" in f.fields else None,
            cgm_mg_dl=float(f.fields["cgm"]) if f.fields.get("cgm", "-") != "-" else None,
        )

    def check_link(self) -> None:
        """Raise what the link found wrong with its lines (lost, duplicated or unasked-for): at every STATUS and
        events call, and at the end of every test, so no test ends on a link that misbehaved unnoticed."""
        if self.link.event_counter.faults:
            raise LostEvent(f"pump: events lost on the wire: {'; '.join(self.link.event_counter.faults)}")
        if self.link.unasked:
            raise LineFault(f"pump: {'; '.join(self.link.unasked)}")

    def cgm_input(self, glucose_mg_dl: float, trend_mg_dl_min: float, age_s: float = 0.0) -> None:
        """Give the pump a sensor glucose value, its trend (mg/dL/min, to 0.1) and its age (s since the CGM took it),
        as its CGM link would."""
        age = (f"{age_s:.0f}",) if age_s else ()
        self.link.request("CGM", f"{glucose_mg_dl:.0f}", f"{trend_mg_dl_min:.1f}", *age)

    def auto_mode(self, on: bool | None = None) -> AutoModeState:
        f = self.link.request("AUTO", *(() if on is None else ("ON" if on else "OFF",)), idempotent=on is None)
        zone = self._field(f, "zone")
        return AutoModeState(
            self._field(f, "auto") == "ON",
            self._field(f, "basal", float),
            None if zone == "-" else self._field(f, "zone", AutoZone),
            self._field(f, "iob", float),
        )

    def configure_auto(self, settings: AutoSettings) -> None:
        self.link.request(
            "SET",
            f"target={settings.target_mg_dl:g}",
            f"isf={settings.isf_mg_dl_per_U:g}",
            f"max_basal={settings.max_basal_U_per_h:g}",
            f"max_iob={settings.max_iob_U:g}",
        )

    def history_since(self, t_pump: float) -> tuple[int, float]:
        """(strokes, units) the pump's delivery history records since a time on the pump's clock."""
        f = self.link.request("HISTORY", f"{t_pump:.3f}", idempotent=True)
        return self._field(f, "strokes", int), self._field(f, "amount", float)

    def pump_time(self) -> float:
        return self._field(self.link.request("STATUS", idempotent=True), "t", float)

    def set_occlusion_backoff(self, enabled: bool) -> None:
        self.link.request("SET", f"backoff={int(enabled)}")

    def configure_suspend(self, low_limit: int, before_low: bool, on_low: bool) -> None:
        """The low-glucose suspend settings: the low limit (mg/dL) and which rules are on."""
        self.link.request(
            "SET", f"low_limit={int(low_limit)}", f"before_low={int(before_low)}", f"on_low={int(on_low)}"
        )

    def configure_limits(self, limits: DoseLimits) -> DoseLimits:
        """The maximum bolus and the maximum basal rate (LIMITS); the limits the pump answers it has."""
        return self._limits(self.link.request("LIMITS", f"{limits.max_bolus_U:.3f}", f"{limits.max_basal_U_per_h:.3f}"))

    def dose_limits(self) -> DoseLimits:
        return self._limits(self.link.request("LIMITS", idempotent=True))

    def _limits(self, f: Frame) -> DoseLimits:
        return DoseLimits(self._field(f, "max_bolus", float), self._field(f, "max_basal_rate", float))

    def configure_reservoir_alert(self, amount_U: float) -> float:
        """The low-reservoir alert (RESALERT); the amount the pump answers it has."""
        return self._field(self.link.request("RESALERT", f"{amount_U:.2f}"), "reservoir_alert", float)

    def inject_fault(self, fault: InjectedFault | None) -> InjectedFault | None:
        """The verification build's single-fault hook (INJECT); the fault it says is acting."""
        frame = self.link.request("INJECT", str(fault or "NONE"))
        return self._field(frame, "injected", lambda text: None if text == "NONE" else InjectedFault(text))

    def reservoir_alert(self) -> float:
        return self._field(self.link.request("RESALERT", idempotent=True), "reservoir_alert", float)

    def _send_segment(self, index: int, count: int, segment: BasalSegment) -> tuple[int, int, float]:
        start = f"{segment.start_min // 60:02d}:{segment.start_min % 60:02d}"
        f = self.link.request("SEGMENT", str(index), str(count), start, f"{segment.rate_U_per_h:.3f}")
        return self._field(f, "received", int), self._field(f, "count", int), self._field(f, "daily", float)

    def set_time_of_day(self, seconds: int) -> float:
        """The pump's clock set (TIME); the time of day it answers it shows."""
        return self._field(self.link.request("TIME", str(int(seconds))), "tod", float)

    def configure_calculator(self, settings: CalculatorSettings) -> CalculatorSettings:
        """The bolus calculator's settings (CALCSET); the ones the pump answers it has."""
        f = self.link.request(
            "CALCSET",
            f"{settings.carb_ratio_g_per_U:g}",
            f"{settings.correction_factor_mg_dl_per_U:g}",
            f"{settings.target_mg_dl:g}",
        )
        return CalculatorSettings(
            self._field(f, "ratio", float), self._field(f, "factor", float), self._field(f, "target", float)
        )

    def bolus_advice(self, carbs_g: float, glucose_mg_dl: float | None = None, use_cgm: bool = False) -> BolusAdvice:
        """The calculator's advice (CALC), delivering nothing."""
        glucose = "CGM" if use_cgm else "-" if glucose_mg_dl is None else f"{glucose_mg_dl:.0f}"
        f = self.link.request("CALC", f"{carbs_g:g}", glucose, idempotent=True)
        used = self._field(f, "glucose")
        return BolusAdvice(
            self._field(f, "total", float),
            self._field(f, "iob", float),
            None if used == "-" else self._field(f, "glucose", float),
        )

    def time_of_day(self) -> float:
        return self._field(self.link.request("TIME", idempotent=True), "tod", float)

    def set_basal(self, rate_U_per_h: float) -> None:
        self.link.request("BASAL", f"{rate_U_per_h:.3f}")

    def set_temp_basal(self, rate_U_per_h: float, minutes: int) -> None:
        """A temporary basal rate for `minutes` (0 cancels a running one)."""
        self.link.request("TEMPBASAL", f"{rate_U_per_h:.3f}", str(int(minutes)))

    def bolus(self, amount_U: float, quick: bool = False) -> float:
        """Start a bolus at the standard (or quick) speed; returns its nominal duration in seconds."""
        args = (f"{amount_U:.3f}", "QUICK") if quick else (f"{amount_U:.3f}",)
        return self._field(self.link.request("BOLUS", *args), "duration", float)

    def prime(self, amount_U: float) -> float:
        return self._field(self.link.request("PRIME", f"{amount_U:.3f}"), "duration", float)

    def cancel_bolus(self) -> float:
        return self._field(self.link.request("CANCEL"), "cancelled", float)

    def suspend(self) -> None:
        self.link.request("SUSPEND")

    def resume(self) -> None:
        self.link.request("RESUME")

    def stop(self) -> None:
        """Stop all delivery now (the fail-safe command): cancels any bolus and suspends basal."""
        self.link.request("STOP", idempotent=True)

    def _acknowledge(self, alarm_id: str) -> None:
        self.link.request("ACK", alarm_id)

    def _read_events(self) -> list[PumpEvent]:
        """The unsolicited events received so far (alarms, bolus completion), typed, oldest first."""
        self.link.poll_events()
        out = []
        while self.link.events:
            out.append(self._event(self.link.events.popleft()))
        return out

    def await_event(self, number: int) -> None:
        if not self.link.await_event(number):
            raise LostEvent(
                f"pump: event E{number}, sent before the rig clock's last step, did not arrive within "
                f"{self.link.line.timeout_s:g} s: lost on the wire"
            )

    def _event(self, frame: Frame) -> PumpEvent:
        """The typed event of an EVT line (docs/protocol.md, Events); ProtocolError for any other."""
        word = frame.args[0] if frame.args else ""
        if word == "ALARM":
            return Alarm(
                self._field(frame, "id"),
                self._field(frame, "kind", AlarmKind),
                self._field(frame, "priority", Priority),
                self._field(frame, "t", float),
                self._field(frame, "pressure", float) if "pressure" in frame.fields else None,
            )
        if word == "SUSPEND":
            return Suspended(self._field(frame, "reason", SuspendReason), self._field(frame, "t", float))
        if word == "RESUME":
            return Resumed(self._field(frame, "reason", ResumeReason), self._field(frame, "t", float))
        if word in ("BOLUS_DONE", "PRIME_DONE"):
            return (BolusDone if word == "BOLUS_DONE" else PrimeDone)(self._field(frame, "amount", float))
        if word == "AUTO_BASAL":
            decided = "predicted" in frame.fields  # a fallback decides on no prediction
            return AutoBasal(
                self._field(frame, "rate", float),
                self._field(frame, "zone", AutoZone),
                self._field(frame, "predicted", float) if decided else None,
                self._field(frame, "iob", float) if decided else None,
                self._field(frame, "t", float),
            )
        if word == "AUTO_BOLUS":
            return AutoBolus(
                self._field(frame, "amount", float),
                self._field(frame, "predicted", float),
                self._field(frame, "iob", float),
                self._field(frame, "t", float),
            )
        if word == "AUTO_EXIT":
            return AutoExit(self._field(frame, "reason", AutoExitReason), self._field(frame, "t", float))
        raise ProtocolError(f"pump: unknown event {frame.body!r}")

    def close(self) -> None:
        self.link.close()
