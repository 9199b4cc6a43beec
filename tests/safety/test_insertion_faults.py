"""Insertion-site fault suite. Kinks are occlusions at the cannula, run with the occlusion procedures; leaks and
dislodgements take the tissue back-pressure away, and the pump must notice from what it can observe. Each
detection requirement runs its case's number of trials (a new set each, the fault at a random moment of the
basal cycle) and is judged on a one-sided 95 % confidence limit; every limit comes from
specs/insertion-faults.yaml."""

import math

import numpy as np
import pytest

from hil.analysis import dose_metrics
from hil.analysis.detection import delay_summary, poisson_upper, wilson_lower
from hil.analysis.metric import Metric
from hil.drivers.contracts import Capability
from hil.drivers.site_faults import SiteFaultUnavailable
from hil.evidence import plots
from hil.procedures import delivery
from hil.procedures import occlusion as occlusion_procedures
from hil.procedures.gravimetric import Gravimetry
from hil.procedures.occlusion import OcclusionPoller, Timeline, alarm_metrics, basal_flow, open_flow, since_block
from hil.procedures.site_faults import RECORDING_COLUMNS, KinkedCannula, SitePoller, detection_trial, nominal_days


def _kink_episode(rig, site_faults, case, evidence, requirement, bolus: bool):
    grav = Gravimetry(rig.config)
    timeline = Timeline()
    kink = KinkedCannula(site_faults, case.kink_factor or math.inf)
    delivery.prepare(rig)
    with evidence.recording("kink", occlusion_procedures.RECORDING_COLUMNS) as raw:
        poller = OcclusionPoller(rig, raw, timeline)
        if bolus:  # no flow before the kink: the bolus goes into the kinked line, and the back-off draws it back
            basal_flow(rig, 0.0, case.flow_h * 3600.0, case.backoff)
            at_kink, flow = delivery.stable_reading(rig), None
        else:
            at_kink, flow = open_flow(rig, grav, case.basal_rate_U_per_h, case.flow_h * 3600.0, case.backoff)
        pump_t_kink = rig.pump.pump_time()
        try:
            try:
                kink.close()
            except SiteFaultUnavailable as exc:
                pytest.skip(str(exc))
            t_start = timeline.marks["kink"] = rig.clock.now()
            if bolus:
                rig.pump.bolus(case.bolus_U)
                t_start = timeline.marks["bolus"] = rig.clock.now()
            alarm = poller.await_alarm(case.alarm_timeout_h * 3600.0, case.poll_s, "kinked")
            since = since_block(rig, grav, pump_t_kink, at_kink, alarm) if alarm is not None else None
            metrics = alarm_metrics(case.poll_s, t_start, alarm, since)
            if flow is not None:
                metrics["record_disagreement"] = dose_metrics.spans_record_disagreement([flow])
        finally:
            kink.open()
    evidence.judge(requirement, metrics)
    t, mass, pressure = timeline.arrays()
    evidence.attach_figure("kink timeline", plots.occlusion_figure,
        t, grav.cumulative_units(t, mass), pressure, timeline.marks, timeline.alarms,
        f"{requirement.id}: pressure, delivery and alarms", requirement, t_start)
    evidence.assert_pass()


@pytest.mark.requirements("IF-KINK-001")
@pytest.mark.needs(Capability.OCCLUSION_BACKOFF, Capability.DELIVERY_HISTORY)
def test_kinked_cannula_during_basal(rig, site_faults, requirement, evidence):
    _kink_episode(rig, site_faults, requirement.case, evidence, requirement, bolus=False)


@pytest.mark.requirements("IF-KINK-002")
@pytest.mark.needs(Capability.OCCLUSION_BACKOFF, Capability.DELIVERY_HISTORY)
def test_partially_kinked_cannula_during_a_bolus(rig, site_faults, requirement, evidence):
    _kink_episode(rig, site_faults, requirement.case, evidence, requirement, bolus=True)


def _trials(rig, site_faults, requirement, evidence):
    """The case's trials, with their raw polls recorded; the fault moments drawn from a generator seeded by the
    requirement id, so a bench and the emulator face the same schedule."""
    case = requirement.case
    grav = Gravimetry(rig.config)
    rng = np.random.default_rng(list(requirement.id.encode()))
    delivery.prepare(rig)
    trials = []
    with evidence.recording("site faults", RECORDING_COLUMNS) as raw:
        poller = SitePoller(rig, raw)
        try:
            for number in range(1, case.trials + 1):
                trials.append(detection_trial(rig, site_faults, grav, case, number, rng, poller))
        except SiteFaultUnavailable as exc:
            pytest.skip(str(exc))
    first = poller.series[1]
    units = [grav.units(np.asarray(m) - m[0]) for m in (first.site_mg, first.lost_mg)]
    shown = [trials[0].alarm] if trials[0].alarm else []
    shown += [trials[0].escalated] if trials[0].escalated else []
    evidence.attach_figure("first trial", plots.site_trial_figure,
        first.t_s, *units, first.pressure_kPa, trials[0].fault_s, shown,
        f"{requirement.id}: {case.fault}, trial 1", requirement)
    return trials


