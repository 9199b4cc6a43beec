"""The driver registry: every driver, built-in or a pump maker's, is a class registered under the `hil.drivers`
entry-point group (name → class), as python-can's interfaces are under `can.interface`. A rig file names a driver
(`pump: {driver: acme-x2, port: /dev/ttyUSB0, unlock_key: ...}`); the class declares the device it drives, its own
options model (pydantic, validated and located at file:line with the rest of the rig file) and, for a pump, its
capabilities; `connect(options, rig)` connects to it. Nothing under `hil/` changes for a new driver:

    [project.entry-points."hil.drivers"]
    acme-x2 = "acme_hil.pump:AcmeX2Pump"

A driver class (see docs/drivers.md):

    class AcmeX2Pump:
        device = DeviceKind.PUMP
        capabilities = frozenset({Capability.CGM_INPUT, ...})
        class Options(DriverOptions):
            port: Port
            timeout_s: Timeout = 2.0
        @classmethod
        def connect(cls, options: Options, rig: RigContext) -> "AcmeX2Pump": ...
"""

import importlib.metadata
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Annotated, Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, Field

from hil.drivers.contracts import Capability

ENTRY_POINT_GROUP = "hil.drivers"
BUILT_IN_PACKAGE = "hil"


class DeviceKind(StrEnum):
    """The kinds of device a driver drives (and `hil driver check --device` names)."""

    PUMP = "pump"
    SCALE = "scale"
    VALVE = "valve"
    SITE = "site"
    RESERVOIR = "reservoir"

    @property
    def label(self) -> str:
        """The kind in prose: "pump", "scale", "occlusion valve", "site fixture", "reservoir fixture"."""
        return {"valve": "occlusion valve", "site": "site fixture", "reservoir": "reservoir fixture"}.get(
            self.value, self.value
        )


class DriverOptions(BaseModel):
    """A driver's own options, the keys of its rig-file section besides `driver` (and, for a scale, its
    metrology). Strict: no unknown keys, no "no" for a boolean, finite numbers. A field named `port`, or ending in
    `_port`, is a serial port: `@emulator:<endpoint>` is resolved by `RigContext.port`, and a port may serve one
    device only."""

    model_config = ConfigDict(strict=True, frozen=True, extra="forbid", allow_inf_nan=False)

    def ports(self) -> dict[str, str]:
        """Option name → port, of every port option that is set."""
        return {name: value for name, value in self if (name == "port" or name.endswith("_port")) and value is not None}


Port = Annotated[
    str,
    Field(
        min_length=1,
        max_length=256,
        description=(
            "device path, pyserial URL (socket://, rfc2217://), @emulator:<endpoint> with clock: sim or rehearsal, "
            "or @labgrid:<resource> of the rig's labgrid place"
        ),
    ),
]
Baudrate = Annotated[int, Field(ge=50, le=4_000_000, description="a serial rate the UART can run")]
Timeout = Annotated[float, Field(gt=0, le=3600, description="seconds to wait for a reply")]


class SerialOptions(DriverOptions):
    """The options of a device on a serial line (a subclass changes a default or adds its own)."""

    port: Port
    baudrate: Baudrate = 9600
    timeout_s: Timeout = 2.0


class RigContext(Protocol):
    """What the rig gives a driver to connect its device."""

    @property
    def rig_id(self) -> str:
        """The rig file's rig_id."""

    def now(self) -> float:
        """The rig clock, s: take every reading's time from it (simulated on the emulator)."""

    def port(self, port: str) -> str:
        """The port to open: a rig file's port, with `@emulator:<endpoint>` resolved to the emulator's pty and
        `@labgrid:<resource>` to the acquired place's exported port (an rfc2217:// URL)."""

    def can_bus(self) -> Any:
        """The rig's CAN bus (hil.transport.can_hub.CanHub), opened from its `can:` section on first use and shared
        by every CAN device; the rig closes it."""

    def emulator(self) -> Any:
        """The emulator's control channel (hil.drivers.emulator_control.EmulatorControl); RigError on a rig that
        is not the emulator."""


class DriverClass(Protocol):
    """What the registry asks of a registered class."""

    device: ClassVar[DeviceKind]
    Options: ClassVar[type[DriverOptions]]

    @classmethod
    def connect(cls, options: Any, rig: RigContext) -> Any: ...


class DriverError(Exception):
    """A driver name that is not installed, or a registered class that is not a driver: one line that says which."""


