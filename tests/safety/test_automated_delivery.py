"""Automated insulin delivery suite. Open loop: the pump in auto mode, the harness the CGM feed (a scenario from
fixtures/scenarios/auto-*.yaml, one value every interval on the rig clock, over the pump's own link), the balance
weighs what really left the pump. The harness predicts glucose as the published rules do
(hil.analysis.suspend_rules: the value plus 30 min of the CGM's trend) and counts the insulin on board from the
weighed insulin (hil.analysis.insulin_on_board), never from the pump's word; the pump's decisions (its AutoBasal and
AutoBolus events) are judged against those and against the weighed delivery. Closed loop: virtual patients live days
of meals through the rig, with and without auto mode (hil.procedures.closed_loop). Every limit and setting comes
from specs/automated-delivery.yaml."""

import math

import numpy as np
import pytest

from hil.analysis import automatic_insulin, dose_metrics, glycemia, insulin_on_board, suspend_rules
from hil.analysis.metric import Metric
from hil.drivers.contracts import (
    Alarm,
    AlarmKind,
    AutoBasal,
    AutoBolus,
    AutoExit,
    AutoExitReason,
    AutoSettings,
    AutoZone,
    Capability,
    Priority,
    seen_as,
)
from hil.evidence import plots
from hil.patient.days import load_day
from hil.patient.uva_padova import VirtualPatient
from hil.procedures import closed_loop, delivery
from hil.procedures.cgm import RECORDING_COLUMNS, feed, load_scenario, record_span
from hil.procedures.gravimetric import Gravimetry

AUTO_REQUIREMENTS = (
    "AID-IOB-001",
    "AID-HOUR-001",
    "AID-CAP-001",
    "AID-LOW-001",
    "AID-LOW-002",
    "AID-BOLUS-001",
    "AID-CGM-001",
    "AID-STALE-001",
    "AID-WEIGH-001",
    "AID-CORR-001",
    "AID-CORR-002",
)
PRIORITY_RANK = {Priority.LOW: 1.0, Priority.MEDIUM: 2.0, Priority.HIGH: 3.0}
NAN = math.nan


