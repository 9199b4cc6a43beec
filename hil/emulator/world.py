"""The emulated rig: pump, fluid path, vessel and balance on one simulated clock, built per seed.

The pump is the reference firmware (hil/emulator/pump.py) on the plant's scheduler, or a firmware process of its own
on the plant channel (hil/emulator/firmware_link.py) when the rig names one: then the plant moves to each of its
messages' times in turn, and the reference pump is not built."""

import math
from collections.abc import Callable

import numpy as np

from hil.emulation.options import BalanceFault, BalanceParams, EmulatorConfig
from hil.emulator.balance import EmulatedMtSicsBalance
from hil.emulator.bench import Bench, Vessel
from hil.emulator.firmware_link import FirmwareLink
from hil.emulator.fluid_properties import balance_indication_mg_per_uL
from hil.emulator.loadcell import EmulatedLoadCell
from hil.emulator.pump import EmulatedPump
from hil.emulator.sbi_balance import EmulatedSbiBalance
from hil.emulator.scheduler import Scheduler
from hil.emulator.seeding import streams
from hil.emulator.weighing import WeighingModel

FRONT_ENDS = {"mt-sics": EmulatedMtSicsBalance, "sbi": EmulatedSbiBalance}  # BalanceParams.protocol


class World:
    def __init__(
        self,
        config: EmulatorConfig,
        emit_pump_event: Callable[[str, dict], None],
        emit_balance_line: Callable[[str], None],
        transmit_pump_bytes: Callable[[bytes, float], None] = lambda data, t: None,
    ):
        self.config = config
        self._emit_pump_event = emit_pump_event
        self._emit_balance_line = emit_balance_line
        self.scheduler = Scheduler()
        self._periodic: list[tuple[float, Callable[[], None]]] = []
        self._next_line_s = math.inf  # when the streaming balance sends its next line
        self.pump: EmulatedPump | None = None  # the reference firmware; None when the rig names a firmware process
        self.firmware: FirmwareLink | None = None
        if config.firmware:
            now = lambda: self.scheduler.now  # noqa: E731 - the scheduler is replaced on every reset
            self.firmware = FirmwareLink(config.firmware, lambda: self.bench, now, self.run_to, transmit_pump_bytes)
        self.reset(config.seed)

    def every(self, interval_s: float, action: Callable[[], None]) -> None:
        """Run `action` every interval of simulated time, across resets."""
        self._periodic.append((interval_s, action))
        self._schedule_periodic(interval_s, action)

    def _schedule_periodic(self, interval_s: float, action: Callable[[], None]) -> None:
        def fire():
            action()
            self.scheduler.at(self.scheduler.now + interval_s, fire)

        self.scheduler.at(self.scheduler.now + interval_s, fire)

    def reset(self, seed: int) -> None:
        """A fresh pump (new reservoir), an empty vessel and a new balance state; time runs on."""
        c = self.config
        pump_rng, balance_rng, loadcell_rng, lost_balance_rng, sensor_rng = streams(seed)
        env = c.environment
        rel_humidity = env.humidity_pct / 100.0
        evaporation = c.vessel.open_evaporation_mg_per_h_at_50pct * (1 - rel_humidity) / 0.5
        if c.vessel.oil_layer:
            evaporation *= c.vessel.oil_evaporation_factor
        self.scheduler = Scheduler(self.scheduler.now)
        self.bench = Bench(
            compliance_uL_per_kPa=c.fluid_path.compliance_uL_per_kPa,
            resistance_kPa_s_per_uL=c.fluid_path.resistance_kPa_s_per_uL,
            settling_tau_s=c.balance.settling_tau_s,
            # The emulator's own physics (Kell water, CIPM-2007 air), never the harness's: see fluid_properties.
            indication_mg_per_uL=balance_indication_mg_per_uL(env.temperature_C, env.pressure_hPa, env.humidity_pct),
            evaporation_mg_per_s=evaporation / 3600.0,
            vessel_mg=c.vessel.tare_g * 1000.0,
            tissue_pressure_kPa=c.fluid_path.tissue_pressure_kPa,
        )
        self.balance = self._balance(c.balance, self.bench.vessel, balance_rng)
        self.lost_balance = self._balance(c.lost_balance, self.bench.lost_vessel, lost_balance_rng)
        self.loadcell = EmulatedLoadCell(c.loadcell, self.bench, loadcell_rng, lambda: self.scheduler.now)
        self._last_physics_t = self.scheduler.now
        if self.firmware:
            self.firmware.reset(seed)
        else:
            self.pump = EmulatedPump(
                c.pump, c.defects, self.bench, self.scheduler, pump_rng, self._emit_pump_event, sensor_rng, c.auto_mode
            )
        for interval_s, action in self._periodic:
            self._schedule_periodic(interval_s, action)

    def _balance(self, params: BalanceParams, vessel: Vessel, rng: np.random.Generator):
        """The weighing model of one vessel behind the front end of the balance's protocol (a decoupled balance
        weighs a vessel of its own that nothing fills)."""
        if params.fault is BalanceFault.DECOUPLED:
            vessel = Vessel(vessel.display_mg, 0.0, params.settling_tau_s)
        return FRONT_ENDS[params.protocol](WeighingModel(params, vessel, rng, lambda: self.scheduler.now))

    def _physics_to(self, t: float) -> None:
        self.bench.advance(t - self._last_physics_t)
        self._last_physics_t = t

    def advance(self, dt: float) -> None:
        target = self.scheduler.now + dt
        interval = self.config.balance.sir_interval_s
        self._next_line_s = self.scheduler.now + interval if self.balance.streaming else math.inf
        if self.firmware:
            self.firmware.run(target)
        self.run_to(target)

    def run_to(self, t: float) -> None:
        """The plant moved on to simulated time t: the streaming balance's lines due on the way sent, the scheduler's
        events fired."""
        while self._next_line_s <= t:
            self.scheduler.run_until(self._next_line_s, self._physics_to)
            line = self.balance.stream_reading()
            if line is None:
                self._next_line_s = math.inf
                break
            self._emit_balance_line(line)
            self._next_line_s += self.config.balance.sir_interval_s
        self.scheduler.run_until(t, self._physics_to)

    def inspect(self) -> dict[str, float]:
        """Ground truth for the emulator's own tests; the harness never asks for it."""
        return {
            "t": self.scheduler.now,
            "arrived_uL": self.bench.arrived_uL,
            "lost_uL": self.bench.lost_uL,
            "stored_uL": self.bench.stored_uL,
            "pressure_kPa": self.bench.pressure_kPa,
            "indication_mg": self.bench.indication_mg,
            "valve_open": float(self.bench.valve_open),
            "kink_factor": self.bench.kink_factor,
            "leak_fraction": self.bench.leak_fraction,
        }
