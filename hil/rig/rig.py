"""The Rig: clock, pump, scale and (on the emulator) its control, as one context manager.

Whatever ends the `with` block (a return, a failed assertion, an exception, Ctrl-C), the pump is commanded
to stop before the links close, and the outcome of that command is kept in `safety_log` for the record.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from hil.drivers import registry
from hil.drivers.contracts import (
    Capability,
    NumberedEvents,
    OcclusionValve,
    Pump,
    ReservoirFixture,
    Scale,
    SiteFixture,
)
from hil.drivers.emulator_control import EmulatorControl
from hil.drivers.pump_base import PumpDriver
from hil.errors import DeviceRefused, RigError, TransportError
from hil.rig import abort, lab
from hil.rig.clock import Clock, SimClock
from hil.rig.config import RigConfig
from hil.rig.emulator_process import EmulatorProcess
from hil.rig.model import EMULATOR_PORT
from hil.rig.strategy import Strategy, strategy_of
from hil.run_log import narrative

if TYPE_CHECKING:  # imported where a bus is opened: python-can and cantools are 0.14 s of every start
    from hil.transport.can_hub import CanHub

log = logging.getLogger(__name__)
T = TypeVar("T")
NO_PUMP_LINK = "no pump link was open"  # a make-safe with nothing to command: the pump was never reached


@dataclass
class _Context:
    """What the rig gives a driver to connect (hil.drivers.registry.RigContext)."""

    rig: "Rig"

    @property
    def rig_id(self) -> str:
        return self.rig.config.rig_id

    def now(self) -> float:
        return self.rig.clock.now()

    def port(self, port: str) -> str:
        if port.startswith(EMULATOR_PORT):
            if not self.rig.emulator:
                raise RigError(f"port {port} needs clock: sim or rehearsal (the emulator)")
            name = port[len(EMULATOR_PORT) :]
            self.rig.ports_given.add(name)
            return self.rig.emulator.endpoints[name]
        self.rig.ports_given.add(port)
        if port.startswith(lab.LAB_PORT):
            if self.rig.acquisition is None:
                raise RigError(f"port {port} needs the rig's labgrid place")
            return self.rig.acquisition.url(port)
        return port

    def can_bus(self) -> "CanHub":
        if self.rig.can_hub is None:
            from hil.transport.can_hub import CanHub

            cfg = self.rig.config.section("can")
            options: dict[str, Any] = {k: cfg[k] for k in ("interface", "bitrate") if k in cfg}
            if "channel" in cfg:
                options["channel"] = self.port(cfg["channel"])
            self.rig.can_hub = CanHub(
                dbc=cfg.get("dbc"), now=self.rig.clock.now, timeout_s=cfg.get("timeout_s", 2.0), **options
            )
            self.rig.clock.on_tick.append(self.rig.can_hub.drain)
        return self.rig.can_hub

    def emulator(self) -> EmulatorControl:
        if self.rig.control is None:
            raise RigError(f"rig {self.rig_id}: a driver of the emulator's fixtures needs clock: sim or rehearsal")
        return self.rig.control


@dataclass
class SafetyAction:
    reason: str
    ok: bool
    detail: str = ""


@dataclass
class Rig:
    """The open rig: its clock, pump and balance typed by their contracts (hil.drivers.contracts), so mypy checks
    every procedure against them; the devices a rig may lack are None where it has none."""

    config: RigConfig
    _clock: Clock | None = None
    _pump: Pump | None = None
    _scale: Scale | None = None
    strategy: Strategy = field(default_factory=Strategy, init=False)  # how it comes up and goes down (its rig file)
    can_hub: "CanHub | None" = None
    occlusion_valve: OcclusionValve | None = None
    lost_scale: Scale | None = None  # the second balance, under the lost-insulin vessel
    site_faults: SiteFixture | None = None
    reservoir: ReservoirFixture | None = None
    identities: dict[str, Any] = field(default_factory=dict)
    drivers: dict[tuple[str, ...], type] = field(default_factory=dict)  # section path → the driver class connected
    safety_log: list[SafetyAction] = field(default_factory=list)
    broken: str | None = None
    ports_given: set[str] = field(default_factory=set)  # to the drivers: the emulator's endpoints by name, others

    @property
    def control(self) -> EmulatorControl | None:
        """The emulator's control channel, on an emulated rig."""
        return self.strategy.control

    @property
    def emulator(self) -> EmulatorProcess | None:
        """The emulator this rig started."""
        return self.strategy.emulator

    @property
    def acquisition(self) -> lab.Acquisition | None:
        """The labgrid place the rig is on."""
        return self.strategy.acquisition

    @property
    def clock(self) -> Clock:
        if self._clock is None:
            raise RigError(f"rig {self.config.rig_id}: no clock: the rig is not open")
        return self._clock

    @property
    def pump(self) -> Pump:
        return self._opened(self._pump, "pump")

    @property
    def scale(self) -> Scale:
        return self._opened(self._scale, "scale")

    def _opened(self, device: T | None, what: str) -> T:
        if device is None:
            raise RigError(f"rig {self.config.rig_id}: no {what}: the rig is not open")
        return device

    def __enter__(self) -> "Rig":
        try:
            self._open()
        except BaseException:
            self.close("rig failed to open")
            raise
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close("end of session" if exc_type is None else f"aborted by {exc_type.__name__}")

    def _open(self) -> None:
        self.strategy = strategy_of(self.config)
        self._clock = self.strategy.open()
        if self.emulator:
            self.identities["emulator"] = {"pid": self.emulator.pid, **self.emulator.endpoints}
        self._connect_all()
        pump = self.pump
        if not isinstance(pump, PumpDriver):
            log.warning(
                "pump driver %s does not build on hil.drivers.pump_base.PumpDriver: no lost-event check from the "
                "base, and no pump traffic in the wire logs (docs/drivers.md §2)",
                self.config.driver_name(("pump",)),
            )
        if isinstance(self.clock, SimClock) and isinstance(pump, NumberedEvents):
            self.clock.on_tick.insert(0, self._await_pump_events(pump, self.clock.control))
        if isinstance(self.clock, SimClock):
            # the emulator can hold only what it is told was written: every port a driver writes must be one of its
            # endpoints, opened through hil's SerialLine (not a CAN bus, a port through a serial server, a raw port)
            self.clock.pipelines = bool(self.ports_given) and self.ports_given <= self.clock.control.opened
        self.identities["pump"] = vars(self.pump.identify())
        self.identities["scale"] = self.scale.identify()
        if self.lost_scale:
            self.identities["lost_scale"] = self.lost_scale.identify()
        for device, identity in self.identities.items():
            narrative.info("%s: %s", device, ", ".join(f"{key} {value}" for key, value in identity.items()))

    def _connect_all(self) -> None:
        """Every device of the rig connected; one that cannot be does not hide the next: the rig's error names
        every unusable port at once (hil.transport.serial_line says what to try for each). What did
        connect is kept, so that closing the rig still makes the pump safe."""
        failures = []

        def connect(path: tuple[str, ...]) -> Any:
            try:
                return self._connect(path)
            except RigError as exc:
                said = str(exc)  # a link's error names it ("pump: cannot open ..."); else the section does
                failures.append(said if said.startswith(f"{path[-1]}:") else f"{'.'.join(path)}: {said}")
                return None

        self._pump, self._scale, self.lost_scale = connect(("pump",)), connect(("scale",)), connect(("lost_scale",))
        self.occlusion_valve = connect(("actuators", "occlusion_valve"))
        self.site_faults = connect(("actuators", "site_faults"))
        self.reservoir = connect(("actuators", "reservoir"))
        if failures:
            more = f"{len(failures)} devices cannot be connected: " if len(failures) > 1 else ""
            raise TransportError(more + "; ".join(failures))

    @staticmethod
    def _await_pump_events(pump: NumberedEvents, control: EmulatorControl) -> Callable[[], None]:
        """The clock hook that, after each lockstep step, awaits the pump events the step sent (those sent before
        the pump was connected are not awaited: the pump's count does not restart for a new connection)."""
        before = control.pump_events

        def arrived() -> None:
            if control.pump_events > before:
                pump.await_event(control.pump_events)

        return arrived

    def _connect(self, path: tuple[str, ...]) -> Any:
        """The device of a rig-file section, connected by the driver it names (None where the rig has none)."""
        section = self.config.device(path)
        if section is None:
            return None
        cls = self.config.driver(path)
        options = cls.Options.model_validate(
            {key: value for key, value in section.items() if key in cls.Options.model_fields}
        )
        device = cls.connect(options, _Context(self))
        self.drivers[path] = cls
        return device

    def driver_provenance(self) -> dict[str, dict[str, str]]:
        """Section → the driver that drove it: its name, class and the package (and version) that registered it."""
        out = {}
        for path in self.drivers:
            name = self.config.driver_name(path)
            registered = registry.installed()[name]
            out[".".join(path)] = {
                "driver": name,
                "class": registered.value,
                "package": registered.package,
                "version": registered.version,
            }
        return out

    def capabilities(self) -> frozenset[Capability]:
        """What the rig's pump driver declares it can do."""
        return registry.capabilities(self.config.driver(("pump",)))

    def begin_test(self, test_id: str) -> None:
        """Before a test: on the emulator (unless its `reset_per_test` is off), a fresh pump and vessel, seeded from
        the rig seed and the test id, so a test's numbers do not depend on which tests ran before. The pump's
        starting state is then set and checked through its contract, on every rig (hil.procedures.starting_state)."""
        if self.broken:
            raise RigError(f"rig is broken: {self.broken}")
        self.strategy.begin_test(test_id, self._after_reset)

    def _after_reset(self) -> None:
        """After an emulator RESET: the rig's time is the emulator's again, and the balances' state forgotten."""
        self.clock.resync()
        self.scale.reset()
        if self.lost_scale:
            self.lost_scale.reset()

    def _serial_lines(self) -> list:
        """The pump's lines as its driver names them (hil.drivers.pump_base), and the instruments' `line`."""
        pump_lines = self.pump.wire_lines() if isinstance(self.pump, PumpDriver) else []
        parts = (self._scale, self.lost_scale, self.occlusion_valve, self.site_faults, self.reservoir)
        lines = (getattr(part, "line", None) for part in parts)
        return pump_lines + [line for line in lines if line is not None]

    def start_wire_log(self, directory: Path) -> list[Path]:
        """Log the traffic of every instrument link into `directory`: serial lines as readable text, CAN frames
        as Vector ASC. Returns the files, for the evidence."""
        files = []
        if self._serial_lines():
            files.append(Path(directory) / "serial.log")
            for line in self._serial_lines():
                line.log_to(files[-1], self.clock.now)
        if self.can_hub:
            files.append(Path(directory) / "can.asc")
            self.can_hub.log_to(files[-1])
        return files

    def stop_wire_log(self) -> None:
        for line in self._serial_lines():
            line.log_to(None)
        if self.can_hub:
            self.can_hub.log_to(None)

    def make_safe(self, reason: str) -> SafetyAction:
        """Command the pump to stop delivering and wait for its acknowledgement (within the pump link's
        deadline). Never raises an error: the outcome is logged, kept in `safety_log` and returned. An abort
        signal arriving meanwhile is held until the STOP is done (see hil.rig.abort)."""
        with abort.signals.shielded():
            started = time.monotonic()
            if self._pump is None:
                action = SafetyAction(reason, False, NO_PUMP_LINK)
            else:
                try:
                    self._pump.stop()
                    action = SafetyAction(reason, True, f"pump acknowledged STOP in {time.monotonic() - started:.2f} s")
                except Exception as exc:  # noqa: BLE001 - the stop must be attempted and its failure recorded
                    action = SafetyAction(reason, False, f"STOP not acknowledged: {exc}")
                left = self._injected_fault_left()
                if left:
                    action = SafetyAction(reason, False, f"{action.detail}; {left}")
            if action.ok:
                narrative.info("make safe (%s): %s", reason, action.detail)
            else:
                log.error("make safe (%s): %s", reason, action.detail)
            self.safety_log.append(action)
            return action

    def _injected_fault_left(self) -> str:
        """On a pump with a fault-injection hook, any injected fault cleared (a STOP does not stop a runaway motor);
        what is wrong when it may still act, else "". A pump that does not know the request has no hook."""
        if self._pump is None or Capability.FAULT_INJECTION not in self.capabilities():
            return ""
        try:
            acting = self._pump.inject_fault(None)
        except DeviceRefused as exc:
            return "" if exc.code == "UNKNOWN_COMMAND" else f"an injected fault not cleared: {exc}"
        except Exception as exc:  # noqa: BLE001 - making safe never raises; the failure is recorded
            return f"an injected fault not cleared: {exc}"
        return f"the pump's hook says {acting} still acts after it was cleared" if acting else ""

    def close(self, reason: str) -> SafetyAction:
        """Make the pump safe, then close every link and stop the emulator; returns the STOP's outcome."""
        with abort.signals.shielded():
            action = self.make_safe(reason)
            for part in (self._pump, self._scale, self.lost_scale):
                if part is not None:
                    part.close()
            for actuator in (self.occlusion_valve, self.site_faults, self.reservoir):
                if actuator is not None:
                    actuator.disconnect()
            if self.can_hub is not None:
                self.can_hub.close()
            self.strategy.close(pump_stopped=action.ok or self._pump is None)
            return action
