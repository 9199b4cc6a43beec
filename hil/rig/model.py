"""The rig file as strict pydantic models: types, finite numbers in physical ranges, no unknown keys. A device
section (pump, scale, lost_scale, the actuators) is typed by the options model of the driver it names (registered
under the `hil.drivers` entry points), so a vendor's options are checked and located like the suite's own.

The JSON Schema shipped for editors (hil/rig/rig.schema.json) is generated from these models and the built-in
drivers by `json_schema()`; a unit test keeps the shipped file equal to it. Checks across sections (distinct ports,
`@emulator:` names and clock) are in `cross_problems`, and a device off the emulator under its lockstep clock in
`lockstep_problems`, each with the key path it concerns.
"""

import re
from collections.abc import Iterator
from datetime import date
from functools import cache
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from hil.drivers import registry
from hil.drivers.registry import DeviceKind, DriverError, Port, Timeout
from hil.emulation.options import ENDPOINTS, EmulatorOptions, Environment, span
from hil.rig.lab import LAB_PORT

SCHEMA_ID = "https://hil.invalid/schemas/rig-file.json"
EMULATOR_PORT = "@emulator:"
EMULATED_CLOCKS = ("sim", "rehearsal")  # the clocks whose rig is the emulator
RIG_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"  # it names files in reports/ and reports/history/
REQUIREMENT_ID_PATTERN = r"^[A-Z]{2,}(-[A-Z0-9]+)+$"

Text = Annotated[str, Field(max_length=1000)]
MilliGrams = Annotated[float, span(0, 1000, above=True)]


class Section(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="forbid", allow_inf_nan=False)


class Calibration(Section):
    """The instrument's calibration, recorded in the run's provenance."""

    certificate: Annotated[str, Field(min_length=1, max_length=1000)]
    date: Annotated[str, Field(max_length=100, description="YYYY-MM-DD (quoted), or 'none' for an emulated instrument")]
    due: Text | None = None
    by: Text | None = None


class DeviceSection(Section):
    """A device's rig-file section: `driver` names a registered driver (hil.drivers.registry), whose own options
    model takes every other key (`port`, `timeout_s`, a vendor's unlock key ...)."""

    driver: str


class PumpSection(DeviceSection):
    """The pump under test."""

    min_reservoir_U: Annotated[float, span(0, 10_000)] | None = Field(
        None,
        description="the insulin a test must find in the pump's reservoir when its requirement's case does not give "
        "its delivery (a glucose scenario, virtual patients, detection trials), U; the others' need is reckoned from "
        "the case (docs/bench.md, 'The reservoir')",
    )


class ScaleSection(DeviceSection):
    """The balance or load cell under the collecting vessel; its metrology is the rig's, whatever the driver."""

    readability_mg: MilliGrams = Field(description="from the balance's data sheet or calibration certificate")
    repeatability_mg: MilliGrams = Field(description="standard deviation, from the calibration certificate")
    calibration: Calibration | None = None


class LostScaleSection(ScaleSection):
    """Optional second balance weighing what a leaking or dislodged site loses (leak tee, diverter)."""


class OcclusionValveSection(DeviceSection):
    """The stopcock or solenoid valve between the line and the vessel."""


class SiteFaultsSection(DeviceSection):
    """Insertion-site fault fixtures (kink, leak, dislodge)."""


class ReservoirSection(DeviceSection):
    """Reservoir changes (a reservoir of a stated fill fitted), for the tests that run a reservoir to its end."""


# Where each device section sits in a rig file, what it drives, and its rig-level keys.
DEVICE_SECTIONS: dict[tuple[str, ...], tuple[DeviceKind, type[DeviceSection]]] = {
    ("pump",): (DeviceKind.PUMP, PumpSection),
    ("scale",): (DeviceKind.SCALE, ScaleSection),
    ("lost_scale",): (DeviceKind.SCALE, LostScaleSection),
    ("actuators", "occlusion_valve"): (DeviceKind.VALVE, OcclusionValveSection),
    ("actuators", "site_faults"): (DeviceKind.SITE, SiteFaultsSection),
    ("actuators", "reservoir"): (DeviceKind.RESERVOIR, ReservoirSection),
}
OPTIONAL_SECTIONS = {
    ("lost_scale",),
    ("actuators", "occlusion_valve"),
    ("actuators", "site_faults"),
    ("actuators", "reservoir"),
}


