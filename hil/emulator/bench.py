"""The fluid path, the infusion site and the collecting vessels on their balance pans, integrated exactly
between events.

State: volume stored in the compliant line above the site's resting pressure V (µL), and per vessel the
indication of what has arrived (mg, after evaporation) and its balance's settled display y (mg). Between events
the system is linear:

    V' = −V/τf                  (outflow through the line and site, τf = R·kink·C)
    Mi' = si·k·V/τf − e         (si: the share of the outflow reaching vessel i, k: mg per µL, e: evaporation)
    yi' = (Mi − yi)/τb          (first-order balance settling)

which has a closed-form solution, so a stroke costs the same whether the next event is 2 s or 2 h away.

The site: the line rests at the tissue back-pressure; line pressure is that plus V/C. A kinked cannula
multiplies the resistance (a full kink blocks it). A leak at the connector diverts a share f of every stroke to
the "lost" vessel and, with that open path, leaves (1 − f) of the back-pressure; a dislodged cannula is f = 1.
On the bench the lost vessel is the second vessel behind a diverter valve, on its own balance. A closed
occlusion valve between the line and the site (the IEC 60601-2-24 set-up) stops the outflow; opening it
releases the stored volume with the same time constant.
"""

import math


class Vessel:
    """What arrives in one vessel and what its balance displays."""

    def __init__(self, tare_mg: float, evaporation_mg_per_s: float, settling_tau_s: float):
        self.indication_mg = tare_mg
        self.display_mg = tare_mg
        self.evaporation = evaporation_mg_per_s
        self.tau_b = settling_tau_s

    def settled(self, readability_mg: float) -> bool:
        return abs(self.indication_mg - self.display_mg) < readability_mg

    def advance(self, dt: float, inflow_mg: float, tau_f: float, exp_f: float) -> None:
        """dt of settling and evaporation while inflow_mg·(1 − e^(−t/τf)) arrives (inflow_mg = 0: none)."""
        e, tb = self.evaporation, self.tau_b
        if inflow_mg > 0 and math.isfinite(tau_f):
            if abs(tau_f - tb) < 1e-6 * tb:
                tb *= 1.000001
            a = self.indication_mg + inflow_mg
            c = inflow_mg * tau_f / (tau_f - tb)
            start = a + e * tb - c
            end = a - e * (dt - tb) - c * exp_f
            self.display_mg = end + (self.display_mg - start) * math.exp(-dt / tb)
            self.indication_mg = a - inflow_mg * exp_f - e * dt
        else:
            start = self.indication_mg + e * tb
            end = self.indication_mg - e * (dt - tb)
            self.display_mg = end + (self.display_mg - start) * math.exp(-dt / tb)
            self.indication_mg -= e * dt


class Bench:
    def __init__(
        self,
        *,
        compliance_uL_per_kPa: float,
        resistance_kPa_s_per_uL: float,
        settling_tau_s: float,
        indication_mg_per_uL: float,
        evaporation_mg_per_s: float,
        vessel_mg: float,
        tissue_pressure_kPa: float = 0.0,
    ):
        self.compliance = compliance_uL_per_kPa
        self.resistance = resistance_kPa_s_per_uL
        self.k = indication_mg_per_uL
        self.tissue_pressure_kPa = tissue_pressure_kPa
        self.stored_uL = 0.0
        self.arrived_uL = 0.0  # at the site (the patient vessel)
        self.lost_uL = 0.0  # through a leak or a dislodged cannula (the lost vessel)
        self.vessel = Vessel(vessel_mg, evaporation_mg_per_s, settling_tau_s)
        self.lost_vessel = Vessel(vessel_mg, evaporation_mg_per_s, settling_tau_s)
        self.valve_open = True
        self.kink_factor = 1.0  # resistance multiplier at the cannula; math.inf: fully kinked
        self.leak_fraction = 0.0  # share of the outflow lost; 1: dislodged

    # The patient vessel under its historical names (balance, load cell, tests).
    @property
    def indication_mg(self) -> float:
        return self.vessel.indication_mg

    @property
    def display_mg(self) -> float:
        return self.vessel.display_mg

    def settled(self, readability_mg: float) -> bool:
        return self.vessel.settled(readability_mg)

    @property
    def tau_f(self) -> float:
        if not self.valve_open or math.isinf(self.kink_factor):
            return math.inf
        return self.resistance * self.kink_factor * self.compliance

    @property
    def resting_pressure_kPa(self) -> float:
        """The pressure the line settles to: the tissue back-pressure, less what an open leak path takes."""
        return self.tissue_pressure_kPa * (1.0 - self.leak_fraction)

    @property
    def pressure_kPa(self) -> float:
        return self.resting_pressure_kPa + self.stored_uL / self.compliance

    def set_site(self, *, kink_factor: float = 1.0, leak_fraction: float = 0.0) -> None:
        """Change the site; the fluid in the line stays where it is, so V moves by C·Δ(resting pressure)."""
        before = self.resting_pressure_kPa
        self.kink_factor, self.leak_fraction = kink_factor, leak_fraction
        self.stored_uL += (before - self.resting_pressure_kPa) * self.compliance

    def push(self, volume_uL: float) -> None:
        """A pump stroke: volume forced into the line."""
        self.stored_uL += volume_uL

    def retract(self, volume_uL: float) -> float:
        """The plunger backs off: fluid drawn back from the line, at most what it holds above rest; returns that."""
        taken = min(self.stored_uL, volume_uL)
        self.stored_uL -= taken
        return taken

    def advance(self, dt: float) -> None:
        if dt <= 0:
            return
        tf = self.tau_f
        flowing = math.isfinite(tf) and self.stored_uL > 0
        exp_f = math.exp(-dt / tf) if flowing else 1.0
        out = self.stored_uL * (1 - exp_f) if flowing else 0.0
        lost_share = self.leak_fraction if flowing else 0.0
        self.vessel.advance(dt, self.k * self.stored_uL * (1 - lost_share) if flowing else 0.0, tf, exp_f)
        self.lost_vessel.advance(dt, self.k * self.stored_uL * lost_share, tf, exp_f)
        self.stored_uL -= out
        self.arrived_uL += out * (1 - lost_share)
        self.lost_uL += out * lost_share
