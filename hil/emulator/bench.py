"""The fluid path and the collecting vessel on the balance pan, integrated exactly between events.

State: volume stored in the compliant line V (µL), indication of what has arrived in the vessel M (mg,
after evaporation) and the balance's settled display y (mg). Between events the system is linear:

    V' = −V/τf                 (outflow through the line, τf = R·C)
    M' = k·V/τf − e            (k: indication per µL of water, e: evaporation in mg/s)
    y' = (M − y)/τb            (first-order balance settling)

which has a closed-form solution, so a stroke costs the same whether the next event is 2 s or 2 h away.
Pressure in the line is V/C. A closed occlusion valve between the line and the vessel (the IEC 60601-2-24
set-up) stops the outflow; opening it releases the stored volume with the same time constant.
"""

import math


class Bench:
    def __init__(self, *, compliance_uL_per_kPa: float, resistance_kPa_s_per_uL: float, settling_tau_s: float,
                 indication_mg_per_uL: float, evaporation_mg_per_s: float, vessel_mg: float):
        self.compliance = compliance_uL_per_kPa
        self.resistance = resistance_kPa_s_per_uL
        self.tau_b = settling_tau_s
        self.k = indication_mg_per_uL
        self.evaporation = evaporation_mg_per_s
        self.stored_uL = 0.0
        self.arrived_uL = 0.0
        self.indication_mg = vessel_mg
        self.display_mg = vessel_mg
        self.valve_open = True

    @property
    def tau_f(self) -> float:
        return self.resistance * self.compliance if self.valve_open else math.inf

    @property
    def pressure_kPa(self) -> float:
        return self.stored_uL / self.compliance

    def push(self, volume_uL: float) -> None:
        """A pump stroke: volume forced into the line."""
        self.stored_uL += volume_uL

    def retract(self, volume_uL: float) -> float:
        """The plunger backs off: fluid drawn back from the line, at most what it holds; returns that."""
        taken = min(self.stored_uL, volume_uL)
        self.stored_uL -= taken
        return taken

    def settled(self, readability_mg: float) -> bool:
        return abs(self.indication_mg - self.display_mg) < readability_mg

    def advance(self, dt: float) -> None:
        if dt <= 0:
            return
        e, tb = self.evaporation, self.tau_b
        tf = self.tau_f
        if math.isfinite(tf) and self.stored_uL > 0:
            if abs(tf - tb) < 1e-6 * tb:
                tb *= 1.000001
            exp_f = math.exp(-dt / tf)
            b = self.k * self.stored_uL
            a = self.indication_mg + b
            c = b * tf / (tf - tb)
            start = a + e * tb - c
            end = a - e * (dt - tb) - c * exp_f
            self.display_mg = end + (self.display_mg - start) * math.exp(-dt / tb)
            self.indication_mg = a - b * exp_f - e * dt
            out = self.stored_uL * (1 - exp_f)
            self.stored_uL -= out
            self.arrived_uL += out
        else:
            start = self.indication_mg + e * tb
            end = self.indication_mg - e * (dt - tb)
            self.display_mg = end + (self.display_mg - start) * math.exp(-dt / tb)
            self.indication_mg -= e * dt
