"""The catalogue of acceptance metrics: what each measures, its unit, which method computes it.

A requirement may only bound a metric that its method computes, in the metric's own unit, with the
parameters the metric needs, and within the range its unit can physically take. The loader checks every bound
against this table.
"""

from dataclasses import dataclass

from hil.drivers.contracts import Capability


@dataclass(frozen=True)
class MetricKind:
    name: str
    unit: str
    methods: tuple[str, ...]
    params: tuple[str, ...]
    description: str
    needs: tuple[Capability, ...] = ()  # what the pump's driver must declare for the metric to be measured
    # (bound parameter, case key): the metric is computed for the values the case lists under that key only, so a
    # bound's parameter must be one of them (a bound on a 7-h window no case records could never be judged)
    from_cases: tuple[tuple[str, str], ...] = ()
    signed: bool = False  # a difference (an error in the unit): its bounds may lie below 0, as far as above it


AUTO = (Capability.AUTO_MODE,)
_BASAL = ("basal-gravimetric",)
_BOLUS = ("bolus-gravimetric",)
_TIMING = ("bolus-timing",)
_OCCLUSION = ("occlusion-basal", "occlusion-bolus", "site-kink-basal", "site-kink-bolus")
_OCCLUSION_BASAL = ("occlusion-basal",)
_CGM = ("cgm-scenario",)
_CLOSED_LOOP = ("closed-loop",)
_AUTO = ("auto-scenario",)
_AUTO_CLOSED_LOOP = ("auto-closed-loop",)
_SITE = ("site-detection", "site-alarm")
_BOLUS_LIMIT = ("bolus-limit",)
_BASAL_LIMIT = ("basal-limit",)
_RESERVOIR_LOW = ("reservoir-low-alert",)
_RESERVOIR_EMPTY = ("reservoir-empty",)
_RUNAWAY = ("runaway-motor",)
_CLOCK_CHANGE = ("clock-change",)
_CALCULATOR = ("calculator-advice", "calculator-iob")
_CALCULATOR_IOB = ("calculator-iob",)
_CALCULATOR_CGM = ("calculator-cgm",)
# The weighed methods outside dose accuracy whose weighed amount is held against the pump's record over a span where
# the two must agree (docs/bench.md, "The balance must see the pump"): the flow into the open outlet before a block or
# a full kink, the whole test where nothing blocks the line, both balances' sum through a leak, a dose-limit test
# from its first command above a limit to its end, a reservoir run to its end, the bolus that ends a runaway-motor
# test (a runaway is delivery no pump records), the time around a clock change. Not the bolus into a blocked or
# kinked line (occlusion-bolus, site-kink-bolus): all of it goes into the line and the back-off draws it back, which
# no pump reports.
_RECORDED_ELSEWHERE = (
    "occlusion-basal",
    "site-kink-basal",
    "occlusion-false-alarm",
    *_SITE,
    "site-false-alarm",
    *_CGM,
    *_CLOSED_LOOP,
    *_AUTO,
    *_AUTO_CLOSED_LOOP,
    *_BOLUS_LIMIT,
    *_BASAL_LIMIT,
    *_RESERVOIR_LOW,
    *_RESERVOIR_EMPTY,
    *_RUNAWAY,
    *_CLOCK_CHANGE,
    *_CALCULATOR_IOB,
)

