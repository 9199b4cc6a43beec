"""Each test method's case: exactly the parameters its test reads, each typed with its physical range. The parts of
the requirement file's JSON Schema that depend on the methods (the method names, a case schema per method, every case
parameter) are generated from these models (hil.specs.requirement_schema), so a new method is a model here, its
metrics in hil/specs/metrics.py and its test; a test keeps the shipped requirement.schema.json equal to what they
generate.

A parameter has one type whatever the method that reads it: each is declared once below and every method takes it
from there."""

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

BasalRateUPerH = Annotated[float, Field(gt=0, le=100)]
StabilisationH = Annotated[float, Field(ge=0, le=1000)]
AnalysisH = Annotated[float, Field(gt=0, le=1000)]
SampleIntervalS = Annotated[float, Field(gt=0, le=3600)]
WindowH = Annotated[list[Annotated[float, Field(gt=0, le=1000)]], Field(min_length=1, max_length=20)]
TrumpetWindowsMin = Annotated[list[Annotated[float, Field(gt=0, le=10080)]], Field(min_length=1, max_length=50)]
BandPct = Annotated[float, Field(gt=0, le=100)]
BolusU = Annotated[float, Field(gt=0, le=100)]
Count = Annotated[int, Field(ge=1, le=10000)]
SpeedUPerMin = Annotated[float, Field(gt=0, le=100)]
SettleS = Annotated[float, Field(ge=0, le=86400)]
FlowH = Annotated[
    float, Field(ge=0, le=1000, description="delivery before the outlet is blocked, for the flow to become constant")
]
AlarmTimeoutH = Annotated[
    float, Field(gt=0, le=1000, description="how long to wait for the alarm before judging it missing")
]
PollS = Annotated[float, Field(gt=0, le=86400)]
HoldAfterAlarmMin = Annotated[float, Field(ge=0, le=10080)]
ReleaseWindowMin = Annotated[float, Field(gt=0, le=10080)]
ObserveAfterReleaseMin = Annotated[float, Field(ge=0, le=10080)]
Backoff = bool
Quick = bool
DurationH = Annotated[float, Field(gt=0, le=1000)]
Scenario = Annotated[
    str, Field(pattern="^[a-z0-9-]+$", max_length=100, description="a CGM trace in fixtures/scenarios/")
]
LowLimit = Annotated[int, Field(ge=50, le=90)]  # mg/dL, as a pump takes it (Pump.configure_suspend)
BeforeLow = bool
OnLow = bool
TailMin = Annotated[float, Field(ge=0, le=10080)]
Patients = Annotated[
    list[Annotated[str, Field(pattern="^(adolescent|adult|child)#0[0-9][0-9]$")]],
    Field(
        min_length=1,
        max_length=100,
        json_schema_extra={"uniqueItems": True},
        description="UVA/Padova 2008 virtual patients (simglucose names)",
    ),
]
Nights = Annotated[
    list[Annotated[str, Field(pattern="^[a-z0-9-]+$")]],
    Field(
        min_length=1,
        max_length=100,
        json_schema_extra={"uniqueItems": True},
        description="night scenarios in fixtures/scenarios/nights/",
    ),
]
Hours = Annotated[float, Field(gt=0, le=1000)]
CgmSensor = Annotated[
    Literal["Dexcom", "GuardianRT", "Navigator"],
    Field(description="a simglucose CGM model (sample interval and noise)"),
]
CgmSeed = Annotated[int, Field(ge=0, le=4294967295)]
DoseIncrementU = Annotated[
    float, Field(gt=0, le=10, description="the pump's basal (U/h) and bolus (U) programming step")
]
CgmJitterS = Annotated[
    float, Field(ge=0, le=3600, description="each CGM value reaches the pump up to this long after its sample instant")
]
KinkFactor = Annotated[
    float, Field(ge=0, le=1000000, description="cannula resistance multiplier; 0: a full kink (blocked)")
]
Fault = Literal["leak", "dislodge"]
LeakFraction = Annotated[float, Field(gt=0, le=1)]
BaselineH = Annotated[
    float,
    Field(
        ge=0, le=1000, description="nominal delivery before the fault, for the set to settle and the pump to learn it"
    ),
]
BaselinePollMin = Annotated[float, Field(gt=0, le=10080)]
Trials = Annotated[int, Field(ge=1, le=10000)]
DetectWithinMin = Annotated[float, Field(gt=0, le=10080)]
EscalationWatchMin = Annotated[float, Field(gt=0, le=10080)]
Days = Annotated[float, Field(gt=0, le=365)]
SetChangeDays = Annotated[float, Field(gt=0, le=30)]
PhaseWindowMin = Annotated[
    float,
    Field(
        gt=0,
        le=10080,
        description="the fault comes at a uniformly random moment of this window (longer than a basal cycle)",
    ),
]
MaxDurationFactor = Annotated[
    float,
    Field(
        ge=1,
        le=100,
        description="how many times its nominal duration a bolus is waited for before it is judged unfinished (a "
        "slow bolus still gets a figure)",
    ),
]
TargetMgDl = Annotated[float, Field(ge=100, le=160)]
IsfMgDlPerU = Annotated[float, Field(ge=5, le=400)]
MaxBasalUPerH = Annotated[float, Field(gt=0, le=30)]
MaxIobU = Annotated[float, Field(ge=0, le=30)]
StaleFromMin = Annotated[float, Field(ge=0, le=10080)]
StaleAgeS = Annotated[float, Field(ge=0, le=86400)]
UserBolusU = Annotated[float, Field(gt=0, le=30)]
CorrectionRuleMgDl = Annotated[
    float,
    Field(
        ge=1000,
        le=2500,
        description="the correction factor rule's numerator: correction factor = rule / total daily insulin (the "
        "1800 rule)",
    ),
]
MaxBasalFactor = Annotated[float, Field(ge=1, le=10, description="max basal as a multiple of the programmed basal")]
MaxIobBasalH = Annotated[
    float,
    Field(
        ge=0,
        le=24,
        description="max insulin on board: the average meal bolus plus this many hours of the programmed basal",
    ),
]
DayScenarios = Annotated[
    list[Annotated[str, Field(pattern="^[a-z0-9-]+$")]],
    Field(
        min_length=1,
        max_length=100,
        json_schema_extra={"uniqueItems": True},
        description="day scenarios in fixtures/scenarios/days/",
    ),
]
NoIncreaseBelowMgDl = Annotated[float, Field(ge=40, le=400)]
FloorMgDl = Annotated[float, Field(ge=40, le=400)]
NoiseMarginMgDl = Annotated[float, Field(ge=0, le=100)]
EventualFloorMgDl = Annotated[float, Field(ge=40, le=400)]
SuspendBeforeLowWithinMgDl = Annotated[
    float,
    Field(
        ge=0,
        le=200,
        description="suspend before low: the glucose at most this far above the low limit (the pump's claimed rule)",
    ),
]
SuspendBeforeLowPredictedMgDl = Annotated[
    float,
    Field(
        ge=0,
        le=200,
        description="suspend before low: and predicted at most this far above the limit (the pump's claimed rule)",
    ),
]
ResumeAboveMgDl = Annotated[
    float,
    Field(
        ge=0,
        le=200,
        description="automatic resume: the glucose at least this far above the low limit (the pump's claimed rule)",
    ),
]
ResumePredictedAboveMgDl = Annotated[
    float,
    Field(
        ge=0,
        le=200,
        description="automatic resume: and predicted more than this far above the limit (the pump's claimed rule)",
    ),
]
SuspendMinMin = Annotated[
    float, Field(ge=0, le=240, description="the shortest automatic suspension (the pump's claim)")
]
BolusLimitU = Annotated[
    float, Field(gt=0, le=100, description="the maximum bolus the test sets (the other limit left as the pump has it)")
]
BasalLimitUPerH = Annotated[
    float,
    Field(gt=0, le=100, description="the maximum basal rate the test sets (the other limit left as the pump has it)"),
]
AboveLimitFactor = Annotated[
    int,
    Field(
        ge=2,
        le=10,
        description="the dose commanded above a limit, as a multiple of it (whole: on the pump's increment grid)",
    ),
]
ObserveMin = Annotated[
    float,
    Field(
        gt=0,
        le=1440,
        description="how long what reaches the balance is weighed after the test's act (a command above a limit, an "
        "injected fault)",
    ),
]
ClosingBolusU = Annotated[
    float, Field(gt=0, le=100, description="a bolus that ends the test, weighed: the balance still sees the pump")
]
FillU = Annotated[float, Field(gt=0, le=1000, description="the insulin in the reservoir the test fits")]
DrainRateUPerH = Annotated[float, Field(gt=0, le=100, description="the basal rate that runs the reservoir to its end")]
ReservoirAlertU = Annotated[float, Field(gt=0, le=1000, description="the low-reservoir alert's amount the test sets")]
AlertTimeoutH = Annotated[
    float, Field(gt=0, le=1000, description="how long to wait for the low-reservoir alert before judging it missing")
]