class Insulin(Section):
    concentration_U_per_mL: Annotated[float, span(0, 1000, above=True)] = 100.0


class BenchEnvironment(Environment):
    temperature_C: Annotated[float, span(0, 60)]
    pressure_hPa: Annotated[float, span(500, 1100)]
    humidity_pct: Annotated[float, span(0, 100)]
    u_temperature_C: Annotated[float, span(0, 10)] | None = Field(
        None, description="standard uncertainty of the water temperature; default 2/sqrt(3) K (20 ± 2 °C)"
    )


class EvaporationCorrection(Section):
    rate_mg_per_h: Annotated[float, span(0, 1000)]
    source: Annotated[str, Field(min_length=1, max_length=1000)]
    u_rate_mg_per_h: Annotated[float, span(0, 1000)] | None = Field(
        None, description="standard uncertainty of the rate (repeated blank runs); default half the rate"
    )
    measured: Annotated[str, Field(pattern=r"^(\d{4}-\d{2}-\d{2}|none)$")] | None = Field(
        None,
        description="date of the blank run (YYYY-MM-DD, quoted), or 'none' for an emulated vessel; "
        "`hil rig check` blocks a bench rig without one",
    )
    valid_days: Annotated[int, Field(ge=1, le=3650)] | None = Field(
        None,
        description="days the lab holds the blank run valid (with a measured date); the lab's own interval, "
        "as for a calibration",
    )

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
    prime_U: Annotated[float, span(0, 100, above=True)]
    settle_s: Annotated[float, span(0, 3600)] = Field(60.0, description="the drops' settling after a prime, s")
    check_U: Annotated[float, span(0, 100, above=True)] | None = Field(
        None,
        description="the known delivery (a prime, after the set is primed) that every weighed test weighs first to "
        "show the balance sees the pump (docs/bench.md); default: prime_U",
    )
    check_seen_min_pct: Annotated[float, span(0, 100, above=True)] = Field(
        20.0,
        description="the share of check_U below which the balance is taken not to see the pump, %: a judgement "
        "between what marks an instrument (a decoupled or stuck balance weighs none of it, its noise aside; a gram "
        "value labelled mg 0.1 %) and a pump delivering too little, which the requirements judge",
    )


class PumpClock(Section):
    """How closely the pump's clock must follow the rig's over a test (hil.procedures.pump_clock): both are read at
    the test's start and end, and the pump's elapsed time may differ from the rig's by tolerance_s plus rate_ppm of
    it. A judgement: it passes a pump whose clock keeps time as a watch does, and fails one on a time of its own (a
    pump running free under clock: sim, a rehearsal at a speed the pump does not run at) by the test's whole length."""

    tolerance_s: Annotated[float, span(0, 3600)] = Field(2.0, description="the offset allowed whatever the length, s")
    rate_ppm: Annotated[float, span(0, 1e6)] = Field(
        500.0, description="the rate error allowed, parts per million of the rig's elapsed time"
    )


class SeededDefect(Section):
    """For defect rigs: what is broken on purpose and which requirement ids the suite must fail, exactly."""

    description: Annotated[str, Field(min_length=1, max_length=1000)]
    violates: list[Annotated[str, Field(pattern=REQUIREMENT_ID_PATTERN)]]
    may_violate: list[Annotated[str, Field(pattern=REQUIREMENT_ID_PATTERN)]] = Field(
        [],
        description="requirements whose bound the defect's effect straddles (justified in the rig file): "
        "failing them or not is neither a miss nor an extra; `hil validate` reports how often",
    )


