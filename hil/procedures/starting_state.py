"""The state every test starts from, set and checked through the Pump contract alone, on any pump: a bench pump
keeps its state between tests (the basal it was last given, an alarm left unacknowledged, auto mode on), and only
the reference emulator can be RESET.

The starting state: delivery stopped (STOP), no bolus running, no active or unacknowledged alarm, no temporary
basal, auto mode off, a basal programme of 0 U/h (so a test that resumes delivery to weigh a bolus weighs the
bolus alone; a test that needs a basal sets its own), the dose limits at the top of the ranges the pump claims (a
dose-limit test, or a user on a bench, leaves them lower, and a test's bolus refused for it would be taken for a
finding), and no event left over from before (an occlusion alarm of the
previous test taken as this one's would time an alarm at zero). The case's settings (occlusion back-off, low-glucose
suspend, auto mode's) are set by the test that needs them. A pump that cannot be brought there is the rig's ERROR
(StartingStateError), never a finding about the pump.

The reservoir must hold what the test will take from it (`reservoir_need`) and a margin: a bench pump, or the
emulator without its per-test RESET, keeps the reservoir the earlier tests drew on, and a test that empties it would
end on the pump's RESERVOIR_EMPTY alarm, a verdict about the rig's preparation dressed as one about the pump.
"""

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hil.drivers.contracts import BolusState, Capability, DoseLimits, PumpState, PumpStatus
from hil.errors import DeviceRefused, StartingStateError
from hil.rig.model import InfusionSet
from hil.specs.methods import minutes

log = logging.getLogger(__name__)

# [E] What a test takes beyond its case's nominal amounts: its waits past a nominal duration (a settle, the last
# poll, a bolus's end: minutes) at the campaign's highest rate (30 U/h, 1 U in 2 min), doubled. Fixed, not a share:
# a full 300 U reservoir must still start the 12-day false-alarm test (294 U).
RESERVOIR_MARGIN_U = 2.0


@dataclass(frozen=True)
class ReservoirNeed:
    """What a test takes from the pump's reservoir, U, and how that was reckoned (for its ERROR's text)."""

    amount_U: float
    reckoning: str


def reservoir_need(case: Mapping[str, Any], infusion_set: InfusionSet, min_reservoir_U: float | None) -> ReservoirNeed:
    """What a test of `case` takes from the reservoir: the set's prime and the coupling check's (and a prime per set
    change), its boluses (`bolus_U` × `count`, a user's bolus) and its basal rate over the stabilisation and analysis
    periods, the flow and the wait for an alarm, or the days. A case whose delivery this cannot reckon (a glucose
    scenario, virtual patients, detection trials: no duration given) needs at least the rig file's
    `pump.min_reservoir_U` (without it, what can be reckoned)."""

    def number(key: str, default: float = 0.0) -> float:
        return float(case.get(key, default))

    if "fill_U" in case:  # a reservoir test fits its own reservoir (hil.procedures.reservoir) and a full one after
        return ReservoirNeed(0.0, "none of the reservoir fitted now: the test fits its own")

    if "analysis_h" in case:
        hours: float | None = number("stabilisation_h") + number("analysis_h")
    elif "flow_h" in case:
        hours = number("flow_h") + number("alarm_timeout_h")
    elif "days" in case:
        hours = 24.0 * number("days")
    elif "change_at" in case:  # a clock change: from the clock's setting to the observation's end
        lead_min = (minutes(str(case["change_at"])) - minutes(str(case["clock_set_to"]))) % (24 * 60)
        hours = (lead_min + number("observe_min")) / 60.0
    else:
        hours = None
    primes = 1 + (math.ceil(number("days") / number("set_change_days")) if "set_change_days" in case else 0)
    check_U = infusion_set.check_U or infusion_set.prime_U
    rate, count, bolus_U, user_U = (
        max(case.get("schedule", {}).values(), default=number("basal_rate_U_per_h")),  # a programme: its highest
        number("count", 1),
        number("bolus_U"),
        number("user_bolus_U"),
    )
    # a dose-limit case: a bolus of `above_limit_factor` times its maximum and one at it; or an observation at the
    # maximum basal rate, then two at `above_limit_factor` times it (were the pump to deliver what it should not)
    factor = number("above_limit_factor")
    bolus_limit_U, rate_limit_U = number("bolus_limit_U"), number("basal_limit_U_per_h")
    observed_h = number("observe_min") / 60.0
    parts = [
        (
            primes * infusion_set.prime_U + check_U,
            f"{primes} prime(s) of {infusion_set.prime_U:g} U, the coupling check's {check_U:g} U",
        ),
        (count * bolus_U, f"{count:g} bolus(es) of {bolus_U:g} U"),
        (user_U, f"a user's bolus of {user_U:g} U"),
        (number("closing_bolus_U"), f"a closing bolus of {number('closing_bolus_U'):g} U"),
        ((1 + factor) * bolus_limit_U, f"a bolus of {factor:g} x the {bolus_limit_U:g} U maximum and one at it"),
        (
            (1 + 2 * factor) * rate_limit_U * observed_h,
            f"{observed_h:g} h at the {rate_limit_U:g} U/h maximum and two at {factor:g} x it",
        ),
        (rate * (hours or 0.0), f"{rate:g} U/h for {hours or 0.0:g} h"),
    ]
    amount = sum(U for U, _ in parts)
    reckoning = ", ".join(what for U, what in parts if U > 0)
    if hours is None and any(key in case for key in ("basal_rate_U_per_h", "patients", "scenario")):
        if min_reservoir_U is not None and min_reservoir_U > amount:
            return ReservoirNeed(min_reservoir_U, f"the rig file's pump.min_reservoir_U; its case gives {reckoning}")
        reckoning += "; the rest not reckoned: its case gives no duration (the rig file's pump.min_reservoir_U)"
    return ReservoirNeed(amount, reckoning)


