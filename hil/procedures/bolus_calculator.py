"""The bolus calculator asked for advice (which delivers nothing): its settings set and shown taken; no insulin on
board (a washout with nothing delivered), or a bolus's, weighed and recorded; a glucose entered or the CGM's value,
fresh and then stale. The advice is held against the label's equations by the suite
(hil.analysis.bolus_calculator)."""

from dataclasses import dataclass

from hil.drivers.contracts import BolusAdvice, CalculatorSettings
from hil.errors import DeviceRefused, StartingStateError
from hil.evidence.recording import CsvRecording
from hil.procedures import delivery
from hil.procedures.delivery import Mark
from hil.rig.rig import Rig
from hil.specs.methods import CalculatorAdvice, CalculatorCase, CalculatorCgm, CalculatorIob


def configure(rig: Rig, case: CalculatorCase) -> CalculatorSettings:
    """The case's settings set; StartingStateError unless the pump confirms them."""
    settings = CalculatorSettings(
        case.carb_ratio_g_per_U, case.correction_factor_mg_dl_per_U, case.correction_target_mg_dl
    )
    confirmed = rig.pump.configure_calculator(settings)
    if confirmed != settings:
        raise StartingStateError(f"pump: calculator settings {settings} sent, {confirmed} confirmed")
    return settings


# one row an advice asked, or a settled mark around a bolus (its reading and the pump's count)
RECORDING_COLUMNS = [
    "t_s",
    "asked",
    "carbs_g",
    "glucose_entered_mg_dl",
    "use_cgm",
    "advised_U",
    "iob_U",
    "glucose_used_mg_dl",
    "mass_mg",
    "pump_delivered_U",
]


def asked(
    rig: Rig, raw: CsvRecording, what: str, carbs_g: int, glucose_mg_dl: int | None = None, use_cgm: bool = False
) -> BolusAdvice:
    """The calculator's advice, written to the recording as it comes."""
    advice = rig.pump.bolus_advice(carbs_g, glucose_mg_dl, use_cgm)
    raw.append(
        f"{rig.clock.now():.3f}",
        what,
        carbs_g,
        "" if glucose_mg_dl is None else glucose_mg_dl,
        int(use_cgm),
        f"{advice.total_U:.3f}",
        f"{advice.iob_U:.3f}",
        "" if advice.glucose_mg_dl is None else f"{advice.glucose_mg_dl:g}",
        "",
        "",
    )
    return advice


# How much insulin on board a pump may still count after the washout and be taken for none (its 0.01 U on CAN)
WASHED_OUT_U = 0.01


def _wash_out(rig: Rig, case: CalculatorAdvice, raw: CsvRecording) -> None:
    """Nothing delivered for `washout_h` (the pump stopped, as the starting state leaves it); StartingStateError when
    the pump's calculator still counts insulin on board then (the case's premise, no insulin on board, not met)."""
    rig.pump.stop()
    rig.clock.sleep(case.washout_h * 3600.0)
    counted = asked(rig, raw, "after the washout: the insulin on board", 0, case.glucose_mg_dl).iob_U
    if abs(counted) > WASHED_OUT_U:
        raise StartingStateError(
            f"pump: its calculator counts {counted:.3f} U on board after {case.washout_h:g} h with nothing delivered"
        )


def washed_out_advice(rig: Rig, case: CalculatorAdvice, raw: CsvRecording) -> BolusAdvice:
    """The washout, then the advice."""
    _wash_out(rig, case, raw)
    return asked(rig, raw, "the advice", case.carbs_g, case.glucose_mg_dl)


@dataclass(frozen=True)
class IobRun:
    before: Mark  # settled, before the bolus
    after: Mark  # settled, after it
    middle_s: float  # rig time of the bolus's middle (its command and half its nominal duration)
    advice: BolusAdvice
    advised_s: float