class Can(Section):
    """The rig's CAN bus, shared by its CAN devices; keys python-can does not get here it takes from its own
    configuration."""

    interface: Text | None = Field(None, description="python-can interface: slcan, socketcan, pcan, ...")
    channel: Port | None = Field(None, description="python-can channel, or @emulator:can")
    bitrate: Annotated[int, Field(ge=1000, le=1_000_000)] | None = None
    dbc: Text | None = Field(
        None,
        description="CAN database file, relative to the rig file (default: the reference "
        "fixtures/can/pump.dbc installed with hil)",
    )
    timeout_s: Timeout | None = None


LAB_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"  # a place, resource or exporter group
LabName = Annotated[str, Field(pattern=LAB_NAME_PATTERN)]


class Labgrid(Section):
    """The rig's place in a labgrid lab (docs/lab.md): acquired from the coordinator for the whole run and
    released after the pump's STOP; the devices' ports written `@labgrid:<resource>`, the place's exported serial
    ports, reached over RFC 2217."""

    coordinator: Annotated[str, Field(pattern=r"^[A-Za-z0-9.-]+:[0-9]{1,5}$", description="HOST:PORT")]
    place: LabName = Field(description="the place's name at the coordinator")
    emulator_control: LabName | None = Field(
        None,
        description="the place's resource that is an exported emulator's control channel: a lockstep rig "
        "(clock: sim or rehearsal) whose emulator runs at the bench (`hil emulate --labgrid-exporter`)",
    )


class Actuators(Section):
    """What the rig can do to the fluid path; a test needing a missing one is skipped with the reason."""

    occlusion_valve: OcclusionValveSection | None = None
    site_faults: SiteFaultsSection | None = None
    reservoir: ReservoirSection | None = None


class RigFile(Section):
    """A rig file after `extends:` is resolved. Its device sections take the options of the drivers they name:
    validate with `rig_file_model(drivers)`, which types each section by its driver's options model."""

    model_config = ConfigDict(title="HIL rig configuration", json_schema_extra={"$id": SCHEMA_ID})

    extends: Text | None = Field(None, description="a rig file (relative to this one) whose keys this one overrides")
    rig_id: Annotated[str, Field(pattern=RIG_ID_PATTERN, description="a file name: letters, digits, '.', '_', '-'")]
    description: Text | None = None
    clock: Literal["sim", "real", "rehearsal"] = Field(
        description=(
            "sim: the emulator's lockstep clock; real: monotonic wall time (a bench); rehearsal: the emulator running "
            "free in real time, scaled by emulator.speed, reached as a bench is (never evidence)"
        )
    )
    operator: Text | None = None
    claims: Annotated[str, Field(min_length=1, max_length=1000)] | None = Field(
        None,
        description=(
            "the claims of the pump model under test (docs/requirements.md): a model's name (omnipod-5: the "
            "project's claims/omnipod-5.yaml) or a claims file's path relative to this file; the requirements' "
            "numbers come from it. Required on a bench (clock: real); an emulated rig's pump is the reference pump "
            "(claims/reference-pump.yaml)"
        ),
    )
    pump: PumpSection
    scale: ScaleSection
    lost_scale: LostScaleSection | None = None
    insulin: Insulin | None = None
    environment: BenchEnvironment
    evaporation_correction: EvaporationCorrection
    infusion_set: InfusionSet
    pump_clock: PumpClock | None = Field(None, description="how closely the pump's clock must follow the rig's")
    emulator: EmulatorOptions | None = Field(
        None, description="emulator parameters (clock: sim or rehearsal); see hil/emulation/options.py"
    )
    seeded_defect: SeededDefect | None = None
    actuators: Actuators | None = None
    can: Can | None = None
    labgrid: Labgrid | None = None


Drivers = dict[
    tuple[str, ...], dict[str, type[registry.DriverClass]]
]  # device section path → driver name → driver class


