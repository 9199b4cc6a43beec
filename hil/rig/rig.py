"""The Rig: clock, pump, scale and (on the emulator) its control, as one context manager.

Whatever ends the `with` block (a return, a failed assertion, an exception, Ctrl-C), the pump is commanded
to stop before the links close, and the outcome of that command is kept in `safety_log` for the record.
"""

import hashlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hil.drivers.emulator_control import EmulatorControl
from hil.drivers.loadcell_can import CanLoadCell
from hil.drivers.mtsics import MtSicsBalance
from hil.drivers.occlusion_valve import EmulatorValve, OperatorPromptValve, RelayBoardValve
from hil.drivers.site_faults import EmulatorSite, OperatorPromptSite, RelayBoardSite
from hil.drivers.pump_can import CanPumpDriver
from hil.drivers.pump_reference import ReferencePumpDriver
from hil.errors import RigError
from hil.rig import abort
from hil.rig.clock import RealClock, SimClock
from hil.rig.config import RigConfig
from hil.rig.emulator_process import EmulatorProcess
from hil.run_log import narrative
from hil.transport.can_hub import CanHub

log = logging.getLogger(__name__)
CAN_DRIVERS = {"reference-can", "can-loadcell"}


@dataclass
class SafetyAction:
    reason: str
    ok: bool
    detail: str = ""