@pytest.mark.requirements(*AUTO_REQUIREMENTS)
@pytest.mark.needs(Capability.CGM_INPUT, Capability.AUTO_MODE)
def test_auto_mode(rig, requirement, evidence):
    case = requirement.case
    scenario = load_scenario(case.scenario)
    evidence.attach_text(
        "scenario",
        f"{scenario.name}: {scenario.description}\nsent: {scenario.values}\n"
        f"noise-free: {scenario.truth}\nnoise seed: {scenario.noise_seed}",
    )
    grav = Gravimetry(rig.config)
    profile, isf = case.basal_rate_U_per_h, case.isf_mg_dl_per_U
    delivery.prepare(rig)
    delivery.start_basal(rig, profile)
    rig.pump.configure_auto(AutoSettings(case.target_mg_dl, isf, case.max_basal_U_per_h, case.max_iob_U))
    rig.pump.auto_mode(True)
    before = rig.scale.read()  # the automatic insulin counts from here, the user's bolus included in what is weighed
    user_bolus_end_pump_s, user_boluses = NAN, []
    if case.user_bolus_U is not None:  # the user's bolus just before the scenario
        started, pump_s = rig.clock.now(), rig.pump.pump_time()
        duration = rig.pump.bolus(case.user_bolus_U)
        user_bolus_end_pump_s = pump_s + duration
        user_boluses.append((started, case.user_bolus_U, duration))
    stale_from = _stale_from(case, scenario)
    ages = (
        None
        if stale_from is None
        else [0.0 if k < stale_from else case.stale_age_s for k in range(len(scenario.values))]
    )
    with evidence.recording("auto-mode scenario", RECORDING_COLUMNS) as raw:
        run = feed(rig, scenario, case.poll_s, raw, tail_s=case.tail_min * 60.0, ages_s=ages)
    rig.pump.auto_mode(False)

    t, mass = np.asarray([before.t, *run.t_s]), np.asarray([before.mass_mg, *run.mass_mg])
    cumulative = grav.cumulative_units(t, mass)
    automatic = automatic_insulin.automatic_cumulative(t, cumulative, profile, user_boluses)
    auto_iob = automatic_insulin.on_board(t, automatic)
    total_iob = insulin_on_board.net_iob(t, cumulative, profile)  # the user's bolus and the automatic insulin
    value_t = [v - run.value_t_s[0] for v in run.value_t_s]
    iob_at_values = np.interp(run.value_t_s, t, total_iob)
    stated = automatic_insulin.stated_predictions(
        suspend_rules.predictions(value_t, scenario.values), scenario.values, iob_at_values, isf
    )
    truth = automatic_insulin.stated_predictions(
        suspend_rules.predictions(value_t, scenario.truth), scenario.truth, iob_at_values, isf
    )
    decisions = [seen for seen in run.events if seen_as(seen, AutoBasal)]
    corrections = [seen for seen in run.events if seen_as(seen, AutoBolus)]
    fresh = [k for k, g in enumerate(scenario.values) if g is not None and (stale_from is None or k < stale_from)]
    last_fresh_pump_s = run.value_pump_t_s[fresh[-1]] if fresh else NAN
    fallback = next((seen for seen in decisions if seen.event.zone is AutoZone.CGM_LOST), None)
    exit_ = next(
        (seen for seen in run.events if seen_as(seen, AutoExit) and seen.event.reason is AutoExitReason.CGM_LOST), None
    )
    alert = next(
        (seen for seen in run.events if seen_as(seen, Alarm) and seen.event.kind is AlarmKind.AUTO_CGM_LOST), None
    )
    settle = case.settle_s
    amount_u = 2.0 * grav.u_amount_U(t[-1] - t[0], float(np.max(np.abs(automatic))))

    metrics = {
        "auto_iob_max": Metric(float(np.max(auto_iob)), "U", amount_u),
        "auto_rate_max": Metric(max([profile] + [s.event.rate_U_per_h for s in decisions]), "U/h", 0.0),
        "cgm_lost_fallback": Metric(float(fallback is not None), "bool", 0.0),
        "cgm_lost_fallback_after": Metric((fallback.event.at_s - last_fresh_pump_s) / 60.0 if fallback else NAN, "min", 0.0),
        "auto_alert_priority_rank": Metric(PRIORITY_RANK[alert.event.priority] if alert else NAN, "rank", 0.0),
        "auto_exit_after": Metric((exit_.event.at_s - last_fresh_pump_s) / 60.0 if exit_ else NAN, "min", 0.0),
        "correction_share_max": Metric(
            _correction_share_max(corrections, run, suspend_rules.predictions(value_t, scenario.values), case),
            "%",
            0.0,
        ),
        "correction_interval_min": Metric(_correction_interval_min(corrections, rig.pump.pump_time()), "min", 0.0),
        "correction_after_user_bolus_min": Metric(
            (corrections[0].event.at_s - user_bolus_end_pump_s) / 60.0 if corrections else NAN,
            "min",
            0.0,
        ),
        "weighed_rate_after_fallback": _rate_over(grav, t, mass, fallback.seen_s + settle, 3600.0)
        if fallback
        else Metric(NAN, "U/h", 0.0),
        "commanded_vs_weighed_error": _commanded_vs_weighed(grav, t[1:], mass[1:], decisions, corrections, profile),
        "record_disagreement": dose_metrics.spans_record_disagreement([record_span(grav, run, profile)]),
    }
    for bound in requirement.acceptance:
        if bound.metric == "auto_insulin_max":
            window = bound.params["window_min"] * 60.0
            since = t >= t[0] + settle
            metrics[bound.name] = Metric(automatic_insulin.window_max(t[since], automatic[since], window)[0], "U", amount_u)
    if case.no_increase_below_mg_dl is not None:
        metrics |= _predicted_low(case, run, t, automatic, stated, truth, scenario.interval_s, decisions, corrections)
    if case.eventual_floor_mg_dl is not None:
        metrics |= _auto_boluses(case, run, t, total_iob, corrections, scenario)
    evidence.judge(requirement, metrics)
    steps = [(t[0], profile)] + [(s.seen_s, s.event.rate_U_per_h) for s in decisions]
    marks = {
        "automatic bolus": [s.seen_s for s in corrections],
        "fallback to the profile": [fallback.seen_s] if fallback else [],
    }
    evidence.attach_figure(
        "glucose, commanded and weighed basal, insulin on board",
        plots.auto_mode_figure,
        run.value_t_s,
        scenario.values,
        stated,
        steps,
        t,
        _smoothed_rate(cumulative, t),
        auto_iob,
        marks,
        f"{requirement.id}: {scenario.name}, profile {profile:g} U/h",
        requirement,
    )
    evidence.assert_pass()