class Case(BaseModel):
    """A case of a method (`method`), as its requirement file writes it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    method: ClassVar[str]

    def given(self) -> dict[str, Any]:
        """The parameters the case gives (an optional one left out is not given), for what reads any method's case
        by its parameters' names: the reservoir a test needs, the scenario files its case names."""
        return self.model_dump(exclude_none=True, warnings=False)  # a not-applicable case keeps its claim references


class BasalGravimetric(Case):
    """A case of method basal-gravimetric: exactly the parameters its test reads."""

    method: ClassVar[str] = "basal-gravimetric"
    basal_rate_U_per_h: BasalRateUPerH
    stabilisation_h: StabilisationH
    analysis_h: AnalysisH
    sample_interval_s: SampleIntervalS
    window_h: WindowH
    band_pct: BandPct
    trumpet_windows_min: TrumpetWindowsMin


class BolusGravimetric(Case):
    """A case of method bolus-gravimetric: exactly the parameters its test reads."""

    method: ClassVar[str] = "bolus-gravimetric"
    bolus_U: BolusU
    count: Count
    settle_s: SettleS
    band_pct: BandPct
    max_duration_factor: MaxDurationFactor


class BolusTiming(Case):
    """A case of method bolus-timing: exactly the parameters its test reads."""

    method: ClassVar[str] = "bolus-timing"
    bolus_U: BolusU
    count: Count
    sample_interval_s: SampleIntervalS
    settle_s: SettleS
    speed_U_per_min: SpeedUPerMin
    max_duration_factor: MaxDurationFactor


