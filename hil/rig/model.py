"""The rig file as strict pydantic models: types, finite numbers in physical ranges, no unknown keys.

The JSON Schema shipped for editors (hil/rig/rig.schema.json) is generated from these models by
`json_schema()`; a unit test keeps the shipped file equal to it. Checks across sections (distinct ports,
`@emulator:` names and clock) are in `cross_problems`, each with the key path it concerns.
"""

from datetime import date
from typing import Annotated, Any, Iterator, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hil.emulator.config import ENDPOINTS, EmulatorOptions, Environment, span

SCHEMA_ID = "https://hil.invalid/schemas/rig-file.json"
EMULATOR_PORT = "@emulator:"
EMULATED_CLOCKS = ("sim", "rehearsal")  # the clocks whose rig is the emulator
RIG_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"  # it names files in reports/ and reports/history/
REQUIREMENT_ID_PATTERN = r"^[A-Z]{2,}(-[A-Z0-9]+)+$"

Text = Annotated[str, Field(max_length=1000)]
Port = Annotated[str, Field(min_length=1, max_length=256, description=(
    "device path, pyserial URL, or @emulator:<endpoint> (" + ", ".join(ENDPOINTS) + ") with clock: sim or rehearsal"))]
Baudrate = Annotated[int, Field(ge=50, le=4_000_000, description="a serial rate the UART can run")]
Timeout = Annotated[float, Field(gt=0, le=3600, description="seconds to wait for a reply")]
Channel = Annotated[int, Field(ge=0, le=255)]
MilliGrams = span(0, 1000, above=True)


class Section(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="forbid", allow_inf_nan=False)


class Pump(Section):
    driver: Literal["reference-serial", "reference-can"]
    port: Port | None = Field(None, description="serial pump only (a CAN pump uses the rig's can: bus)")
    baudrate: Baudrate | None = None
    timeout_s: Timeout | None = None


class Calibration(Section):
    """The instrument's calibration, recorded in the run's provenance."""

    certificate: Annotated[str, Field(min_length=1, max_length=1000)]
    date: Annotated[str, Field(max_length=100, description="YYYY-MM-DD (quoted), or 'none' for an emulated instrument")]
    due: Text | None = None
    by: Text | None = None


class Balance(Section):
    port: Port | None = None
    baudrate: Baudrate | None = None
    timeout_s: Timeout | None = None
    readability_mg: MilliGrams = Field(description="from the balance's data sheet or calibration certificate")
    repeatability_mg: MilliGrams = Field(description="standard deviation, from the calibration certificate")
    calibration: Calibration | None = None


class Scale(Balance):
    driver: Literal["mt-sics", "can-loadcell"]
    rate_hz: span(0, 1000, above=True) | None = Field(None, description="CAN load cell: streaming rate")


class LostScale(Balance):
    """Optional second balance weighing what a leaking or dislodged site loses (leak tee, diverter)."""

    driver: Literal["mt-sics"]


class Insulin(Section):
    concentration_U_per_mL: span(0, 1000, above=True) = 100.0


class BenchEnvironment(Environment):
    temperature_C: span(0, 60)
    pressure_hPa: span(500, 1100)
    humidity_pct: span(0, 100)
    u_temperature_C: span(0, 10) | None = Field(
        None, description="standard uncertainty of the water temperature; default 2/sqrt(3) K (20 ± 2 °C)")


class EvaporationCorrection(Section):
    rate_mg_per_h: span(0, 1000)
    source: Annotated[str, Field(min_length=1, max_length=1000)]
    u_rate_mg_per_h: span(0, 1000) | None = Field(
        None, description="standard uncertainty of the rate (repeated blank runs); default half the rate")
    measured: Annotated[str, Field(pattern=r"^(\d{4}-\d{2}-\d{2}|none)$")] | None = Field(
        None, description="date of the blank run (YYYY-MM-DD, quoted), or 'none' for an emulated vessel; "
                          "`hil rig check` blocks a bench rig without one")
    valid_days: Annotated[int, Field(ge=1, le=3650)] | None = Field(
        None, description="days the lab holds the blank run valid (with a measured date); the lab's own interval, "
                          "as for a calibration")

    @model_validator(mode="after")
    def _dated(self) -> "EvaporationCorrection":
        if self.measured not in (None, "none"):
            try:
                date.fromisoformat(self.measured)
            except ValueError:
                raise ValueError(f"measured: {self.measured} is not a date") from None
            if self.valid_days is None:
                raise ValueError("a measured blank run needs valid_days (how long the lab holds it valid)")
        elif self.valid_days is not None:
            raise ValueError("valid_days needs a measured date")
        return self


class InfusionSet(Section):
    prime_U: span(0, 100, above=True)
    settle_s: span(0, 3600) | None = None


class SeededDefect(Section):
    """For defect rigs: what is broken on purpose and which requirement ids the suite must fail, exactly."""

    description: Annotated[str, Field(min_length=1, max_length=1000)]
    violates: list[Annotated[str, Field(pattern=REQUIREMENT_ID_PATTERN)]]
    may_violate: list[Annotated[str, Field(pattern=REQUIREMENT_ID_PATTERN)]] = Field(
        [], description="requirements whose bound the defect's effect straddles (justified in the rig file): "
                        "failing them or not is neither a miss nor an extra; `hil validate` reports how often")


Actuator = Literal["emulator", "relay-board", "operator-prompt"]


