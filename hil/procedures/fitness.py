"""What the rig's balance can resolve, known before anything is weighed: the expanded uncertainty each weighed
bound of a requirement will have on this rig (the balance's readability and repeatability, the evaporation
correction), from the requirement's case and the rig file alone. The tests check it before recording
(TestEvidence.fitness: a test uncertainty ratio below the requirement's min_tur is INCONCLUSIVE before days of
recording); `hil rig check` shows it for every selected requirement before a campaign."""

from hil.analysis import dose_metrics
from hil.procedures.gravimetric import Gravimetry
from hil.specs.model import Requirement


def predicted_uncertainty(requirement: Requirement, grav: Gravimetry) -> dict[str, float]:
    """Bound name → the expanded uncertainty (k = 2) its measurement will have on this rig; empty for a method
    whose bounds are not weighed (alarm times, states, priorities)."""
    case = requirement.case
    match requirement.method:
        case "basal-gravimetric":
            return {
                "overall_error": dose_metrics.overall_error_uncertainty_pct(
                    grav.u_amount_U, case["basal_rate_U_per_h"], case["analysis_h"] * 3600.0
                )
            }
        case "bolus-gravimetric":
            return {
                "bolus_mean_error": dose_metrics.bolus_mean_error_uncertainty_pct(
                    grav.u_difference_U(), case["bolus_U"], case["count"]
                )
            }
        case "bolus-timing":
            nominal_s = case["bolus_U"] / case["speed_U_per_min"] * 60.0
            return {
                "bolus_duration_error": dose_metrics.bolus_duration_uncertainty_pct(
                    case["sample_interval_s"], nominal_s
                )
            }
        case "cgm-scenario":  # the hour after a resume, weighed as the difference of two readings
            rate = case["basal_rate_U_per_h"]
            return {"basal_error_after_resume": 100.0 * 2 * grav.u_amount_U(3600.0, rate) / rate}
    return {}