class OcclusionBasal(Case):
    """A case of method occlusion-basal: exactly the parameters its test reads."""

    method: ClassVar[str] = "occlusion-basal"
    basal_rate_U_per_h: BasalRateUPerH
    flow_h: FlowH
    backoff: Backoff
    alarm_timeout_h: AlarmTimeoutH
    poll_s: PollS
    hold_after_alarm_min: HoldAfterAlarmMin
    release_window_min: ReleaseWindowMin
    observe_after_release_min: ObserveAfterReleaseMin


class OcclusionBolus(Case):
    """A case of method occlusion-bolus: exactly the parameters its test reads."""

    method: ClassVar[str] = "occlusion-bolus"
    bolus_U: BolusU
    flow_h: FlowH
    backoff: Backoff
    alarm_timeout_h: AlarmTimeoutH
    poll_s: PollS
    release_window_min: ReleaseWindowMin


class OcclusionFalseAlarm(Case):
    """A case of method occlusion-false-alarm: exactly the parameters its test reads."""

    method: ClassVar[str] = "occlusion-false-alarm"
    basal_rate_U_per_h: BasalRateUPerH
    duration_h: DurationH
    bolus_U: BolusU
    quick: Quick
    poll_s: PollS


class CgmScenario(Case):
    """A case of method cgm-scenario: exactly the parameters its test reads."""

    method: ClassVar[str] = "cgm-scenario"
    scenario: Scenario
    basal_rate_U_per_h: BasalRateUPerH
    low_limit: LowLimit
    before_low: BeforeLow
    on_low: OnLow
    poll_s: PollS
    tail_min: TailMin
    settle_s: SettleS
    suspend_before_low_within_mg_dl: SuspendBeforeLowWithinMgDl
    suspend_before_low_predicted_mg_dl: SuspendBeforeLowPredictedMgDl
    resume_above_mg_dl: ResumeAboveMgDl
    resume_predicted_above_mg_dl: ResumePredictedAboveMgDl
    suspend_min_min: SuspendMinMin


class ClosedLoop(Case):
    """A case of method closed-loop: exactly the parameters its test reads."""

    method: ClassVar[str] = "closed-loop"
    hours: Hours
    patients: Patients
    nights: Nights
    cgm_sensor: CgmSensor
    cgm_seed: CgmSeed
    dose_increment_U: DoseIncrementU
    low_limit: LowLimit
    cgm_jitter_s: CgmJitterS


class SiteKinkBasal(Case):
    """A case of method site-kink-basal: exactly the parameters its test reads."""

    method: ClassVar[str] = "site-kink-basal"
    kink_factor: KinkFactor
    basal_rate_U_per_h: BasalRateUPerH
    flow_h: FlowH
    backoff: Backoff
    alarm_timeout_h: AlarmTimeoutH
    poll_s: PollS