def advice_after_bolus(rig: Rig, case: CalculatorIob, raw: CsvRecording) -> IobRun:
    """From the prepared pump: the washout, a bolus of `bolus_U` between settled marks, and the advice `after_min`
    after its middle; the pump stopped."""
    _wash_out(rig, case, raw)
    rig.pump.set_basal(0.0)
    rig.pump.resume()
    before = _marked(rig, raw, "before the bolus")
    commanded_s = rig.clock.now()
    nominal_s = rig.pump.bolus(case.bolus_U)
    delivery.wait_until_idle(rig, nominal_s, f"bolus of {case.bolus_U:g} U")
    rig.clock.sleep(case.settle_s)
    after = _marked(rig, raw, "after the bolus")
    middle_s = commanded_s + nominal_s / 2.0
    rig.clock.sleep_until(max(rig.clock.now(), middle_s + case.after_min * 60.0))
    advised_s = rig.clock.now()
    advice = asked(rig, raw, "the advice", case.carbs_g, case.glucose_mg_dl)
    rig.pump.stop()
    return IobRun(before, after, middle_s, advice, advised_s)


def _marked(rig: Rig, raw: CsvRecording, what: str) -> Mark:
    """A settled mark, written to the recording."""
    mark = delivery.settled_mark(rig)
    raw.append(f"{mark.t:.3f}", what, "", "", "", "", "", "", f"{mark.mass_mg:.5f}", f"{mark.recorded_U:.3f}")
    return mark


LATE_VALUE_STEP_MG_DL = 40  # the late value's glucose above the first one's: its own value, not the held one again


@dataclass(frozen=True)
class CgmRun:
    fresh: BolusAdvice
    stale: dict[str, BolusAdvice | str]  # what was asked → the advice, or the pump's refusal


def cgm_advice(rig: Rig, case: CalculatorCgm, raw: CsvRecording) -> CgmRun:
    """A CGM value sent as taken `fresh_age_s` ago and the advice with the CGM's value; the same advice once the value
    is `beyond_min` older than the `max_age_min` the pump claims; then a value sent as taken that long ago, and the
    advice at once. A pump may refuse advice from a stale value (NOT_ALLOWED, BAD_ARGUMENT: Omnipod 5 disables USE CGM
    without a valid value): its refusal is kept as its answer."""
    rig.pump.cgm_input(case.cgm_mg_dl, 0.0, case.fresh_age_s)
    taken_s = rig.clock.now() - case.fresh_age_s
    fresh = asked(rig, raw, "a fresh value", case.carbs_g, use_cgm=True)
    stale_s = (case.max_age_min + case.beyond_min) * 60.0
    rig.clock.sleep_until(max(rig.clock.now(), taken_s + stale_s))
    aged = f"{stale_s / 60:g} min after the CGM took it"
    stale = {aged: _stale_advice(rig, case, raw, aged)}
    # a later value of another glucose, sent late: taken after the one held, already past the claimed age
    late_s = (case.max_age_min + case.beyond_min / 2.0) * 60.0
    late_mg_dl = case.cgm_mg_dl + LATE_VALUE_STEP_MG_DL
    late = f"a value of {late_mg_dl} mg/dL sent as taken {late_s / 60:g} min before"
    try:
        rig.pump.cgm_input(late_mg_dl, 0.0, late_s)
    except DeviceRefused as exc:
        if exc.code not in ("NOT_ALLOWED", "BAD_ARGUMENT"):
            raise
        stale[late] = f"the value refused ({exc.code})"
    else:
        stale[late] = _stale_advice(rig, case, raw, late)
    return CgmRun(fresh, stale)


def _stale_advice(rig: Rig, case: CalculatorCgm, raw: CsvRecording, what: str) -> BolusAdvice | str:
    try:
        return asked(rig, raw, what, case.carbs_g, use_cgm=True)
    except DeviceRefused as exc:
        if exc.code not in ("NOT_ALLOWED", "BAD_ARGUMENT"):
            raise
        return f"refused ({exc.code})"