class OcclusionValve(Section):
    driver: Actuator
    port: Port | None = None
    channel: Channel | None = None
    baudrate: Baudrate | None = None
    timeout_s: Timeout | None = None


class SiteChannels(Section):
    kink_full: Channel | None = None
    kink_partial: Channel | None = None
    leak: Channel | None = None
    dislodge: Channel | None = None


class SiteFaults(Section):
    """Insertion-site fault fixtures (kink, leak, dislodge); relay-board and operator-prompt declare the fixed
    levels their fixtures make."""

    driver: Actuator
    port: Port | None = None
    channels: SiteChannels | None = None
    partial_kink_factor: span(1, 1e6) | None = Field(None, description="the restrictor's resistance over the nominal line's")
    leak_fraction: span(0, 1, above=True) | None = Field(None, description="the share of each stroke the leak tee diverts (measured)")
    baudrate: Baudrate | None = None
    timeout_s: Timeout | None = None


class Actuators(Section):
    """What the rig can do to the fluid path; a test needing a missing one is skipped with the reason."""

    occlusion_valve: OcclusionValve | None = None
    site_faults: SiteFaults | None = None


class Can(Section):
    """The rig's CAN bus, shared by its CAN devices; keys python-can does not get here it takes from its own
    configuration."""

    interface: Text | None = Field(None, description="python-can interface: slcan, socketcan, pcan, ...")
    channel: Port | None = Field(None, description="python-can channel, or @emulator:can")
    bitrate: Annotated[int, Field(ge=1000, le=1_000_000)] | None = None
    dbc: Text | None = Field(None, description="CAN database file, relative to the rig file (default: the reference "
                                            "fixtures/can/pump.dbc installed with hil)")
    timeout_s: Timeout | None = None


class RigFile(Section):
    """A rig file after `extends:` is resolved."""

    model_config = ConfigDict(title="HIL rig configuration", json_schema_extra={"$id": SCHEMA_ID})

    extends: Text | None = Field(None, description="a rig file (relative to this one) whose keys this one overrides")
    rig_id: Annotated[str, Field(pattern=RIG_ID_PATTERN, description="a file name: letters, digits, '.', '_', '-'")]
    description: Text | None = None
    clock: Literal["sim", "real", "rehearsal"] = Field(description=(
        "sim: the emulator's lockstep clock; real: monotonic wall time (a bench); rehearsal: the emulator running "
        "free in real time, scaled by emulator.speed, reached as a bench is (never evidence)"))
    operator: Text | None = None
    pump: Pump
    scale: Scale
    lost_scale: LostScale | None = None
    insulin: Insulin | None = None
    environment: BenchEnvironment
    evaporation_correction: EvaporationCorrection
    infusion_set: InfusionSet
    emulator: EmulatorOptions | None = Field(None, description="emulator parameters (clock: sim or rehearsal); see "
                                                               "hil/emulator/config.py")
    seeded_defect: SeededDefect | None = None
    actuators: Actuators | None = None
    can: Can | None = None


def ports(rig: RigFile) -> Iterator[tuple[tuple, str]]:
    """(key path, port) of every serial device and the CAN channel."""
    devices = {("pump",): rig.pump, ("scale",): rig.scale, ("lost_scale",): rig.lost_scale}
    if rig.actuators:
        devices |= {("actuators", "occlusion_valve"): rig.actuators.occlusion_valve,
                    ("actuators", "site_faults"): rig.actuators.site_faults}
    for path, device in devices.items():
        if device is not None and device.port is not None:
            yield path + ("port",), device.port
    if rig.can is not None and rig.can.channel is not None:
        yield ("can", "channel"), rig.can.channel


def cross_problems(rig: RigFile) -> list[tuple[tuple, str]]:
    """(key path, message) of what no single section shows: an emulator rig without its emulator, ports used
    twice, `@emulator:` ports on a real clock or naming no endpoint, a serial device without its port."""
    found: list[tuple[tuple, str]] = []
    if rig.clock in EMULATED_CLOCKS and rig.emulator is None:
        found.append((("clock",), f"clock '{rig.clock}' needs an 'emulator:' section"))
    first: dict[str, tuple] = {}
    for path, port in ports(rig):
        if port in first:
            found.append((path, f"port {port} is already used by {'.'.join(first[port][:-1])}"))
        first.setdefault(port, path)
        if port.startswith(EMULATOR_PORT):
            name = port[len(EMULATOR_PORT):]
            if name not in ENDPOINTS:
                found.append((path, f"no emulator endpoint '{name}' (there are: {', '.join(ENDPOINTS)})"))
            elif rig.clock not in EMULATED_CLOCKS:
                found.append((path, f"port {port} needs clock: sim or rehearsal (the emulator)"))
    serial = {("pump",): rig.pump.driver == "reference-serial", ("scale",): rig.scale.driver == "mt-sics",
              ("lost_scale",): rig.lost_scale is not None}
    for path, needs_port in serial.items():
        if needs_port and getattr(rig, path[0]).port is None:
            found.append((path, f"driver '{getattr(rig, path[0]).driver}' needs 'port'"))
    return found


def json_schema() -> dict[str, Any]:
    """The rig file's JSON Schema, for editors (shipped as hil/rig/rig.schema.json)."""
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **RigFile.model_json_schema()}


if __name__ == "__main__":
    import json

    print(json.dumps(json_schema(), indent=2, ensure_ascii=False))
