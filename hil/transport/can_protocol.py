"""The reference pump protocol over CAN (fixtures/can/pump.dbc), shared by the CAN driver and the emulator.

Requests and replies mirror the serial protocol word for word (docs/protocol.md §5): a PumpRequest's opcode
is the serial command word, its signals the serial arguments; a PumpResponse carries the result code and the
reply values, STATUS and ID reply with several frames carrying the request's seq. Event frames (alarms,
delivery events) and heartbeats carry counters modulo 256, so a lost frame shows as a gap.
"""

import functools
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from hil import project

if TYPE_CHECKING:
    import cantools

# The reference database, installed with the package (hil.project).
DEFAULT_DBC = project.reference("can", "pump.dbc")
RESULTS = ("OK", "BAD_FRAME", "UNKNOWN_COMMAND", "BAD_ARGUMENT", "NOT_ALLOWED", "ALARM_ACTIVE")
UNCHANGED = 255  # a SET signal with this value leaves the setting as it is
DAY_S = 86_400  # a TIME request's time_of_day at or above it asks the time, setting none
TIME_QUERY = 134_217.727  # time_of_day's all-ones value: how the driver asks
# An AUTO request's settings (signal, SET key, the all-ones value that leaves it as it is: fixtures/can/pump.dbc)
AUTO_SETTINGS = (
    ("auto_target", "target", 255.0),
    ("auto_isf", "isf", 4095.0),
    ("auto_max_basal", "max_basal", 81.91),
    ("auto_max_iob", "max_iob", 81.91),
)
IDENT_FIELDS = ("model", "serial", "fw", "proto")
STATUS_FRAMES = ("PumpStatus1", "PumpStatus2", "PumpStatus3", "PumpStatus4", "PumpStatus5")
# Counter groups: frames sharing one counter, and its modulus.
COUNTERS = {
    "PumpAlarm": ("pump events", 256),
    "PumpAlarmTime": ("pump events", 256),
    "PumpEvent": ("pump events", 256),
    "PumpAutoDetail": ("pump events", 256),
    "PumpHeartbeat": ("pump heartbeat", 256),
    "CgmValue": ("cgm", 256),
    "LoadCellMass": ("load cell", 65536),
}


def load_database(path: Path | str | None = None) -> "cantools.database.can.Database":
    import cantools  # here: a rig without CAN never needs it (0.14 s of every process's start)

    db = cantools.database.load_file(str(path or DEFAULT_DBC))
    if not isinstance(db, cantools.database.can.Database):  # a diagnostics database (.cdd) has no frames
        raise ValueError(f"{path or DEFAULT_DBC}: not a CAN database (DBC, KCD, SYM or ARXML)")
    return db


def decode(spec, data: bytes | bytearray) -> dict:
    """A frame's signals, enumerated values as their names (str), others as numbers; a scaled value rounded to
    its signal's resolution (raw 1001 × 0.1 kPa is 100.1, not 100.10000000000001)."""
    places = _signal_places(spec)
    return {
        name: round(value, places[name]) if isinstance(value, float) else getattr(value, "name", value)
        for name, value in spec.decode(data, decode_choices=True).items()
    }


@functools.cache
def _signal_places(spec) -> dict[str, int]:
    """Per signal of a frame, the decimal places of its scale and offset (once per frame of a loaded database: every
    heartbeat is decoded)."""
    return {signal.name: _places(signal.scale, signal.offset) for signal in spec.signals}


def _places(*steps: float) -> int:
    """Decimal places that hold every multiple of the steps exactly (0.1 → 1, 0.05 → 2, 1 → 0)."""
    places = [0]
    for step in steps:
        exponent = Decimal(repr(float(step))).normalize().as_tuple().exponent
        assert isinstance(exponent, int)  # a finite step (a DBC's scales and offsets are)
        places.append(-exponent)
    return max(places)


def encode(spec, signals: dict) -> bytes:
    """Encode a frame; signals of the frame (or of its multiplexed branch) that are not given are sent as 0,
    as an error reply carries no values."""
    values = dict(signals)
    mux = next((s for s in spec.signals if s.is_multiplexer), None)
    branch = values.get(mux.name) if mux else None
    if mux is not None and isinstance(branch, str):
        branch = mux.conversion.choice_to_number(branch)
    for signal in spec.signals:
        if signal.name not in values and (not signal.multiplexer_ids or branch in signal.multiplexer_ids):
            values[signal.name] = 0
    return spec.encode(values)