def rig_file_model(drivers: Drivers) -> type[RigFile]:
    """The rig-file model whose device sections are those drivers' (a union on `driver` where a section may name
    several): a section with no driver given here is left as a plain mapping (its driver was not found, and said
    so). DriverError when a driver's options clash with the section's own keys."""
    key = tuple(
        sorted((path, tuple(sorted(by_name.items(), key=lambda item: item[0]))) for path, by_name in drivers.items())
    )
    return _rig_file_model(key)


@cache
def _rig_file_model(key: tuple) -> type[RigFile]:
    drivers = {path: dict(by_name) for path, by_name in key}

    def section_type(path: tuple[str, ...]) -> Any:
        members = [_device_model(path, name, cls) for name, cls in drivers.get(path, {}).items()]
        if not members:
            section: Any = dict[str, Any]
        elif len(members) == 1:
            section = members[0]
        else:
            # a union of a runtime list of classes: `X | Y` has no spelling for it (ruff's UP007 fix to
            # `Annotated[tuple(members), ...]` would make the section a tuple, not a union)
            section = Annotated[Union[tuple(members)], Field(discriminator="driver")]  # noqa: UP007
        return (section | None, None) if path in OPTIONAL_SECTIONS else (section, ...)

    actuators = create_model(
        "Actuators",
        __base__=Actuators,
        __doc__=Actuators.__doc__,
        occlusion_valve=section_type(("actuators", "occlusion_valve")),
        site_faults=section_type(("actuators", "site_faults")),
        reservoir=section_type(("actuators", "reservoir")),
    )
    return create_model(
        "RigFile",
        __base__=RigFile,
        __doc__=RigFile.__doc__,
        pump=section_type(("pump",)),
        scale=section_type(("scale",)),
        lost_scale=section_type(("lost_scale",)),
        # a model built at runtime, made optional at runtime: what create_model is for, no static type for it
        actuators=(actuators | None, None),  # type: ignore[arg-type]
    )


@cache
def _device_model(path: tuple[str, ...], name: str, cls: type[registry.DriverClass]) -> type[DeviceSection]:
    kind, base = DEVICE_SECTIONS[path]
    clash = sorted(set(cls.Options.model_fields) & set(base.model_fields))
    if clash:
        raise DriverError(
            f"driver '{name}': its option(s) {', '.join(clash)} are keys the rig file itself gives "
            f"a {kind.label} section"
        )
    model_name = f"{base.__name__}_{re.sub('[^A-Za-z0-9]', '_', name)}"
    # create_model's stubs take one model class as the bases' type and a static type per field: the section's
    # model and the driver's options model are combined at runtime, and the driver's name is a Literal of a
    # runtime string (pydantic accepts both; mypy cannot type them)
    return create_model(
        model_name,
        __base__=(base, cls.Options),  # type: ignore[arg-type]
        __doc__=f"{base.__doc__} Driver '{name}': {(cls.__doc__ or cls.__name__).strip().splitlines()[0]}",
        driver=(Literal[name], Field(description=f"{kind.label} driver {cls.__module__}.{cls.__qualname__}")),  # type: ignore[arg-type]
    )


def section(rig: RigFile, path: tuple[str, ...]) -> Any:
    """The section at a key path, or None."""
    node: Any = rig
    for key in path:
        node = getattr(node, key, None) if node is not None else None
    return node


def ports(rig: RigFile) -> Iterator[tuple[tuple, str]]:
    """(key path, port) of every serial device and the CAN channel."""
    for path in DEVICE_SECTIONS:
        device = section(rig, path)
        if device is not None:
            for key, port in device.ports().items():
                yield path + (key,), port
    if rig.can is not None and rig.can.channel is not None:
        yield ("can", "channel"), rig.can.channel