def _predicted_low(case, run, t, automatic, stated, truth, interval_s, decisions, corrections) -> dict:
    """No automatic insulin beyond the profile while the harness's stated prediction is low: each value the pump
    was sent whose stated prediction is below the threshold (the device's, never below the floor) and whose
    noise-free prediction is below it by the noise margin too is judged on the automatic insulin weighed in its
    decision interval (from the line's settling after it, one interval long)."""
    low = max(case.no_increase_below_mg_dl, case.floor_mg_dl)
    judged = [
        p is not None and q is not None and p < low and q < low - case.noise_margin_mg_dl
        for p, q in zip(stated, truth, strict=True)
    ]
    worst, count = automatic_insulin.insulin_while_predicted_low(
        t, automatic, run.value_t_s, judged, case.settle_s, interval_s
    )
    # The pump's own decisions too: the rate in effect once it has decided on a judged value (half an interval on,
    # before its decision on the next value) above the profile, or an automatic bolus in that interval, however small:
    # the weighing of one interval (two strokes of tolerance) cannot tell an increase of a fraction of a stroke.
    profile = case.basal_rate_U_per_h
    rates = sorted((seen.seen_s, seen.event.rate_U_per_h) for seen in decisions)

    def rate_at(t_s: float) -> float:
        return next((rate for seen_s, rate in reversed(rates) if seen_s <= t_s), profile)

    raised = sum(
        1
        for k, judge in enumerate(judged)
        if judge
        and (
            rate_at(run.value_t_s[k] + interval_s / 2) > profile + 1e-9
            or any(run.value_t_s[k] <= c.seen_s < run.value_t_s[k] + interval_s for c in corrections)
        )
    )
    return {
        "auto_insulin_while_predicted_low": Metric(worst, "U", 0.0),
        "values_judged_predicted_low": Metric(float(count), "count", 0.0),
        "auto_increases_while_predicted_low": Metric(float(raised), "count", 0.0),
    }


def _auto_boluses(case, run, t, total_iob, corrections, scenario) -> dict:
    """Every automatic bolus judged by the overdose it could cause: the last value the pump had when it gave it, less
    the insulin on board (the user's and the automatic insulin, weighed) at its largest within one interval after,
    and never less than that on board when it began plus the whole bolus (a large one is still arriving after an
    interval), times the insulin sensitivity. No automatic bolus: nothing to fault (the count says so)."""
    eventual = []
    for seen in corrections:
        known = [g for g in scenario.values[: max(0, run.value_index_at(seen.seen_s)) + 1] if g is not None]
        after = (t >= seen.seen_s) & (t <= seen.seen_s + scenario.interval_s)
        weighed = float(np.max(total_iob[after])) if after.any() else float(total_iob[-1])
        iob = max(weighed, float(np.interp(seen.seen_s, t, total_iob)) + seen.event.amount_U)
        if known:
            eventual.append(automatic_insulin.naive_eventual(known[-1], iob, case.isf_mg_dl_per_U))
    return {
        "auto_boluses_eventual_below_floor": Metric(
            float(sum(e < case.eventual_floor_mg_dl for e in eventual)),
            "count",
            0.0,
        ),
        "auto_bolus_count": Metric(float(len(corrections)), "count", 0.0),
        "auto_bolus_eventual_min": Metric(min(eventual) if eventual else NAN, "mg/dL", 0.0),
    }