class SiteKinkBolus(Case):
    """A case of method site-kink-bolus: exactly the parameters its test reads."""

    method: ClassVar[str] = "site-kink-bolus"
    kink_factor: KinkFactor
    bolus_U: BolusU
    flow_h: FlowH
    backoff: Backoff
    alarm_timeout_h: AlarmTimeoutH
    poll_s: PollS


class SiteFaultTrials(Case):
    """What a site-detection and a site-alarm case both give: the fault, its baseline and its trials."""

    fault: Fault
    basal_rate_U_per_h: BasalRateUPerH
    baseline_h: BaselineH
    baseline_poll_min: BaselinePollMin
    phase_window_min: PhaseWindowMin
    trials: Trials
    detect_within_min: DetectWithinMin
    poll_s: PollS
    leak_fraction: LeakFraction | None = None
    model_config = ConfigDict(
        json_schema_extra={
            "if": {"properties": {"fault": {"const": "leak"}}, "required": ["fault"]},
            "then": {"required": ["leak_fraction"]},
        }
    )


class SiteDetection(SiteFaultTrials):
    """A case of method site-detection: exactly the parameters its test reads."""

    method: ClassVar[str] = "site-detection"


class SiteAlarm(SiteFaultTrials):
    """A case of method site-alarm: exactly the parameters its test reads."""

    method: ClassVar[str] = "site-alarm"
    escalation_watch_min: EscalationWatchMin | None = None


class SiteFalseAlarm(Case):
    """A case of method site-false-alarm: exactly the parameters its test reads."""

    method: ClassVar[str] = "site-false-alarm"
    basal_rate_U_per_h: BasalRateUPerH
    days: Days
    set_change_days: SetChangeDays
    poll_s: PollS


class AutoScenario(Case):
    """A case of method auto-scenario: exactly the parameters its test reads (stale_from_min with stale_age_s: the
    values from that time on sent as taken stale_age_s earlier; user_bolus_U: the user's bolus just before the
    scenario; no_increase_below_mg_dl with floor_mg_dl and noise_margin_mg_dl: the stated prediction's threshold, its
    floor and the noise margin of the values judged; eventual_floor_mg_dl: the lowest insulin-only eventual glucose an
    automatic bolus may leave)."""

    method: ClassVar[str] = "auto-scenario"
    scenario: Scenario
    basal_rate_U_per_h: BasalRateUPerH
    target_mg_dl: TargetMgDl
    isf_mg_dl_per_U: IsfMgDlPerU
    max_basal_U_per_h: MaxBasalUPerH
    max_iob_U: MaxIobU
    poll_s: PollS
    tail_min: TailMin
    settle_s: SettleS
    stale_from_min: StaleFromMin | None = None
    stale_age_s: StaleAgeS | None = None
    user_bolus_U: UserBolusU | None = None
    no_increase_below_mg_dl: NoIncreaseBelowMgDl | None = None
    floor_mg_dl: FloorMgDl | None = None
    noise_margin_mg_dl: NoiseMarginMgDl | None = None
    eventual_floor_mg_dl: EventualFloorMgDl | None = None
    model_config = ConfigDict(
        json_schema_extra={
            "dependentRequired": {
                "stale_from_min": ["stale_age_s"],
                "stale_age_s": ["stale_from_min"],
                "no_increase_below_mg_dl": ["floor_mg_dl", "noise_margin_mg_dl"],
                "floor_mg_dl": ["no_increase_below_mg_dl"],
                "noise_margin_mg_dl": ["no_increase_below_mg_dl"],
            }
        }
    )


class AutoClosedLoop(Case):
    """A case of method auto-closed-loop: exactly the parameters its test reads."""

    method: ClassVar[str] = "auto-closed-loop"
    patients: Patients
    day_scenarios: DayScenarios
    hours: Hours
    cgm_sensor: CgmSensor
    cgm_seed: CgmSeed
    cgm_jitter_s: CgmJitterS
    dose_increment_U: DoseIncrementU
    target_mg_dl: TargetMgDl
    correction_rule_mg_dl: CorrectionRuleMgDl
    max_basal_factor: MaxBasalFactor
    max_iob_basal_h: MaxIobBasalH


class BolusLimit(Case):
    """A bolus of `above_limit_factor` times the maximum bolus, weighed to its end and for at least `observe_min`;
    then a bolus at the maximum, weighed."""

    method: ClassVar[str] = "bolus-limit"
    bolus_limit_U: BolusLimitU
    above_limit_factor: AboveLimitFactor
    observe_min: ObserveMin
    settle_s: SettleS