def request_args(word: str, signals: dict) -> tuple[str, ...]:
    """The serial-protocol arguments of a decoded PumpRequest."""
    if word == "BASAL":
        return (f"{signals['basal_rate']:.3f}",)
    if word == "TEMPBASAL":
        return (f"{signals['temp_rate']:.3f}", f"{signals['temp_duration']:.0f}")
    if word == "BOLUS":
        return (f"{signals['bolus_amount']:.3f}", "QUICK" if signals["bolus_speed"] else "STANDARD")
    if word == "PRIME":
        return (f"{signals['prime_amount']:.3f}",)
    if word == "ACK":
        return (str(int(signals["alarm_id"])),)
    if word == "HISTORY":
        return (f"{signals['history_since']:.3f}",)
    if word == "SET":
        names = ("backoff", "low_limit", "before_low", "on_low")
        return tuple(f"{n}={int(signals[n])}" for n in names if int(signals[n]) != UNCHANGED)
    if word == "AUTO":
        switch = signals["auto_switch"]
        return () if str(switch) == "QUERY" else (str(switch),)
    if word == "LIMITS":  # both 0: a query (a maximum of 0 is no setting)
        limits = (float(signals["max_bolus"]), float(signals["max_basal_rate"]))
        return () if limits == (0.0, 0.0) else tuple(f"{value:.3f}" for value in limits)
    if word == "INJECT":
        return (str(signals["fault"]),)
    if word == "SEGMENT":  # a count of 0: a query
        count = int(signals["segment_count"])
        if count == 0:
            return ()
        start = int(signals["segment_start"])
        return (
            str(int(signals["segment_index"])),
            str(count),
            f"{start // 60:02d}:{start % 60:02d}",
            f"{signals['segment_rate']:.3f}",
        )
    if word == "CALCSET":  # all 0: a query
        values = (float(signals["calc_ratio"]), float(signals["calc_factor"]), float(signals["calc_target"]))
        return () if values == (0.0, 0.0, 0.0) else tuple(f"{value:g}" for value in values)
    if word == "CALC":  # calc_use_cgm 1: the CGM's last value; else calc_glucose, 0 for none
        glucose = int(signals["calc_glucose"])
        entered = "CGM" if int(signals["calc_use_cgm"]) else str(glucose) if glucose else "-"
        return (str(int(signals["calc_carbs"])), entered)
    if word == "TIME":  # a day or more (the all-ones value): a query
        seconds = float(signals["time_of_day"])
        return () if seconds >= DAY_S else (f"{seconds:.3f}",)
    if word == "RESALERT":  # 0: a query (an alert at nothing left is no setting)
        amount = float(signals["reservoir_alert"])
        return () if amount == 0.0 else (f"{amount:.2f}",)
    return ()


def auto_settings_args(signals: dict) -> tuple[str, ...]:
    """The SET arguments an AUTO request carries with it: each auto-mode setting not at its all-ones value
    (left as it is)."""
    given = []
    for name, key, unchanged in AUTO_SETTINGS:
        value = float(signals[name])
        if abs(value - unchanged) > 1e-9:
            given.append(f"{key}={value:g}")
    return tuple(given)


def response_signals(word: str, fields: dict[str, str]) -> dict[str, float | str]:
    """PumpResponse values for a serial-style OK reply's fields."""
    if word == "BASAL":
        return {"basal_rate": float(fields["basal"])}
    if word == "TEMPBASAL":
        return {"temp_basal_rate": float(fields["basal"])}
    if word in ("BOLUS", "PRIME"):
        return {f"{word.lower()}_duration": float(fields["duration"])}
    if word == "CANCEL":
        return {"cancelled": float(fields["cancelled"])}
    if word == "HISTORY":
        return {"history_strokes": int(fields["strokes"]), "history_amount": float(fields["amount"])}
    if word == "SET":
        return {n: int(fields[n]) for n in ("backoff", "low_limit", "before_low", "on_low")}
    if word == "LIMITS":
        return {"max_bolus": float(fields["max_bolus"]), "max_basal_rate": float(fields["max_basal_rate"])}
    if word == "RESALERT":
        return {"reservoir_alert": float(fields["reservoir_alert"])}
    if word == "INJECT":
        return {"fault": fields["injected"]}
    if word == "SEGMENT":
        return {
            "schedule_received": int(fields["received"]),
            "schedule_count": int(fields["count"]),
            "schedule_daily": float(fields["daily"]),
        }
    if word == "TIME":
        return {"time_of_day": float(fields["tod"])}
    if word == "CALCSET":
        return {
            "calc_ratio": float(fields["ratio"]),
            "calc_factor": float(fields["factor"]),
            "calc_target": float(fields["target"]),
        }
    if word == "CALC":
        glucose = fields["glucose"]
        return {
            "advice_total": float(fields["total"]),
            "advice_iob": float(fields["iob"]),
            "advice_glucose": 0.0 if glucose == "-" else float(glucose),
        }
    if word == "AUTO":
        zone = fields["zone"]
        return {
            "auto_on": int(fields["auto"] == "ON"),
            "auto_zone": "NONE" if zone == "-" else zone,
            "auto_basal": float(fields["basal"]),
            "auto_iob": float(fields["iob"]),
        }
    return {}


def ident_chunks(text: str) -> list[tuple[int, bool, bytes]]:
    """(part, last, six bytes) for an identity string."""
    data = text.encode("ascii")
    chunks = [data[i : i + 6] for i in range(0, max(len(data), 1), 6)] or [b""]
    return [(i, i == len(chunks) - 1, chunk.ljust(6, b"\0")) for i, chunk in enumerate(chunks)]
