"""What the rig's balance can resolve, known before anything is weighed: for each weighed bound of a requirement,
the value an exact pump would give and the expanded uncertainty the measurement will have on this rig (the
balance's readability and repeatability, the evaporation correction), from the requirement's case and the rig
file alone. The tests check it before recording (TestEvidence.fitness: a test uncertainty ratio below the
requirement's min_tur is INCONCLUSIVE before days of recording); `hil rig check` shows it for every selected
requirement before a campaign, with the balance that would resolve a bound this one cannot."""

import math
from dataclasses import dataclass

import numpy as np

from hil.analysis import dose_metrics, windows
from hil.analysis.metric import measurement_name
from hil.evidence.measurements import PASS, measurement
from hil.procedures.gravimetric import Gravimetry
from hil.specs import methods
from hil.specs.model import Bound, Requirement


@dataclass(frozen=True)
class Prediction:
    """A weighed bound's measurement as this rig will take it from a pump that delivers exactly as programmed (and
    nothing where it must deliver nothing): its value, and its expanded uncertainty (k = 2) in the bound's unit."""

    exact: float
    U: float


def predictions(requirement: Requirement, grav: Gravimetry) -> dict[str, Prediction]:
    """Bound name → its prediction, for every bound the balance measures whose exact value the case states; empty
    for a method whose bounds are not weighed (alarm times, states, priorities). Stroke counts and the automatic
    modes' weighed rates are not predicted: they rest on the pump's stroke volume and its own decisions."""
    case = requirement.case
    match case:
        case methods.BasalGravimetric():
            return _basal(case, grav)
        case methods.BolusGravimetric():
            return _bolus(case, grav)
        case methods.BolusTiming():
            nominal_s = case.bolus_U / case.speed_U_per_min * 60.0
            return {
                "bolus_duration_error": Prediction(
                    0.0, dose_metrics.bolus_duration_uncertainty_pct(case.sample_interval_s, nominal_s)
                )
            }
        case methods.CgmScenario():  # the hour after a resume, weighed as the difference of two readings
            rate = case.basal_rate_U_per_h
            return {
                "basal_error_after_resume": Prediction(0.0, 100.0 * 2 * grav.u_amount_U(3600.0, rate) / rate),
                # at least one weighed difference: the suspension's own evaporation correction adds to it
                "delivered_while_suspended": Prediction(0.0, 2 * grav.u_difference_U()),
            }
        case methods.OcclusionBasal() | methods.OcclusionBolus():  # weighed differences; an exact pump releases nothing
            return {name: Prediction(0.0, 2 * grav.u_difference_U()) for name in ("released_volume", "missed_at_alarm")}
    return {}


def predicted_uncertainty(requirement: Requirement, grav: Gravimetry) -> dict[str, float]:
    """Bound name → the expanded uncertainty (k = 2) its measurement will have on this rig."""
    return {name: p.U for name, p in predictions(requirement, grav).items()}


def _basal(case: methods.BasalGravimetric, grav: Gravimetry) -> dict[str, Prediction]:
    rate, analysis_h = case.basal_rate_U_per_h, case.analysis_h
    out = {
        "overall_error": Prediction(
            0.0, dose_metrics.overall_error_uncertainty_pct(grav.u_amount_U, rate, analysis_h * 3600.0)
        ),
        "record_disagreement": Prediction(
            0.0, 100.0 * 2 * grav.u_amount_U(analysis_h * 3600.0, rate * analysis_h) / (rate * analysis_h)
        ),
    }
    for window_h in case.window_h:
        expected = rate * window_h
        U = 2 * grav.u_amount_U(window_h * 3600.0, expected)
        p = {"window_h": window_h}
        out[measurement_name("window_delivered_min", p)] = Prediction(expected, U)
        out[measurement_name("window_delivered_max", p)] = Prediction(expected, U)
        exact_errors = np.zeros(int(analysis_h // window_h))
        share_U = windows.share_within_uncertainty(exact_errors, case.band_pct, 100.0 * U / expected)
        out[measurement_name("window_share_within", p | {"band_pct": case.band_pct})] = Prediction(100.0, share_U)
    for window_min in case.trumpet_windows_min:
        expected = rate * window_min / 60.0
        U_pct = 100.0 * 2 * grav.u_amount_U(window_min * 60.0, expected) / expected
        for metric in ("trumpet_ep_max", "trumpet_ep_min"):
            out[measurement_name(metric, {"window_min": window_min})] = Prediction(0.0, U_pct)
    return out


def _bolus(case: methods.BolusGravimetric, grav: Gravimetry) -> dict[str, Prediction]:
    amount, count, u_difference = case.bolus_U, case.count, grav.u_difference_U()
    share_U = windows.share_within_uncertainty(np.zeros(count), case.band_pct, 100.0 * 2 * u_difference / amount)
    return {
        "bolus_mean_error": Prediction(0.0, dose_metrics.bolus_mean_error_uncertainty_pct(u_difference, amount, count)),
        "bolus_min": Prediction(amount, 2 * u_difference),
        "bolus_max": Prediction(amount, 2 * u_difference),
        measurement_name("bolus_share_within", {"band_pct": case.band_pct}): Prediction(100.0, share_U),
        # the run's total: count independent weighed differences, against the pump's record of count × amount
        "record_disagreement": Prediction(0.0, 100.0 * 2 * math.sqrt(count) * u_difference / (amount * count)),
    }


def resolves(bound: Bound, prediction: Prediction) -> bool:
    """Whether this rig can PASS an exact pump on the bound: its value ± U inside the limits (the guard band) and,
    for a two-sided bound, the test uncertainty ratio at least the requirement file's min_tur."""
    judged = measurement(
        bound.name, prediction.exact, bound.unit, bound.min, bound.max, prediction.U, bound.source, bound.min_tur
    )
    return judged.outcome == PASS


def balance_needed(requirement: Requirement, bound: Bound, grav: Gravimetry) -> tuple[float, float] | None:
    """The coarsest balance of this one's proportions, (readability, repeatability) in mg, on which the bound is
    resolved (`resolves`), found by bisection on the scale factor; None when no balance resolves it (the rest of the
    budget, the evaporation correction and the water temperature, is already too large)."""

    def fits(factor: float) -> bool:
        finer = grav.with_balance(grav.readability_mg * factor, grav.repeatability_mg * factor)
        return resolves(bound, predictions(requirement, finer)[bound.name])

    if not fits(0.0):
        return None
    low, high = 0.0, 1.0  # fits(low); the balance as it is (factor 1), whose bound this is asked for, does not
    for _ in range(40):
        middle = (low + high) / 2.0
        low, high = (middle, high) if fits(middle) else (low, middle)
    return grav.readability_mg * low, grav.repeatability_mg * low