@dataclass
class Rig:
    config: RigConfig
    clock: Any = None
    pump: Any = None
    scale: Any = None
    emulator: EmulatorProcess | None = None
    control: EmulatorControl | None = None
    can_hub: CanHub | None = None
    occlusion_valve: Any = None
    lost_scale: Any = None  # the second balance, under the lost-insulin vessel
    site_faults: Any = None
    identities: dict[str, Any] = field(default_factory=dict)
    safety_log: list[SafetyAction] = field(default_factory=list)
    broken: str | None = None

    def __enter__(self) -> "Rig":
        try:
            self._open()
        except BaseException:
            self.close("rig failed to open")
            raise
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close("end of session" if exc_type is None else f"aborted by {exc_type.__name__}")

    def _can_hub(self, cfg: dict[str, Any]) -> CanHub:
        options = {k: cfg[k] for k in ("interface", "bitrate") if k in cfg}
        if "channel" in cfg:
            options["channel"] = self._port({"port": cfg["channel"]})
        hub = CanHub(dbc=cfg.get("dbc"), now=self.clock.now, timeout_s=cfg.get("timeout_s", 2.0), **options)
        self.clock.on_tick.append(hub.drain)
        return hub

    def _port(self, section: dict[str, Any]) -> str:
        if "port" not in section:
            raise RigError("a serial device needs 'port' in the rig file")
        port = section["port"]
        if port.startswith("@emulator:"):
            if not self.emulator:
                raise RigError(f"port {port} needs clock: sim or rehearsal (the emulator)")
            return self.emulator.endpoints[port.split(":", 1)[1]]
        return port

    def _open(self) -> None:
        pump_cfg, scale_cfg = self.config.section("pump"), self.config.section("scale")
        if self.config.emulated:
            self.emulator = EmulatorProcess(self.config.path)
            self.control = EmulatorControl(self.emulator.endpoints["control"])
            if self.config.rehearsal:
                self.clock = RealClock(self.config.speed, origin=self.control.now())
            else:
                self.clock = SimClock(self.control)
            self.identities["emulator"] = {"pid": self.emulator.pid, **self.emulator.endpoints}
        else:
            self.clock = RealClock()
        if {pump_cfg["driver"], scale_cfg["driver"]} & CAN_DRIVERS:
            self.can_hub = self._can_hub(self.config.section("can"))
        if pump_cfg["driver"] == "reference-can":
            self.pump = CanPumpDriver(self.can_hub)
        else:
            self.pump = ReferencePumpDriver(self._port(pump_cfg), baudrate=pump_cfg.get("baudrate", 115200),
                                            timeout_s=pump_cfg.get("timeout_s", 2.0))
        if scale_cfg["driver"] == "can-loadcell":
            self.scale = CanLoadCell(self.can_hub, self.clock.now, rate_hz=scale_cfg.get("rate_hz", 10.0))
        else:
            self.scale = MtSicsBalance(self._port(scale_cfg), self.clock.now, baudrate=scale_cfg.get("baudrate", 9600),
                                       timeout_s=scale_cfg.get("timeout_s", 2.0))
        self.identities["pump"] = vars(self.pump.identify())
        self.identities["scale"] = self.scale.identify()
        lost_cfg = self.config.data.get("lost_scale")
        if lost_cfg:
            self.lost_scale = MtSicsBalance(self._port(lost_cfg), self.clock.now, baudrate=lost_cfg.get("baudrate", 9600),
                                            timeout_s=lost_cfg.get("timeout_s", 2.0))
            self.identities["lost_scale"] = self.lost_scale.identify()
        for device, identity in self.identities.items():
            narrative.info("%s: %s", device, ", ".join(f"{key} {value}" for key, value in identity.items()))
        actuators = self.config.section("actuators")
        self.occlusion_valve = self._valve(actuators.get("occlusion_valve"))
        self.site_faults = self._site(actuators.get("site_faults"))

    def _valve(self, cfg: dict | None):
        if cfg is None:
            return None
        if cfg["driver"] == "emulator":
            if not self.control:
                raise RigError("occlusion valve driver 'emulator' needs clock: sim or rehearsal (the emulator)")
            return EmulatorValve(self.control)
        if cfg["driver"] == "relay-board":
            if "port" not in cfg or "channel" not in cfg:
                raise RigError("occlusion valve driver 'relay-board' needs 'port' and 'channel'")
            return RelayBoardValve(cfg["port"], cfg["channel"], baudrate=cfg.get("baudrate", 9600),
                                   timeout_s=cfg.get("timeout_s", 2.0))
        return OperatorPromptValve(timeout_s=cfg.get("timeout_s", 300.0))

    def _site(self, cfg: dict | None):
        if cfg is None:
            return None
        levels = {k: cfg[k] for k in ("partial_kink_factor", "leak_fraction") if k in cfg}
        if cfg["driver"] == "emulator":
            if not self.control:
                raise RigError("site fault driver 'emulator' needs clock: sim or rehearsal (the emulator)")
            return EmulatorSite(self.control)
        if cfg["driver"] == "relay-board":
            if "port" not in cfg or not cfg.get("channels"):
                raise RigError("site fault driver 'relay-board' needs 'port' and 'channels'")
            return RelayBoardSite(cfg["port"], cfg["channels"], baudrate=cfg.get("baudrate", 9600),
                                  timeout_s=cfg.get("timeout_s", 2.0), **levels)
        return OperatorPromptSite(timeout_s=cfg.get("timeout_s", 300.0), **levels)

    def begin_test(self, test_id: str) -> None:
        """Put the rig in its starting state for a test. On the emulator: a fresh pump and vessel, seeded
        from the rig seed and the test id, so a test's numbers do not depend on which tests ran before."""
        if self.broken:
            raise RigError(f"rig is broken: {self.broken}")
        if self.control:
            seed = int(self.config.section("emulator").get("seed", 1))
            digest = hashlib.sha256(f"{seed}:{test_id}".encode()).digest()
            self.control.reset(int.from_bytes(digest[:4], "big"))
            self.clock.resync()
            self.scale.reset()
            if self.lost_scale:
                self.lost_scale.reset()
        self.pump.stop()

    def _serial_lines(self) -> list:
        parts = (getattr(self.pump, "link", None), self.scale, self.lost_scale, self.occlusion_valve, self.site_faults)
        return [part.line for part in parts if getattr(part, "line", None) is not None]

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
            if self.pump is None:
                action = SafetyAction(reason, False, "no pump link was open")
            else:
                try:
                    self.pump.stop()
                    action = SafetyAction(reason, True, f"pump acknowledged STOP in {time.monotonic() - started:.2f} s")
                except Exception as exc:  # noqa: BLE001 - the stop must be attempted and its failure recorded
                    action = SafetyAction(reason, False, f"STOP not acknowledged: {exc}")
            if action.ok:
                narrative.info("make safe (%s): %s", reason, action.detail)
            else:
                log.error("make safe (%s): %s", reason, action.detail)
            self.safety_log.append(action)
            return action

    def close(self, reason: str) -> SafetyAction:
        """Make the pump safe, then close every link and stop the emulator; returns the STOP's outcome."""
        with abort.signals.shielded():
            action = self.make_safe(reason)
            for part in (self.pump, self.scale, self.lost_scale, self.control, self.can_hub,
                         getattr(self.occlusion_valve, "line", None), getattr(self.site_faults, "line", None)):
                if part is not None:
                    part.close()
            if self.emulator:
                self.emulator.stop()
            return action