class BasalLimit(Case):
    """A basal at the maximum basal rate, then a temporary and a programmed rate of `above_limit_factor` times it, each
    weighed for `observe_min`."""

    method: ClassVar[str] = "basal-limit"
    basal_limit_U_per_h: BasalLimitUPerH
    above_limit_factor: AboveLimitFactor
    observe_min: ObserveMin


class ReservoirEmpty(Case):
    """A reservoir of `fill_U` fitted and run to its end at `drain_rate_U_per_h`: the wait for the empty alarm, and
    what reaches the balance over `hold_after_alarm_min` after it."""

    method: ClassVar[str] = "reservoir-empty"
    fill_U: FillU
    drain_rate_U_per_h: DrainRateUPerH
    alarm_timeout_h: AlarmTimeoutH
    hold_after_alarm_min: HoldAfterAlarmMin
    poll_s: PollS


class ReservoirLowAlert(ReservoirEmpty):
    """As reservoir-empty, with the low-reservoir alert set to `reservoir_alert_U` and waited for (`alert_timeout_h`
    from the start; `alarm_timeout_h` is then from the alert): what reaches the balance from the alert to the end."""

    method: ClassVar[str] = "reservoir-low-alert"
    reservoir_alert_U: ReservoirAlertU
    alert_timeout_h: AlertTimeoutH

    @model_validator(mode="after")
    def _below_the_fill(self) -> "ReservoirLowAlert":
        if self.reservoir_alert_U >= self.fill_U:
            raise ValueError(f"reservoir_alert_U {self.reservoir_alert_U:g} is not below fill_U {self.fill_U:g}")
        return self


class RunawayMotor(Case):
    """A basal at `basal_rate_U_per_h` for `flow_h`, then a runaway motor injected and what reaches the balance over
    `observe_min` weighed against the basal commanded until the pump stopped; then a closing bolus of
    `closing_bolus_U`, weighed, that shows the balance still sees the pump."""

    method: ClassVar[str] = "runaway-motor"
    basal_rate_U_per_h: BasalRateUPerH
    flow_h: FlowH
    observe_min: ObserveMin
    closing_bolus_U: ClosingBolusU
    poll_s: PollS


TimeOfDay = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="a time of day, HH:MM")]


def minutes(time_of_day: str) -> int:
    """Minutes after midnight of an HH:MM time of day."""
    hours, mins = time_of_day.split(":")
    return int(hours) * 60 + int(mins)


class ClockChange(Case):
    """A basal programme by time of day (`schedule`) running from the pump's clock set to `clock_set_to`, weighed over
    its first `follow_min` against the programme on that clock; when the pump's clock shows `change_at`, it is set to
    `change_to`, as its user sets it, and what reaches the balance over the hour and the `observe_min` after the change
    (the balance polled every `poll_s` for its figure) is weighed against what the programme gives at the new time."""

    method: ClassVar[str] = "clock-change"
    schedule: Annotated[
        dict[TimeOfDay, Annotated[float, Field(ge=0, le=100)]],
        Field(
            min_length=1,
            max_length=24,
            description="the basal programme: each segment's start (HH:MM) and its rate, U/h, in order of start",
        ),
    ]
    clock_set_to: TimeOfDay
    follow_min: Annotated[
        float, Field(gt=0, le=720, description="the programme weighed on the clock as set, from its setting, min")
    ]
    change_at: TimeOfDay
    change_to: TimeOfDay
    observe_min: ObserveMin
    poll_s: PollS

    @model_validator(mode="after")
    def _a_programme_and_a_change(self) -> "ClockChange":
        starts = [minutes(start) for start in self.schedule]
        if starts[0] != 0 or starts != sorted(starts):
            raise ValueError(f"schedule starts {', '.join(self.schedule)}: the first at 00:00, each later")
        if self.change_to == self.change_at:
            raise ValueError(f"change_to {self.change_to} is change_at: no change")
        if self.lead_min() == 0 or self.lead_min() > 12 * 60:
            raise ValueError(f"clock_set_to {self.clock_set_to} is not within 12 h before change_at {self.change_at}")
        if self.observe_min < 60:
            raise ValueError(f"observe_min {self.observe_min:g} is shorter than the hour after the change it weighs")
        if self.follow_min >= self.lead_min():
            raise ValueError(f"follow_min {self.follow_min:g} does not end before change_at {self.change_at}")
        return self

    def lead_min(self) -> int:
        """Minutes of the programme before the change: from clock_set_to to change_at."""
        return (minutes(self.change_at) - minutes(self.clock_set_to)) % (24 * 60)


