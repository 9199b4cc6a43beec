"""What every pump driver returns, whatever its transport (serial, CAN) or vendor."""

from dataclasses import dataclass


@dataclass(frozen=True)
class PumpIdentity:
    model: str
    serial: str
    firmware: str
    protocol: str


@dataclass(frozen=True)
class PumpStatus:
    state: str  # RUNNING, SUSPENDED or ALARM
    basal_U_per_h: float
    bolus: str  # IDLE, BOLUS or PRIME
    bolus_left_U: float
    reservoir_U: float
    delivered_U: float  # as the pump believes
    active_alarms: tuple[str, ...]
    pressure_kPa: float | None  # the pump's line-pressure reading, where it reports one
    cgm_mg_dl: float | None = None  # the last CGM value the pump received


@dataclass(frozen=True)
class PumpEvent:
    kind: str
    fields: dict
