"""How a rig comes up around its drivers, starts each test and goes down: its strategy (labgrid's Strategy is the
model). What differs between a bench, the emulator in lockstep, a rehearsal against the emulator running free and a
rig on a labgrid place lives here, chosen once from the rig file; the Rig connects the drivers and makes the pump
safe the same way on all of them.

- Bench: real time, nothing to start, nothing to reset between tests.
- Emulated: the emulator (a process of its own, or the one at the rig's labgrid place, over its exported control
  port); its clock is the emulator's in lockstep (clock: sim) or running free at `speed` (clock: rehearsal); before
  each test, unless `reset_per_test` is off, a fresh pump and vessel seeded from the rig seed and the test id.
- OnPlace: either of them on a labgrid place: the place `hil verify` holds for the run, else acquired here and given
  back on the way down, but only once the pump's STOP was acknowledged."""

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from hil.drivers.emulator_control import EmulatorControl
from hil.rig import lab
from hil.rig.clock import Clock, RealClock, SimClock
from hil.rig.config import RigConfig
from hil.rig.emulator_process import EmulatorProcess
from hil.run_log import narrative

log = logging.getLogger(__name__)
SERIAL_ENDPOINTS = ("pump", "balance", "balance-lost")  # the emulator's ptys a driver's SerialLine may open


class Strategy:
    """A bench's: real time, and nothing else to do."""

    @property
    def control(self) -> EmulatorControl | None:
        """The emulator's control channel, on an emulated rig."""
        return None

    @property
    def emulator(self) -> EmulatorProcess | None:
        """The emulator this rig started (not one at a labgrid place)."""
        return None

    @property
    def acquisition(self) -> lab.Acquisition | None:
        """The labgrid place the rig is on."""
        return None

    def open(self, acquisition: lab.Acquisition | None = None) -> Clock:
        """Bring up what the drivers connect to; the rig's clock."""
        return RealClock()

    def begin_test(self, test_id: str, after_reset: Callable[[], None]) -> None:
        """Before each test (after the rig's own checks); after_reset: what the rig does after an emulator RESET
        (its clock resynchronised, its balances' state forgotten)."""

    def close(self, pump_stopped: bool) -> None:
        """After the pump was made safe and the drivers closed; pump_stopped: its STOP was acknowledged (or no
        pump link was ever open)."""


@dataclass
class Emulated(Strategy):
    config: RigConfig
    _control: EmulatorControl | None = None
    _emulator: EmulatorProcess | None = None

    @property
    def control(self) -> EmulatorControl | None:
        return self._control

    @property
    def emulator(self) -> EmulatorProcess | None:
        return self._emulator

    def open(self, acquisition: lab.Acquisition | None = None) -> Clock:
        if acquisition is not None:  # the place's emulator at the bench, over its exported port
            place = self.config.section("labgrid")
            control = EmulatorControl(acquisition.url(lab.LAB_PORT + place["emulator_control"]))
        else:
            module = self.config.section("emulator").get("module", "hil.emulator")
            self._emulator = EmulatorProcess(self.config.path, module)
            control = EmulatorControl(self._emulator.endpoints["control"])
            if not self.config.rehearsal:  # in lockstep, its serial endpoints' bytes counted (SimClock.pipelined)
                control.watch({name: self._emulator.endpoints[name] for name in SERIAL_ENDPOINTS})
        self._control = control
        if self.config.rehearsal:
            return RealClock(self.config.speed, origin=control.now())
        return SimClock(control)

    def begin_test(self, test_id: str, after_reset: Callable[[], None]) -> None:
        emulator = self.config.section("emulator")
        if self._control is None or not emulator.get("reset_per_test", True):
            return
        seed = int(emulator.get("seed", 1))
        digest = hashlib.sha256(f"{seed}:{test_id}".encode()).digest()
        self._control.reset(int.from_bytes(digest[:4], "big"))
        after_reset()

    def close(self, pump_stopped: bool) -> None:
        if self._control is not None:
            self._control.close()
        if self._emulator:
            self._emulator.stop()


@dataclass
class OnPlace(Strategy):
    inner: Strategy
    coordinator: str
    place: str
    _acquisition: lab.Acquisition | None = None
    acquired_here: bool = False  # this rig acquired the place (not `hil verify` for it): it gives it back

    @property
    def control(self) -> EmulatorControl | None:
        return self.inner.control

    @property
    def emulator(self) -> EmulatorProcess | None:
        return self.inner.emulator

    @property
    def acquisition(self) -> lab.Acquisition | None:
        return self._acquisition

    def open(self, acquisition: lab.Acquisition | None = None) -> Clock:
        held = lab.Acquisition.from_env(self.coordinator, self.place)  # the place `hil verify` holds for the run
        if held is None:
            held = lab.acquire(self.coordinator, self.place)
            self.acquired_here = True
        self._acquisition = held
        narrative.info("labgrid: place %s of %s, held by %s", self.place, self.coordinator, held.holder)
        return self.inner.open(held)

    def begin_test(self, test_id: str, after_reset: Callable[[], None]) -> None:
        self.inner.begin_test(test_id, after_reset)

    def close(self, pump_stopped: bool) -> None:
        self.inner.close(pump_stopped)
        if self._acquisition is None or not self.acquired_here:
            return
        if not pump_stopped:
            log.error("labgrid place %s kept acquired: the pump's STOP was not acknowledged", self.place)
            return
        try:
            lab.release(self._acquisition)
        except lab.LabError as exc:
            log.error("labgrid place %s not released: %s", self.place, exc)


def strategy_of(config: RigConfig) -> Strategy:
    """The rig file's strategy: emulated or a bench, on its labgrid place when it names one."""
    strategy = Emulated(config) if config.emulated else Strategy()
    place = config.section("labgrid")
    return OnPlace(strategy, place["coordinator"], place["place"]) if place else strategy