class CalculatorCase(Case):
    """The bolus calculator's settings every calculator case sets, and the meal it asks advice for."""

    carb_ratio_g_per_U: Annotated[float, Field(gt=0, le=150, description="the insulin-to-carb ratio set, g/U")]
    correction_factor_mg_dl_per_U: Annotated[
        float, Field(gt=0, le=400, description="the correction factor set, mg/dL per U")
    ]
    correction_target_mg_dl: Annotated[float, Field(ge=40, le=250, description="the calculator's target glucose set")]
    carbs_g: Annotated[int, Field(ge=0, le=300, description="the meal the advice is asked for, whole g")]


class CalculatorAdvice(CalculatorCase):
    """After `washout_h` with nothing delivered (no insulin on board), the advice for `carbs_g` and a glucose of
    `glucose_mg_dl` entered, held against the labelled equations."""

    method: ClassVar[str] = "calculator-advice"
    glucose_mg_dl: Annotated[int, Field(ge=20, le=600, description="the glucose entered for the advice, whole mg/dL")]
    washout_h: Annotated[
        float, Field(ge=0, le=48, description="how long nothing is delivered before the advice: the insulin's action")
    ]


class CalculatorIob(CalculatorAdvice):
    """As calculator-advice, after a bolus of `bolus_U`, weighed, `after_min` before the advice: the insulin on board
    the advice counts, against the pump's claimed insulin action."""

    method: ClassVar[str] = "calculator-iob"
    bolus_U: BolusU
    after_min: Annotated[float, Field(gt=0, le=1440, description="from the bolus's middle to the advice, min")]
    settle_s: SettleS
    insulin_peak_min: Annotated[float, Field(gt=0, le=600, description="the claimed insulin action's peak, min")]
    insulin_duration_min: Annotated[
        float, Field(gt=0, le=1440, description="the claimed insulin action's duration, min")
    ]

    @model_validator(mode="after")
    def _washed_out(self) -> "CalculatorIob":
        if self.washout_h * 60.0 < self.insulin_duration_min:
            raise ValueError(
                f"washout_h {self.washout_h:g} is shorter than the insulin's {self.insulin_duration_min:g} min"
            )
        if not 0 < self.insulin_peak_min < self.insulin_duration_min / 2:
            raise ValueError("insulin_peak_min must lie within the first half of insulin_duration_min (oref0's curve)")
        return self


class CalculatorCgm(CalculatorCase):
    """A CGM value of `cgm_mg_dl` sent as taken `fresh_age_s` ago and the advice asked with the CGM's value; then,
    once the value is `beyond_min` older than the `max_age_min` the pump claims it uses a value for, asked again; then
    a value sent as taken that long ago (a late, backfilled one), asked at once. A stale value is used when the advice
    says so or its total is not the meal's alone within the claimed rounding (`advice_error_min_U`, `_max_U`)."""

    method: ClassVar[str] = "calculator-cgm"
    cgm_mg_dl: Annotated[
        int, Field(ge=40, le=360, description="the CGM value sent, whole mg/dL (a later one is 40 more)")
    ]
    fresh_age_s: Annotated[float, Field(ge=0, le=3600, description="how long ago the CGM took it, as sent")]
    max_age_min: Annotated[
        float, Field(gt=0, le=1440, description="the oldest CGM value the pump claims its calculator uses, min")
    ]
    beyond_min: Annotated[float, Field(gt=0, le=1440, description="how much older the value is at the second advice")]
    advice_error_min_U: Annotated[
        float, Field(ge=-10, le=0, description="the claimed rounding: the most an advice lies below its equations")
    ]
    advice_error_max_U: Annotated[
        float, Field(ge=0, le=10, description="the claimed rounding: the most an advice lies above its equations")
    ]

    @model_validator(mode="after")
    def _fresh_first(self) -> "CalculatorCgm":
        if self.fresh_age_s >= self.max_age_min * 60.0:
            raise ValueError(f"fresh_age_s {self.fresh_age_s:g} is not below max_age_min {self.max_age_min:g} min")
        return self


def _models(base: type[Case]) -> list[type[Case]]:
    """Every model below base, in the order they are defined; a model that gives no method shares its fields."""
    return [model for sub in base.__subclasses__() for model in ([sub] if "method" in vars(sub) else []) + _models(sub)]


METHODS: dict[str, type[Case]] = {case.method: case for case in _models(Case)}
