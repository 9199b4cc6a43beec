"""Night scenarios for virtual patients (fixtures/scenarios/nights/): what goes wrong in the evening, turned
into the pump programme and the patient change for one patient (a Programme: the bolus, if any, at bedtime)."""

from dataclasses import dataclass
from typing import TYPE_CHECKING

import yaml

from hil import project
from hil.patient.programme import Bolus, Programme, round_to

if TYPE_CHECKING:  # the model (simglucose, pandas, scipy) is not loaded to read a night file
    from hil.patient.uva_padova import VirtualPatient

NIGHTS = project.reference("scenarios", "nights")
KEYS = {"description", "basal_factor", "correction_bolus", "insulin_sensitivity_factor"}


class BadNightScenario(ValueError):
    pass


@dataclass(frozen=True)
class NightScenario:
    name: str
    description: str
    basal_factor: float = 1.0  # programmed basal / the patient's steady-state need
    correction_excess_mg_dl: float | None = None  # a correction bolus for a glucose this much above the true one
    correction_target_mg_dl: float = 110.0
    insulin_sensitivity_factor: float = 1.0


def load_night(name: str) -> NightScenario:
    path = NIGHTS / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in NIGHTS.glob("*.yaml")))
        raise BadNightScenario(f"{path}: no such night scenario (known: {known})")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    unknown = set(data) - KEYS
    if unknown:
        raise BadNightScenario(f"{path}: unknown keys {sorted(unknown)} (allowed: {sorted(KEYS)})")
    bolus = data.get("correction_bolus") or {}
    return NightScenario(
        name,
        data.get("description", ""),
        float(data.get("basal_factor", 1.0)),
        None if not bolus else float(bolus["glucose_entered_above_true_mg_dl"]),
        float(bolus.get("target_mg_dl", 110.0)),
        float(data.get("insulin_sensitivity_factor", 1.0)),
    )


def plan_for(scenario: NightScenario, patient: "VirtualPatient", increment_U: float) -> Programme:
    """The programme in the pump's increments (basal U/h and bolus U both in steps of increment_U)."""
    bolus = 0.0
    if scenario.correction_excess_mg_dl is not None:
        entered = patient.glucose_mg_dl + scenario.correction_excess_mg_dl
        bolus = max(0.0, (entered - scenario.correction_target_mg_dl) / patient.correction_factor_mg_dl_per_U)
    bolus = round_to(bolus, increment_U)
    return Programme(
        max(increment_U, round_to(patient.basal_U_per_h * scenario.basal_factor, increment_U)),
        (Bolus(0, bolus),) if bolus else (),
        insulin_sensitivity_factor=scenario.insulin_sensitivity_factor,
    )