def cross_problems(rig: RigFile) -> list[tuple[tuple, str]]:
    """(key path, message) of what no single section shows: an emulator rig without its emulator, ports used
    twice, `@emulator:` ports on a real clock or naming no endpoint."""
    found: list[tuple[tuple, str]] = []
    if rig.clock in EMULATED_CLOCKS and rig.emulator is None:
        found.append((("clock",), f"clock '{rig.clock}' needs an 'emulator:' section"))
    if rig.clock not in EMULATED_CLOCKS and rig.claims is None:
        found.append(
            (
                ("claims",),
                "a bench pump is judged against its own model's claims: name its claims file (claims: "
                "path/to/<model>.yaml, docs/requirements.md)",
            )
        )
    found += _lab_problems(rig)
    first: dict[str, tuple] = {}
    for path, port in ports(rig):
        if port in first:
            found.append((path, f"port {port} is already used by {'.'.join(first[port][:-1])}"))
        first.setdefault(port, path)
        if port.startswith(EMULATOR_PORT):
            name = port[len(EMULATOR_PORT) :]
            if name not in ENDPOINTS:
                found.append((path, f"no emulator endpoint '{name}' (there are: {', '.join(ENDPOINTS)})"))
            elif rig.clock not in EMULATED_CLOCKS:
                found.append((path, f"port {port} needs clock: sim or rehearsal (the emulator)"))
    return found


def lockstep_problems(rig: RigFile, drivers: Drivers) -> list[tuple[tuple, str]]:
    """Under clock: sim only the emulator's endpoints advance with the rig's lockstep clock: a device on a port of
    its own runs on its own time (hours of rig time pass in seconds of its own, and a test waiting for its alarm
    judges the pump on a clock it never saw), unless its driver declares that it follows the lockstep clock itself
    (registry.follows_lockstep: a pump maker's firmware build stepped through the emulator's plant)."""
    if rig.clock != "sim":
        return []
    found: list[tuple[tuple, str]] = []
    for path, port in ports(rig):
        if port.startswith((EMULATOR_PORT, LAB_PORT)):  # a place's ports under sim: its exported emulator's
            continue
        if any(registry.follows_lockstep(cls) for cls in drivers.get(path[:-1], {}).values()):
            continue
        found.append(
            (
                path,
                f"port {port} is not the emulator's: under clock: sim only the emulator's devices follow the rig's "
                "lockstep clock, and a device on its own port runs on its own time (a bench: clock: real)",
            )
        )
    return found


def _lab_problems(rig: RigFile) -> list[tuple[tuple, str]]:
    """`@labgrid:` ports with their place; an emulated rig on a place reaches the place's emulator, not its own."""
    found: list[tuple[tuple, str]] = []
    lab = rig.labgrid
    emulated = rig.clock in EMULATED_CLOCKS
    if lab is not None and emulated and lab.emulator_control is None:
        found.append(
            (("labgrid",), f"clock '{rig.clock}' on a place needs 'emulator_control': the exported emulator's channel")
        )
    if lab is not None and lab.emulator_control is not None and not emulated:
        found.append((("labgrid", "emulator_control"), "needs clock: sim or rehearsal (an exported emulator)"))
    for path, port in ports(rig):
        if port.startswith(LAB_PORT):
            if lab is None:
                found.append((path, f"port {port} needs a 'labgrid:' section (the place whose resource it is)"))
            elif path[0] == "can":
                found.append((path, "a CAN channel is not reached through labgrid: give the bench's own interface"))
        elif port.startswith(EMULATOR_PORT) and lab is not None and lab.emulator_control is not None:
            found.append((path, f"the emulator is the place's: its ports are {LAB_PORT}<resource>, not {port}"))
    return found


def json_schema(built_in_only: bool = True) -> dict[str, Any]:
    """The rig file's JSON Schema, for editors, assembled from the registered drivers' options models: the
    built-in drivers' is shipped as hil/rig/rig.schema.json; `hil rig schema` prints the installed drivers'."""
    drivers: Drivers = {}
    for path, (kind, _) in DEVICE_SECTIONS.items():
        drivers[path] = {name: registry.driver_class(name) for name in registry.names(kind, built_in_only)}
    model = rig_file_model(drivers)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **model.model_json_schema()}


if __name__ == "__main__":
    import json

    print(json.dumps(json_schema(), indent=2, ensure_ascii=False))