@dataclass(frozen=True)
class Registered:
    name: str
    value: str  # module:Class
    package: str  # the distribution that registers it
    version: str = ""  # the distribution's version, for the run's provenance

    @property
    def built_in(self) -> bool:
        return self.package == BUILT_IN_PACKAGE


@cache
def installed() -> dict[str, Registered]:
    """Every driver name of the installed packages' `hil.drivers` entry points. A name two packages register is
    an error (which one would run is not for the suite to guess)."""
    found: dict[str, Registered] = {}
    for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        package = entry.dist.name if entry.dist is not None else "?"
        if entry.name in found and found[entry.name].value != entry.value:
            raise DriverError(
                f"driver '{entry.name}' is registered twice, by {found[entry.name].package} "
                f"({found[entry.name].value}) and by {package} ({entry.value}): uninstall one"
            )
        found[entry.name] = Registered(entry.name, entry.value, package, entry.dist.version if entry.dist else "")
    return dict(sorted(found.items()))


@cache
def driver_class(name: str) -> type[DriverClass]:
    """The class registered as `name`, checked to be a driver; DriverError naming what is wrong."""
    registered = installed().get(name)
    if registered is None:
        raise DriverError(f"no driver '{name}' is installed")
    entry = importlib.metadata.EntryPoint(name, registered.value, ENTRY_POINT_GROUP)
    try:
        cls = entry.load()
    except Exception as exc:  # noqa: BLE001 - a vendor's import error is reported, not raised as a traceback
        raise DriverError(
            f"driver '{name}' ({registered.value}, from {registered.package}) failed to load: "
            f"{type(exc).__name__}: {exc}"
        ) from None
    problems = _not_a_driver(cls)
    if problems:
        raise DriverError(
            f"driver '{name}' ({registered.value}, from {registered.package}) is not a driver class: "
            + "; ".join(problems)
        )
    return cls


def _not_a_driver(cls: Any) -> list[str]:
    problems = []
    if not isinstance(cls, type):
        return [f"{cls!r} is not a class"]
    if not isinstance(getattr(cls, "device", None), DeviceKind):
        problems.append("'device' is not a DeviceKind")
    options = getattr(cls, "Options", None)
    if not (isinstance(options, type) and issubclass(options, DriverOptions)):
        problems.append("'Options' is not a subclass of hil.drivers.registry.DriverOptions")
    if not callable(getattr(cls, "connect", None)):
        problems.append("it has no connect(options, rig) class method")
    capabilities: object = getattr(cls, "capabilities", frozenset())
    if not (isinstance(capabilities, frozenset) and all(isinstance(c, Capability) for c in capabilities)):
        problems.append("'capabilities' is not a frozenset of Capability")
    return problems


def lookup(name: str, device: DeviceKind) -> type[DriverClass]:
    """The driver class for a rig-file section of kind `device`; DriverError listing the installed drivers of
    that kind when `name` is not one of them."""
    try:
        cls = driver_class(name)
    except DriverError as exc:
        if name in installed():
            raise
        raise DriverError(f"{exc}; installed {device.label} drivers: {', '.join(names(device)) or 'none'}") from None
    if cls.device is not device:
        raise DriverError(
            f"driver '{name}' drives a {cls.device.label}, not a {device.label}; installed {device.label} drivers: "
            f"{', '.join(names(device)) or 'none'}"
        )
    return cls


def names(device: DeviceKind, built_in_only: bool = False) -> list[str]:
    """The installed drivers of one kind (those that load)."""
    out = []
    for name, registered in installed().items():
        if built_in_only and not registered.built_in:
            continue
        try:
            cls = driver_class(name)
        except DriverError:
            continue
        if cls.device is device:
            out.append(name)
    return out


def capabilities(cls: type) -> frozenset[Capability]:
    return getattr(cls, "capabilities", frozenset())


def follows_lockstep(cls: type) -> bool:
    """A driver whose device follows the rig's lockstep clock (clock: sim) on a port of its own, not the emulator's:
    a pump maker's firmware build stepped through the emulator's plant declares `follows_lockstep = True`."""
    return bool(getattr(cls, "follows_lockstep", False))


def prompts_operator(cls: type) -> bool:
    """A driver that asks the operator on the terminal mid-test (no progress line is kept in place then)."""
    return bool(getattr(cls, "prompts_operator", False))