METRICS: dict[str, MetricKind] = {
    m.name: m
    for m in (
        MetricKind("overall_error", "%", _BASAL, (), "error of the volume delivered over the analysis period"),
        MetricKind("total_delivered", "U", _BASAL, (), "insulin delivered over the analysis period"),
        MetricKind(
            "window_delivered_min",
            "U",
            _BASAL,
            ("window_h",),
            "least delivered in a non-overlapping window",
            from_cases=(("window_h", "window_h"),),
        ),
        MetricKind(
            "window_delivered_max",
            "U",
            _BASAL,
            ("window_h",),
            "most delivered in a non-overlapping window",
            from_cases=(("window_h", "window_h"),),
        ),
        MetricKind(
            "window_share_within",
            "%",
            _BASAL,
            ("window_h", "band_pct"),
            "share of non-overlapping windows whose error is within ±band",
            from_cases=(("window_h", "window_h"), ("band_pct", "band_pct")),
        ),
        MetricKind(
            "trumpet_ep_max",
            "%",
            _BASAL,
            ("window_min",),
            "IEC 60601-2-24 Ep(max) for an observation window",
            from_cases=(("window_min", "trumpet_windows_min"),),
        ),
        MetricKind(
            "trumpet_ep_min",
            "%",
            _BASAL,
            ("window_min",),
            "IEC 60601-2-24 Ep(min) for an observation window",
            from_cases=(("window_min", "trumpet_windows_min"),),
        ),
        MetricKind(
            "bolus_mean_error", "%", _BOLUS, (), "mean deviation of the delivered boluses from the programmed size"
        ),
        MetricKind("bolus_sd", "%", _BOLUS, (), "standard deviation of the bolus deviations"),
        MetricKind("bolus_min", "U", _BOLUS, (), "smallest delivered bolus"),
        MetricKind("bolus_max", "U", _BOLUS, (), "largest delivered bolus"),
        MetricKind(
            "bolus_share_within",
            "%",
            _BOLUS,
            ("band_pct",),
            "share of boluses within ±band of the programmed size",
            from_cases=(("band_pct", "band_pct"),),
        ),
        MetricKind(
            "bolus_duration_error",
            "%",
            _TIMING,
            (),
            "worst deviation of the gravimetric 5 %-95 % delivery time from the time the stated speed implies",
        ),
        MetricKind("bolus_tail_fraction", "%", _TIMING, (), "largest share of a bolus arriving after its nominal end"),
        MetricKind(
            "time_to_alarm",
            "min",
            _OCCLUSION,
            (),
            "from blocking the outlet (or the bolus command) to the occlusion alarm",
        ),
        MetricKind(
            "missed_at_alarm",
            "U",
            _OCCLUSION,
            (),
            "insulin the pump counted as delivered but that did not arrive, at the alarm",
        ),
        MetricKind(
            "alarm_priority_high",
            "bool",
            _OCCLUSION + _CGM + _RESERVOIR_EMPTY + _RUNAWAY,
            (),
            "1 when the alarm was raised at HIGH priority (0 when none came)",
        ),
        MetricKind(
            "pressure_at_alarm",
            "kPa",
            _OCCLUSION,
            (),
            "line pressure the pump reported with the alarm",
            (Capability.LINE_PRESSURE,),
        ),
        MetricKind(
            "pump_strokes_after_alarm",
            "count",
            _OCCLUSION_BASAL,
            (),
            "strokes in the pump's history after the alarm",
            (Capability.DELIVERY_HISTORY,),
        ),
        MetricKind(
            "balance_strokes_after_release",
            "count",
            _OCCLUSION_BASAL,
            (),
            "strokes the balance saw after the release settled, pump still in alarm",
        ),
        MetricKind(
            "history_balance_disagreement",
            "count",
            _OCCLUSION_BASAL + _BASAL,
            (),
            "strokes the pump's history and the balance count differently over the same window "
            "(basal: the worst 1-h window)",
            (Capability.DELIVERY_HISTORY,),
        ),
        MetricKind(
            "record_disagreement",
            "%",
            _BASAL + _BOLUS + _RECORDED_ELSEWHERE,
            (),
            "weighed amount against the amount the pump says it delivered over the same interval, "
            "in % of the pump's record",
        ),
        MetricKind(
            "record_bolus_difference_max",
            "U",
            _BOLUS,
            (),
            "largest difference between a weighed bolus and the pump's record of it",
        ),
        MetricKind(
            "released_volume", "U", _OCCLUSION_BASAL, (), "unintended bolus collected after the outlet was unblocked"
        ),
        MetricKind("false_alarms", "count", ("occlusion-false-alarm",), (), "occlusion alarms during nominal delivery"),
        MetricKind(
            "suspend_delay_intervals",
            "count",
            _CGM,
            (),
            "CGM values received after the one that made a suspension due, before the pump suspended",
        ),
        MetricKind("suspensions", "count", _CGM, (), "automatic suspensions over the scenario"),
        MetricKind(
            "suspensions_not_due",
            "count",
            _CGM,
            (),
            "automatic suspensions before any value at which the pump's claimed rules oblige one",
        ),
        MetricKind(
            "delivered_while_suspended", "U", _CGM, (), "insulin the balance received while the pump was suspended"
        ),
        MetricKind(
            "pump_strokes_while_suspended",
            "count",
            _CGM,
            (),
            "strokes in the pump's history while suspended",
            (Capability.DELIVERY_HISTORY,),
        ),
        MetricKind("suspension_duration", "min", _CGM, (), "length of the first automatic suspension"),
        MetricKind(
            "resume_delay_intervals",
            "count",
            _CGM,
            (),
            "CGM values received after the one that permitted the resume, before the pump resumed",
        ),
        MetricKind("basal_error_after_resume", "%", _CGM, (), "error of the delivery in the hour after the resume"),
        MetricKind("max_duration_alert", "bool", _CGM, (), "1 when the 2-h limit ended the suspension with an alert"),
        MetricKind(
            "cgm_loss_resume_after", "min", _CGM, (), "from the last CGM value to the resume when the CGM went silent"
        ),
        MetricKind("cgm_loss_alert", "bool", _CGM, (), "1 when the CGM loss was alerted"),
        MetricKind(
            "hypo_time_reduction",
            "%",
            _CLOSED_LOOP,
            (),
            "sensor (CGM) time below 70 mg/dL over the virtual-patient nights, suspend on against off, as a reduction "
            "(PROLOG's measure)",
        ),
        MetricKind(
            "hypo_event_auc_reduction",
            "%",
            _CLOSED_LOOP,
            (),
            "total area below 65 mg/dL of the nocturnal events of sensor glucose at or below 65 mg/dL for more than "
            "20 min (ASPIRE In-Home's events), suspend on against off, as a reduction",
        ),
        MetricKind("auto_rate_max", "U/h", _AUTO, (), "highest automatic basal rate the pump reported", AUTO),
        MetricKind(
            "auto_iob_max",
            "U",
            _AUTO,
            (),
            "highest automatic insulin on board: the insulin weighed less the profile basal and the user's boluses, on"
            " oref0's curve",
            AUTO,
        ),
        MetricKind(
            "auto_insulin_max",
            "U",
            _AUTO,
            ("window_min",),
            "largest automatic insulin weighed (less the profile basal and the user's boluses) in any sliding window",
            AUTO,
        ),
        MetricKind(
            "auto_insulin_while_predicted_low",
            "U",
            _AUTO,
            (),
            "largest automatic insulin weighed in the decision interval of a value whose stated prediction was low",
            AUTO,
        ),
        MetricKind(
            "auto_increases_while_predicted_low",
            "count",
            _AUTO,
            (),
            "values whose stated prediction was low after which the pump's own record shows a rate above the profile "
            "or an automatic bolus",
            AUTO,
        ),
        MetricKind(
            "values_judged_predicted_low",
            "count",
            _AUTO,
            (),
            "CGM values whose stated and noise-free predictions were below the threshold (and its margin)",
            AUTO,
        ),
        MetricKind(
            "auto_boluses_eventual_below_floor",
            "count",
            _AUTO,
            (),
            "automatic boluses after which the insulin-only eventual glucose was below the case's floor",
            AUTO,
        ),
        MetricKind("auto_bolus_count", "count", _AUTO, (), "automatic boluses the pump reported", AUTO),
        MetricKind(
            "auto_bolus_eventual_min",
            "mg/dL",
            _AUTO,
            (),
            "lowest insulin-only eventual glucose after an automatic bolus (none: not measured)",
            AUTO,
        ),
        MetricKind("cgm_lost_fallback", "bool", _AUTO, (), "1 when the pump fell back to the profile basal", AUTO),
        MetricKind(
            "cgm_lost_fallback_after",
            "min",
            _AUTO,
            (),
            "from the last fresh CGM value to the fallback to the profile basal (pump clock)",
            AUTO,
        ),
        MetricKind(
            "auto_alert_priority_rank",
            "rank",
            _AUTO,
            (),
            "priority of the auto mode's CGM-loss alert: LOW 1, MEDIUM 2, HIGH 3",
            AUTO,
        ),
        MetricKind(
            "auto_exit_after", "min", _AUTO, (), "from the last fresh CGM value to the exit from auto mode", AUTO
        ),
        MetricKind(
            "weighed_rate_after_fallback",
            "U/h",
            _AUTO,
            (),
            "delivery rate weighed over the hour after the fallback to the profile basal",
            AUTO,
        ),
        MetricKind(
            "correction_share_max",
            "%",
            _AUTO,
            (),
            "largest automatic bolus as a share of the correction the trend prediction asks for",
            AUTO,
        ),
        MetricKind(
            "correction_interval_min",
            "min",
            _AUTO,
            (),
            "shortest time from an automatic correction to the next one, or to the end of the scenario",
            AUTO,
        ),
        MetricKind(
            "correction_after_user_bolus_min",
            "min",
            _AUTO,
            (),
            "from the end of the user's bolus to the first automatic correction (none: not measured)",
            AUTO,
        ),
        MetricKind(
            "commanded_vs_weighed_error",
            "%",
            _AUTO,
            (),
            "insulin weighed against the insulin the pump's automatic rates and corrections commanded, in %",
            AUTO,
        ),
        MetricKind(
            "time_in_range_gain",
            "points",
            _AUTO_CLOSED_LOOP,
            (),
            "share of time 70-180 mg/dL over the virtual-patient days, auto mode against open loop, in points",
            AUTO,
        ),
        MetricKind(
            "time_below_70_change",
            "points",
            _AUTO_CLOSED_LOOP,
            (),
            "share of time below 70 mg/dL over the virtual-patient days, auto mode against open loop, in points",
            AUTO,
        ),
        MetricKind(
            "time_below_70_excess",
            "points",
            _AUTO_CLOSED_LOOP,
            (),
            "share of time below 70 mg/dL in auto mode beyond the larger of the open loop's and 4 %, in points",
            AUTO,
        ),
        MetricKind(
            "detection_sensitivity",
            "%",
            _SITE,
            (),
            "share of site faults alarmed within the case's time, judged on its one-sided 95 % lower limit",
        ),
        MetricKind(
            "alarm_priority_rank", "rank", _SITE, (), "priority of the first site alarm: LOW 1, MEDIUM 2, HIGH 3"
        ),
        MetricKind(
            "escalation_delay", "min", _SITE, (), "from the site alarm to its escalation to HIGH, unacknowledged"
        ),
        MetricKind(
            "delivered_after_bolus_above_limit",
            "U",
            _BOLUS_LIMIT,
            (),
            "weighed from a bolus commanded above the maximum bolus to the end of its observation, whether the pump "
            "refused it, cut it to the limit or delivered it",
            (Capability.DOSE_LIMITS,),
        ),
        MetricKind(
            "bolus_at_limit_delivered",
            "U",
            _BOLUS_LIMIT,
            (),
            "a bolus at the maximum bolus, weighed (the balance still sees the pump after the command above it)",
            (Capability.DOSE_LIMITS,),
        ),
        MetricKind(
            "delivered_after_rate_above_limit",
            "U",
            _BASAL_LIMIT,
            (),
            "the most weighed over the observation after a temporary or a programmed basal rate commanded above "
            "the maximum basal rate, the basal at the maximum running before",
            (Capability.DOSE_LIMITS,),
        ),
        MetricKind(
            "commands_above_limit_accepted",
            "count",
            _BOLUS_LIMIT + _BASAL_LIMIT,
            (),
            "commands above a limit the pump accepted (refusing and cutting a dose to the limit are both designs the "
            "requirements allow: what they bound is what is delivered)",
            (Capability.DOSE_LIMITS,),
        ),
        MetricKind(
            "delivered_after_low_reservoir_alert_pct",
            "%",
            _RESERVOIR_LOW,
            (),
            "weighed from the low-reservoir alert to the end of the reservoir, as a share of the alert's amount "
            "(0 when no alert came)",
            (Capability.RESERVOIR_ALERT,),
        ),
        MetricKind(
            "delivered_after_low_reservoir_alert",
            "U",
            _RESERVOIR_LOW,
            (),
            "weighed from the low-reservoir alert to the end of the reservoir",
            (Capability.RESERVOIR_ALERT,),
        ),
        MetricKind(
            "delivered_after_empty_alarm",
            "U",
            _RESERVOIR_EMPTY,
            (),
            "weighed over the hold after the empty-reservoir alarm (after the wait for it, when none came)",
        ),
        MetricKind(
            "delivered_from_reservoir",
            "U",
            _RESERVOIR_LOW + _RESERVOIR_EMPTY,
            (),
            "weighed from the start of the basal to the end: what the fitted reservoir gave, less its prime",
        ),
        MetricKind(
            "calculator_advice_error",
            "U",
            _CALCULATOR,
            (),
            "the calculator's advice less the labelled equations' unrounded dose for the settings, the meal, the "
            "glucose and the insulin on board the advice counted (to 1e-6 U)",
            (Capability.BOLUS_CALCULATOR,),
            signed=True,
        ),
        MetricKind(
            "calculator_iob_error",
            "U",
            _CALCULATOR_IOB,
            (),
            "the insulin on board the advice counted less what the pump's claimed insulin action leaves of the bolus "
            "it recorded",
            (Capability.BOLUS_CALCULATOR,),
            signed=True,
        ),
        MetricKind(
            "fresh_glucose_used",
            "bool",
            _CALCULATOR_CGM,
            (),
            "1 when the advice asked with the CGM's value used a value the CGM had just taken",
            (Capability.BOLUS_CALCULATOR,),
        ),
        MetricKind(
            "stale_glucose_used",
            "bool",
            _CALCULATOR_CGM,
            (),
            "1 when the advice asked with the CGM's value used one older than the pump claims it uses",
            (Capability.BOLUS_CALCULATOR,),
        ),
        MetricKind(
            "basal_error_before_clock_change",
            "%",
            _CLOCK_CHANGE,
            (),
            "weighed over the programme's first minutes on the clock as set (settled readings), against what the "
            "programme gives then on that clock, % of the latter: the programme follows the clock its user sets",
            (Capability.BASAL_SCHEDULE,),
        ),
        MetricKind(
            "basal_error_after_clock_change",
            "%",
            _CLOCK_CHANGE,
            (),
            "weighed from a settled reading right before the pump's clock was changed to one an hour after, against "
            "what the programme gives over that time at the pump's time of day (the old time until the change, the new "
            "one after it), % of the latter",
            (Capability.BASAL_SCHEDULE,),
        ),
        MetricKind(
            "basal_error_6h_after_clock_change",
            "%",
            _CLOCK_CHANGE,
            (),
            "as basal_error_after_clock_change, to a settled reading the observation's end after the change (6 h): "
            "the skipped time's basal paid back slowly",
            (Capability.BASAL_SCHEDULE,),
        ),
        MetricKind(
            "over_infusion_after_fault",
            "U",
            _RUNAWAY,
            (),
            "weighed from a settled reading right before the injected fault to one after the observation, less the "
            "basal commanded until the pump was seen stopped (or what it recorded, where less)",
            (Capability.FAULT_INJECTION,),
        ),
        MetricKind(
            "closing_bolus_delivered",
            "U",
            _RUNAWAY,
            (),
            "the bolus that ends the test, weighed (the balance still sees the pump after the fault)",
            (Capability.FAULT_INJECTION,),
        ),
        MetricKind(
            "false_alarms_per_day",
            "1/day",
            ("site-false-alarm",),
            (),
            "site alarms per day of nominal delivery, judged on the one-sided 95 % upper limit",
        ),
    )
}


# The values a metric in each unit can take; a bound outside them is a typo (a negative count, a 1e9 U dose).
# A percentage is an error (down to -100 %: nothing delivered), a share or a reduction; above 1000 % nothing
# a pump delivers is still a dose error.
UNIT_RANGES: dict[str, tuple[float, float]] = {
    "%": (-100.0, 1000.0),
    "U": (0.0, 1000.0),
    "U/h": (0.0, 1000.0),
    "count": (0.0, 1_000_000.0),
    "min": (0.0, 525_600.0),
    "kPa": (0.0, 10_000.0),
    "bool": (0.0, 1.0),
    "rank": (1.0, 3.0),
    "1/day": (0.0, 10_000.0),
    "points": (-100.0, 100.0),  # a difference of two shares of time, in percentage points
}