def _correction_share_max(corrections, run, trend_predictions, case) -> float:
    """The largest automatic bolus as a share of the correction the trend prediction asks for ((prediction −
    target) / ISF), in %; NaN without one, 1000 for one given at a prediction at or below target."""
    shares = []
    for seen in corrections:
        p = trend_predictions[max(0, run.value_index_at(seen.seen_s))]
        need = (p - case.target_mg_dl) / case.isf_mg_dl_per_U if p is not None else 0.0
        shares.append(min(1000.0, 100.0 * seen.event.amount_U / need) if need > 0 else 1000.0)
    return max(shares) if shares else NAN


@pytest.mark.requirements("AID-EFFECT-001", "AID-EFFECT-002", "AID-EFFECT-003")
@pytest.mark.needs(Capability.CGM_INPUT, Capability.AUTO_MODE)
def test_auto_mode_in_virtual_patients(rig, requirement, evidence):
    """Each patient lives each day twice, open loop then auto mode, with the same sensor noise, CGM delays and user
    (paired), the loop closed through the balance. The effect is pooled over the cohort, as the trials pool theirs."""
    case = requirement.case
    grav = Gravimetry(rig.config)
    minutes = int(round(case.hours * 60))
    step_min = closed_loop.STEP_S / 60.0
    delivery.prepare(rig)
    rig.pump.configure_suspend(glycemia.HYPO_MG_DL, before_low=False, on_low=False)  # open loop is pump therapy
    rows, runs, exposure = [], [], {arm: {"in range": 0.0, "below 70": 0.0, "total": 0.0} for arm in ARMS}
    with evidence.recording("virtual patients", closed_loop.RECORDING_COLUMNS) as raw:
        for p, name in enumerate(case.patients):
            per_day = {}
            for d, day_name in enumerate(case.day_scenarios):
                day = load_day(day_name)
                arms = {}
                for arm in ARMS:
                    patient = VirtualPatient(name, case.cgm_sensor, seed=case.cgm_seed)
                    plan, settings = closed_loop.clinic_day(
                        patient, day, **{k: getattr(case, k) for k in closed_loop.CLINIC_SETTINGS}
                    )
                    rng = np.random.default_rng([case.cgm_seed, p, d])
                    arms[arm] = closed_loop.run(
                        rig,
                        grav,
                        patient,
                        plan,
                        minutes,
                        case.cgm_jitter_s,
                        rng,
                        raw,
                        (name, day_name, arm),
                        auto=settings if arm == "auto" else None,
                    )
                    runs.append(arms[arm].record)
                    glucose = arms[arm].glucose
                    exposure[arm]["in range"] += glycemia.time_in_range(glucose, step_min)
                    exposure[arm]["below 70"] += glycemia.time_below(glucose, step_min)
                    exposure[arm]["total"] += len(glucose) * step_min
                    rows.append(
                        (
                            name,
                            day_name,
                            arm,
                            plan.basal_U_per_h,
                            sum(u for _, u in arms[arm].user_boluses),
                            sum(arms[arm].insulin_U),
                            100.0 * glycemia.time_in_range(glucose, step_min) / (len(glucose) * step_min),
                            100.0 * glycemia.time_below(glucose, step_min) / (len(glucose) * step_min),
                            min(glucose),
                            float(np.mean(glucose)),
                            sum(seen_as(s, AutoBolus) for s in arms[arm].events),
                        )
                    )
                per_day[day_name] = (arms["open"], arms["auto"])
            evidence.attach_figure(
                f"{name} glucose and insulin, open loop and auto mode",
                plots.virtual_days_figure, name, per_day, glycemia.RANGE_MG_DL,
            )
    evidence.attach_text("days summary", _days_table(rows))
    share = {arm: {k: 100.0 * v / exposure[arm]["total"] for k, v in exposure[arm].items()} for arm in ARMS}
    evidence.judge(
        requirement,
        {
            "time_in_range_gain": Metric(share["auto"]["in range"] - share["open"]["in range"], "points", 0.0),
            "time_below_70_change": Metric(share["auto"]["below 70"] - share["open"]["below 70"], "points", 0.0),
            "time_below_70_excess": Metric(
                share["auto"]["below 70"] - max(share["open"]["below 70"], CONSENSUS_BELOW_70_PCT),
                "points",
                0.0,
            ),
            "time_in_range_open_loop": Metric(share["open"]["in range"], "%", 0.0),
            "time_in_range_auto_mode": Metric(share["auto"]["in range"], "%", 0.0),
            "time_below_70_open_loop": Metric(share["open"]["below 70"], "%", 0.0),
            "time_below_70_auto_mode": Metric(share["auto"]["below 70"], "%", 0.0),
            "record_disagreement": dose_metrics.spans_record_disagreement(runs),
        },
    )
    evidence.assert_pass()


