"""Driver for pumps speaking the reference protocol over CAN (fixtures/can/pump.dbc, docs/protocol.md §5).
The same API as the serial ReferencePumpDriver: nothing above the driver changes with the transport."""

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, TypeVar

from pydantic import Field

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
from hil.drivers.registry import DeviceKind, DriverOptions, RigContext
from hil.errors import DeviceRefused, ProtocolError
from hil.transport import can_protocol as cp

if TYPE_CHECKING:  # the rig opens the bus (hil.rig.rig): python-can is imported then
    from hil.transport.can_hub import CanHub

_EVENT_FRAMES = ("PumpAlarm", "PumpAlarmTime", "PumpEvent", "PumpAutoDetail")

N = TypeVar("N", bound=StrEnum)  # a contract enum, decoded from a DBC choice

CGM_RESOLUTION_MG_DL = 1.0  # the CgmValue and PumpStatus5 glucose signals are whole mg/dL (fixtures/can/pump.dbc)
CGM_TREND_RANGE_MG_DL_MIN = (-12.8, 12.7)  # the CgmValue trend signal: signed 8 bits of 0.1 mg/dL/min
# How long an alarm's frames may trail the STATUS that shows it (pump_base: event_wait_s). On the bus, frames that
# lose arbitration to the five status frames follow within a few frame times (an 8-byte standard frame is at most
# 135 bits with stuffing: 0.27 ms at 500 kbit/s, 1.1 ms at 125 kbit/s); a USB adapter then holds received bytes up
# to its latency timer (16 ms by default on FTDI chips), and the host schedules the harness. 0.5 s covers all of
# them many times over and costs nothing on the nominal path: it is waited out only when the frames are missing.
EVENT_WAIT_S = 0.5


def _named(enum: type[N], value: object) -> N:
    """The contract's member for a DBC choice (cantools decodes it as a named value); ProtocolError otherwise."""
    try:
        return enum(str(value))
    except ValueError:
        raise ProtocolError(f"pump: {value!r} over CAN is not a {enum.__name__}") from None