@pytest.mark.requirements("IF-LEAK-001", "IF-DISLODGE-001")
def test_site_fault_detection(rig, site_faults, requirement, evidence):
    case = requirement.case
    trials = _trials(rig, site_faults, requirement, evidence)
    n = len(trials)
    detected = sum(t.delay_min <= case.detect_within_min for t in trials)
    share, lower = 100.0 * detected / n, 100.0 * wilson_lower(detected, n)
    delays = delay_summary([t.delay_min for t in trials])
    poll_min = case.poll_s / 60.0
    delivered, lost = sum(t.delivered_U for t in trials), sum(t.lost_U for t in trials)
    metrics = {
        "detection_sensitivity": Metric(share, "%", share - lower),
        "detection_time_median": Metric(delays["median"], "min", poll_min),
        "detection_time_p90": Metric(delays["p90"], "min", poll_min),
        "detection_time_max": Metric(delays["max"], "min", poll_min),
        "trials": Metric(float(n), "count", 0.0),
        "site_alarms_before_the_fault": Metric(float(sum(len(t.alarms_before_fault) for t in trials)), "count", 0.0),
        "reached_site_during_faults": Metric(delivered, "U", math.hypot(*(t.U_delivered for t in trials))),
        "lost_during_faults": Metric(lost, "U", math.hypot(*(t.U_lost for t in trials))),
        "lost_share": Metric(100.0 * lost / (lost + delivered) if lost + delivered > 0 else math.nan, "%", 0.0),
        "record_disagreement": dose_metrics.spans_record_disagreement(t.record for t in trials if t.record),
    }
    evidence.attach_text("trials", "\n".join(
        f"trial {t.number:2d}: fault at {t.fault_s:.0f} s, alarm {f'{t.alarm.event.kind} {t.alarm.event.priority}' if t.alarm else '-'}"
        f" after {t.delay_min:.1f} min, reached the site {t.delivered_U:.3f} U, lost {t.lost_U:.3f} U"
        for t in trials))
    evidence.attach_figure("detection times", plots.detection_delays_figure,
        [t.delay_min for t in trials], case.detect_within_min, f"{requirement.id}: fault to site alarm, {n} trials")
    evidence.judge(requirement, metrics)
    evidence.assert_pass()


@pytest.mark.requirements("IF-PRIO-001", "IF-ESC-001")
def test_site_alarm_priority_and_escalation(rig, site_faults, requirement, evidence):
    case = requirement.case
    trials = _trials(rig, site_faults, requirement, evidence)
    trial = trials[0]
    metrics = {"alarm_priority_rank": Metric(math.nan, "rank", 0.0), "escalation_delay": Metric(math.nan, "min", 0.0),
               "record_disagreement": dose_metrics.spans_record_disagreement(t.record for t in trials if t.record)}
    if trial.alarm:
        metrics["alarm_priority_rank"] = Metric(float(trial.alarm.event.priority.rank), "rank", 0.0)
        escalated = trial.escalated.seen_s if trial.escalated else math.inf
        metrics["escalation_delay"] = Metric((escalated - trial.alarm.seen_s) / 60.0, "min", case.poll_s / 60.0)
    evidence.judge(requirement, metrics)
    evidence.assert_pass()


@pytest.mark.requirements("IF-FALSE-001")
def test_no_false_site_alarms(rig, requirement, evidence):
    case = requirement.case
    delivery.prepare(rig)
    start = rig.clock.now()
    with evidence.recording("nominal days", RECORDING_COLUMNS) as raw:
        alarms, days, sets = nominal_days(rig, Gravimetry(rig.config), case, SitePoller(rig, raw))
    rate = len(alarms) / days
    evidence.attach_figure("site alarms over the nominal days", plots.false_alarm_figure,
        days, [(a.seen_s - start) / 86400.0 for a in alarms], f"{requirement.id}: {len(alarms)} alarms in {days:.1f} days")
    evidence.judge(requirement, {
        "false_alarms_per_day": Metric(rate, "1/day", poisson_upper(len(alarms), days) - rate),
        "false_alarms": Metric(float(len(alarms)), "count", 0.0),
        "days_observed": Metric(days, "day", 0.0),
        "record_disagreement": dose_metrics.spans_record_disagreement(sets),
    })
    evidence.assert_pass()