def check_reservoir(status: PumpStatus, need: ReservoirNeed) -> None:
    """StartingStateError unless the reservoir holds the test's need and the margin, saying what to do."""
    required = need.amount_U + RESERVOIR_MARGIN_U
    if status.reservoir_U < required:
        raise StartingStateError(
            f"pump: its reservoir holds {status.reservoir_U:g} U, this test needs {need.amount_U:g} U "
            f"({need.reckoning}) and a {RESERVOIR_MARGIN_U:g} U margin: refill the reservoir (or fit a full "
            f"cartridge) to at least {required:g} U before running it"
        )


def acknowledge_alarms(pump) -> list[str]:
    """Acknowledge every alarm the pump shows active; the ids acknowledged."""
    active = list(pump.status().active_alarms)
    for alarm_id in active:
        try:
            pump.acknowledge(alarm_id)
        except DeviceRefused as exc:
            raise StartingStateError(f"pump: alarm {alarm_id} cannot be acknowledged ({exc})") from None
    return active


def establish(
    pump, capabilities: frozenset[Capability], need: ReservoirNeed | None = None, limits: DoseLimits | None = None
) -> PumpStatus:
    """Bring the pump to the starting state with contract calls only, and check it from its STATUS (and, with auto
    mode, its auto-mode state) and, given the test's need, its reservoir; the status it starts from. `limits`: the
    dose limits to set, where the pump has them (the top of the ranges it claims)."""
    try:
        pump.stop()
    except DeviceRefused as exc:
        raise StartingStateError(f"pump refused STOP, which the contract says it always accepts: {exc}") from None
    if Capability.FAULT_INJECTION in capabilities:
        try:  # a fault an earlier test or a bench left injected
            acting = pump.inject_fault(None)
        except DeviceRefused as exc:
            if exc.code != "UNKNOWN_COMMAND":  # a pump without the hook has none to clear
                raise StartingStateError(f"pump refused to clear an injected fault: {exc}") from None
        else:
            if acting is not None:
                raise StartingStateError(f"pump: its hook says {acting} still acts after it was cleared")
    acknowledge_alarms(pump)
    try:
        if Capability.AUTO_MODE in capabilities and pump.auto_mode().on:
            pump.auto_mode(False)
        if Capability.TEMP_BASAL in capabilities:
            pump.set_temp_basal(0.0, 0)  # cancels a running one; none running is no change
        pump.set_basal(0.0)
        confirmed = pump.configure_limits(limits) if limits and Capability.DOSE_LIMITS in capabilities else limits
    except DeviceRefused as exc:
        raise StartingStateError(f"pump refused a starting-state command: {exc}") from None
    status = pump.status()
    problems = []
    if confirmed != limits:
        problems.append(f"dose limits {confirmed} confirmed, not the {limits} set")
    if status.state is not PumpState.SUSPENDED:
        problems.append(f"state {status.state} after STOP (not {PumpState.SUSPENDED})")
    if status.bolus is not BolusState.IDLE:
        problems.append(f"a {status.bolus} still running after STOP")
    if status.active_alarms:
        problems.append(f"alarm(s) {', '.join(status.active_alarms)} still active after acknowledgement")
    if status.basal_U_per_h != 0.0:
        problems.append(f"basal {status.basal_U_per_h:g} U/h in effect, not the 0 U/h programmed")
    if Capability.AUTO_MODE in capabilities and pump.auto_mode().on:
        problems.append("auto mode still on after it was switched off")
    if problems:
        raise StartingStateError("pump not in its starting state: " + "; ".join(problems))
    if need is not None:
        check_reservoir(status, need)
    left = pump.events()  # the previous test's, or this set-up's: none may be taken for this test's own
    if left:
        log.info("starting state: %d event(s) from before the test set aside: %s", len(left), left)
    return status