class CanPumpDriver(PumpDriver):
    """A pump speaking the reference protocol on the rig's CAN bus (registered as `reference-can`).

    Its lost-event check is the base's (hil.drivers.pump_base), waiting `event_wait_s` for an alarm's frames: the
    reference DBC gives the status frames lower identifiers than the alarm frames, so on a busy bus a STATUS can
    show an alarm whose frames are still queued behind it."""

    device = DeviceKind.PUMP
    capabilities = frozenset(Capability)  # the DBC carries every one (docs/protocol.md §5)

    class Options(DriverOptions):
        """The bus is the rig's `can:` section."""

        event_wait_s: Annotated[float, Field(ge=0, le=60)] = Field(
            EVENT_WAIT_S,
            description="seconds a STATUS showing an alarm that no frame has announced waits for the alarm's frames "
            "still in flight (status frames outrank them on the bus) before the event is called lost",
        )

    @classmethod
    def connect(cls, options: Options, rig: RigContext) -> "CanPumpDriver":
        return cls(rig.can_bus(), options.event_wait_s)

    def __init__(self, hub: "CanHub", event_wait_s: float = EVENT_WAIT_S):
        super().__init__()
        self.hub = hub
        self.event_wait_s = event_wait_s
        self._seq = 0
        self._alarm: dict | None = None  # a PumpAlarm waiting for its PumpAlarmTime
        self._auto_event: dict | None = None  # an AUTO_BASAL or AUTO_BOLUS waiting for its PumpAutoDetail
        self._cgm_counter = -1

    def _request(self, opcode: str, **signals) -> int:
        self._seq = (self._seq + 1) % 256
        self.hub.send("PumpRequest", {"seq": self._seq, "opcode": opcode, **signals})
        return self._seq

    def _reply(self, seq: int, name: str, opcode: str) -> dict:
        frame = self.hub.read_until(
            lambda n, s: n in (name, "PumpResponse") and s["seq"] == seq, what=f"{name} for {opcode} (seq {seq})"
        )[1]
        if "result" in frame and frame["result"] != "OK":
            result = frame["result"]
            raise DeviceRefused("pump", result if isinstance(result, str) else f"RESULT_{result}", f"{opcode} over CAN")
        return frame

    def _command(self, opcode: str, **signals) -> dict:
        return self._reply(self._request(opcode, **signals), "PumpResponse", opcode)

    def identify(self) -> PumpIdentity:
        seq = self._request("ID")
        texts: dict[int, bytes] = {}
        done: set[int] = set()
        while len(done) < len(cp.IDENT_FIELDS):
            frame = self._reply(seq, "PumpIdent", "ID")
            if "field" not in frame:
                raise ProtocolError(f"pump: unexpected reply to ID over CAN: {frame}")
            field = int(frame["field"])
            texts[field] = texts.get(field, b"") + bytes(int(frame[f"c{i}"]) for i in range(6))
            if frame["last"]:
                done.add(field)
        model, serial, fw, proto = (texts[i].rstrip(b"\0").decode("ascii", errors="replace") for i in range(4))
        return PumpIdentity(model, serial, fw, proto)

    def _status_frames(self) -> list[dict]:
        seq = self._request("STATUS")
        return [self._reply(seq, name, "STATUS") for name in cp.STATUS_FRAMES]

    def _read_status(self) -> PumpStatus:
        s1, s2, s3, s4, s5 = self._status_frames()
        alarms = tuple(str(int(s4[f"alarm_id{i}"])) for i in range(min(int(s1["alarm_count"]), 7)))
        return PumpStatus(
            state=_named(PumpState, s1["state"]),
            basal_U_per_h=float(s1["basal_rate"]),
            bolus=_named(BolusState, s1["bolus_kind"]),
            bolus_left_U=float(s3["bolus_left"]),
            reservoir_U=float(s2["reservoir"]),
            delivered_U=float(s2["delivered"]),
            active_alarms=alarms,
            pressure_kPa=float(s1["pressure"]) if s1["pressure_valid"] else None,
            cgm_mg_dl=float(s5["cgm"]) if s5["cgm_valid"] else None,
        )

    def auto_mode(self, on: bool | None = None) -> AutoModeState:
        return self._auto("QUERY" if on is None else "ON" if on else "OFF")

    def configure_auto(self, settings: AutoSettings) -> None:
        self._auto(
            "QUERY",
            auto_target=settings.target_mg_dl,
            auto_isf=settings.isf_mg_dl_per_U,
            auto_max_basal=settings.max_basal_U_per_h,
            auto_max_iob=settings.max_iob_U,
        )

    def _auto(self, switch: str, **settings: float) -> AutoModeState:
        """An AUTO request: the settings given (the others at their all-ones value, left as they are), then the
        switch."""
        unchanged = {name: value for name, _, value in cp.AUTO_SETTINGS}
        reply = self._command("AUTO", auto_switch=switch, **(unchanged | settings))
        return AutoModeState(
            bool(reply["auto_on"]),
            float(reply["auto_basal"]),
            None if str(reply["auto_zone"]) == "NONE" else _named(AutoZone, reply["auto_zone"]),
            float(reply["auto_iob"]),
        )

    def cgm_input(self, glucose_mg_dl: float, trend_mg_dl_min: float, age_s: float = 0.0) -> None:
        """Send a CgmValue frame as the CGM node on the bus would (the pump does not answer it), then read the
        pump's last CGM value back: the pump has taken this one before the harness goes on (on the emulator,
        before simulated time moves), and a value it dropped is a finding, not a silent gap. The trend goes in the
        frame's trend signal, held to the signal's range (beyond ±12.7 mg/dL/min a CGM's arrow says no more)."""
        self._cgm_counter = (self._cgm_counter + 1) % 256
        low, high = CGM_TREND_RANGE_MG_DL_MIN
        trend = min(high, max(low, round(float(trend_mg_dl_min), 1)))
        self.hub.send(
            "CgmValue", {"counter": self._cgm_counter, "glucose": glucose_mg_dl, "trend": trend, "age": float(age_s)}
        )
        taken = self.status().cgm_mg_dl
        if taken is None or abs(taken - glucose_mg_dl) > CGM_RESOLUTION_MG_DL:
            raise DeviceRefused("pump", "CGM_NOT_TAKEN", f"sent {glucose_mg_dl:g} mg/dL, its last CGM value is {taken}")

    def pump_time(self) -> float:
        return float(self._status_frames()[2]["pump_time"])

    def history_since(self, t_pump: float) -> tuple[int, float]:
        frame = self._command("HISTORY", history_since=t_pump)
        return int(frame["history_strokes"]), float(frame["history_amount"])

    def configure_limits(self, limits: DoseLimits) -> DoseLimits:
        """The maximum bolus and the maximum basal rate (LIMITS); the limits the pump answers it has."""
        return self._limits(max_bolus=limits.max_bolus_U, max_basal_rate=limits.max_basal_U_per_h)

    def dose_limits(self) -> DoseLimits:
        return self._limits(max_bolus=0.0, max_basal_rate=0.0)  # both 0: a query (docs/protocol.md §5)

    def _limits(self, **signals: float) -> DoseLimits:
        reply = self._command("LIMITS", **signals)
        return DoseLimits(float(reply["max_bolus"]), float(reply["max_basal_rate"]))

    def configure_reservoir_alert(self, amount_U: float) -> float:
        """The low-reservoir alert (RESALERT); the amount the pump answers it has."""
        return float(self._command("RESALERT", reservoir_alert=amount_U)["reservoir_alert"])

    def inject_fault(self, fault: InjectedFault | None) -> InjectedFault | None:
        """The verification build's single-fault hook (INJECT); the fault it says is acting."""
        acting = str(self._command("INJECT", fault=str(fault or "NONE"))["fault"])
        try:
            return None if acting == "NONE" else InjectedFault(acting)
        except ValueError:
            raise ProtocolError(f"pump: INJECT answered the fault '{acting}', none of the contract's") from None

    def reservoir_alert(self) -> float:
        return float(self._command("RESALERT", reservoir_alert=0.0)["reservoir_alert"])  # 0: a query

    def _send_segment(self, index: int, count: int, segment: BasalSegment) -> tuple[int, int, float]:
        reply = self._command(
            "SEGMENT",
            segment_index=index,
            segment_count=count,
            segment_start=segment.start_min,
            segment_rate=segment.rate_U_per_h,
        )
        return int(reply["schedule_received"]), int(reply["schedule_count"]), float(reply["schedule_daily"])

    def set_time_of_day(self, seconds: int) -> float:
        """The pump's clock set (TIME); the time of day it answers it shows. A time of a day or more is how the DBC asks
        the time, so it is no time to set (ValueError, the caller's)."""
        if not 0 <= seconds < cp.DAY_S:
            raise ValueError(f"a time of day of {seconds} s is outside 0-{cp.DAY_S - 1} s")
        return float(self._command("TIME", time_of_day=float(seconds))["time_of_day"])

    def time_of_day(self) -> float:
        return float(self._command("TIME", time_of_day=cp.TIME_QUERY)["time_of_day"])

    def configure_calculator(self, settings: CalculatorSettings) -> CalculatorSettings:
        """The bolus calculator's settings (CALCSET); the ones the pump answers it has."""
        reply = self._command(
            "CALCSET",
            calc_ratio=settings.carb_ratio_g_per_U,
            calc_factor=settings.correction_factor_mg_dl_per_U,
            calc_target=settings.target_mg_dl,
        )
        return CalculatorSettings(float(reply["calc_ratio"]), float(reply["calc_factor"]), float(reply["calc_target"]))

    def bolus_advice(self, carbs_g: float, glucose_mg_dl: float | None = None, use_cgm: bool = False) -> BolusAdvice:
        """The calculator's advice (CALC), delivering nothing; a glucose of 0 is none (docs/protocol.md §5)."""
        reply = self._command("CALC", calc_carbs=carbs_g, calc_glucose=glucose_mg_dl or 0, calc_use_cgm=int(use_cgm))
        used = float(reply["advice_glucose"])
        return BolusAdvice(float(reply["advice_total"]), float(reply["advice_iob"]), used or None)

    def set_basal(self, rate_U_per_h: float) -> None:
        self._command("BASAL", basal_rate=rate_U_per_h)

    def set_temp_basal(self, rate_U_per_h: float, minutes: int) -> None:
        """A temporary basal rate for `minutes` (0 cancels a running one)."""
        self._command("TEMPBASAL", temp_rate=rate_U_per_h, temp_duration=int(minutes))

    def bolus(self, amount_U: float, quick: bool = False) -> float:
        return float(self._command("BOLUS", bolus_amount=amount_U, bolus_speed=int(quick))["bolus_duration"])

    def prime(self, amount_U: float) -> float:
        return float(self._command("PRIME", prime_amount=amount_U)["prime_duration"])

    def cancel_bolus(self) -> float:
        return float(self._command("CANCEL")["cancelled"])

    def suspend(self) -> None:
        self._command("SUSPEND")

    def resume(self) -> None:
        self._command("RESUME")

    def stop(self) -> None:
        """The fail-safe STOP; one retry after a transport fault, as on serial (it is idempotent)."""
        try:
            self._command("STOP")
        except ProtocolError:
            self._command("STOP")

    def _acknowledge(self, alarm_id: str) -> None:
        self._command("ACK", alarm_id=int(alarm_id))

    def set_occlusion_backoff(self, enabled: bool) -> None:
        self._set(backoff=int(enabled))

    def configure_suspend(self, low_limit: int, before_low: bool, on_low: bool) -> None:
        """The low-glucose suspend settings: the low limit (mg/dL) and which rules are on."""
        self._set(low_limit=int(low_limit), before_low=int(before_low), on_low=int(on_low))

    def _set(self, **settings: int) -> None:
        names = ("backoff", "low_limit", "before_low", "on_low")
        self._command("SET", **{n: settings.get(n, cp.UNCHANGED) for n in names})

    def check_link(self) -> None:
        """Nothing is left to raise: the CAN hub raises a counter gap (lost or repeated frames) as it arrives."""

    def _read_events(self) -> list[PumpEvent]:
        """Alarm and delivery events received so far, as the serial driver reports them."""
        self.hub.drain()
        out: list[PumpEvent] = []
        frames = sorted(
            ((f["_arrival"], n, f) for n in _EVENT_FRAMES for f in self.hub.queues.pop(n, [])), key=lambda item: item[0]
        )
        for _, name, frame in frames:
            if name == "PumpAlarm":
                self._alarm = frame
            elif name == "PumpAlarmTime" and self._alarm and self._alarm["alarm_id"] == frame["alarm_id"]:
                a, self._alarm = self._alarm, None
                out.append(
                    Alarm(
                        str(int(a["alarm_id"])),
                        _named(AlarmKind, a["kind"]),
                        _named(Priority, a["priority"]),
                        float(frame["raised"]),
                        float(a["pressure"]) if a["pressure_valid"] else None,
                    )
                )
            elif name == "PumpEvent" and str(frame["kind"]) == "SUSPEND":
                out.append(Suspended(_named(SuspendReason, frame["reason"]), float(frame["at"])))
            elif name == "PumpEvent" and str(frame["kind"]) == "RESUME":
                out.append(Resumed(_named(ResumeReason, frame["reason"]), float(frame["at"])))
            elif name == "PumpEvent" and str(frame["kind"]) in ("AUTO_BASAL", "AUTO_BOLUS"):
                self._auto_event = frame  # its decision's detail follows in PumpAutoDetail
            elif name == "PumpAutoDetail" and self._auto_event is not None:
                event, self._auto_event = self._auto_event, None
                out.append(_auto_decision(event, frame))
            elif name == "PumpEvent" and str(frame["kind"]) == "AUTO_EXIT":
                out.append(AutoExit(_named(AutoExitReason, frame["reason"]), float(frame["at"])))
            elif name == "PumpEvent":
                dones: dict[str, type[BolusDone | PrimeDone]] = {"BOLUS_DONE": BolusDone, "PRIME_DONE": PrimeDone}
                done = dones.get(str(frame["kind"]))
                if done is None:
                    raise ProtocolError(f"pump: unknown PumpEvent kind {frame['kind']!r} over CAN")
                out.append(done(float(frame["amount"])))
        return out

    def close(self) -> None:
        """The hub belongs to the rig, which closes it."""


def _auto_decision(event: dict, detail: dict) -> AutoBasal | AutoBolus:
    """An auto-mode decision from its PumpEvent and the PumpAutoDetail after it (whole seconds of pump time)."""
    predicted = float(detail["predicted"]) if detail["predicted_valid"] else None
    if str(event["kind"]) == "AUTO_BOLUS":
        if predicted is None:
            raise ProtocolError("pump: an AUTO_BOLUS over CAN without its prediction")
        return AutoBolus(float(event["amount"]), predicted, float(detail["iob"]), float(event["at"]))
    iob = float(detail["iob"]) if predicted is not None else None
    return AutoBasal(float(event["amount"]), _named(AutoZone, event["reason"]), predicted, iob, float(event["at"]))