ARMS = ("open", "auto")
CONSENSUS_BELOW_70_PCT = 4.0  # time below 70 mg/dL under 4 % (Battelino et al., Diabetes Care 2019)


def _days_table(rows) -> str:
    head = (
        f"{'patient':<15} {'day':<16} {'arm':<5} {'basal U/h':>9} {'user bolus U':>12} {'received U':>10} "
        f"{'70-180 %':>8} {'<70 %':>6} {'min mg/dL':>9} {'mean':>6} {'auto corr.':>10}"
    )
    lines = [
        f"{r[0]:<15} {r[1]:<16} {r[2]:<5} {r[3]:>9.2f} {r[4]:>12.2f} {r[5]:>10.2f} {r[6]:>8.1f} {r[7]:>6.1f} "
        f"{r[8]:>9.1f} {r[9]:>6.1f} {r[10]:>10d}"
        for r in rows
    ]
    return "\n".join([head, *lines])


def _stale_from(case, scenario) -> int | None:
    """Index of the first value sent stale, from the case's stale_from_min."""
    if case.stale_from_min is None:
        return None
    return int(round(case.stale_from_min * 60.0 / scenario.interval_s))


def _correction_interval_min(corrections, end_pump_s: float) -> float:
    """Shortest time between consecutive automatic boluses; with fewer than two, the time from the one to the end
    (none: infinite), which no spacing rule can be short of."""
    times = [s.event.at_s for s in corrections]
    if not times:
        return math.inf
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    return min(gaps or [end_pump_s - times[0]]) / 60.0


def _rate_over(grav, t, mass, start_s: float, span_s: float) -> Metric:
    """The rate weighed from start_s over span_s (NaN when the recording ends before)."""
    if t[-1] < start_s + span_s - 1e-6:
        return Metric(NAN, "U/h", 0.0)
    i0, i1 = int(np.searchsorted(t, start_s - 1e-6)), int(np.searchsorted(t, start_s + span_s - 1e-6))
    amount, u = grav.weighed(t[i0], mass[i0], t[i1], mass[i1])
    hours = (t[i1] - t[i0]) / 3600.0
    return Metric(amount / hours, "U/h", u / hours)


def _commanded_vs_weighed(grav, t, mass, decisions, corrections, profile) -> Metric:
    """The insulin weighed over the run against what the pump's decisions commanded over the same rig time: each
    automatic rate from the poll that saw it to the next, and every correction started."""
    steps = [(t[0], profile)] + [(s.seen_s, s.event.rate_U_per_h) for s in decisions]
    commanded = sum(
        rate * (min(next_t, t[-1]) - max(start, t[0])) / 3600.0
        for (start, rate), (next_t, _) in zip(steps, [*steps[1:], (t[-1], 0.0)], strict=True)
        if next_t > start
    )
    commanded += sum(s.event.amount_U for s in corrections)
    weighed, u = grav.weighed(t[0], mass[0], t[-1], mass[-1])
    if commanded <= 0:
        return Metric(NAN, "%", 0.0)
    return Metric(100.0 * (weighed - commanded) / commanded, "%", 100.0 * u / commanded)


def _smoothed_rate(cumulative, t, span_s: float = 600.0) -> np.ndarray:
    """The weighed delivery rate as a 10-min backward difference, for the figure."""
    earlier = np.interp(t - span_s, t, cumulative, left=np.nan)
    return (cumulative - earlier) / (span_s / 3600.0)
