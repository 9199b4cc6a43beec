"""The state every test starts from, set and checked through the Pump contract alone, on any pump: a bench pump
keeps its state between tests (the basal it was last given, an alarm left unacknowledged, auto mode on), and only
the reference emulator can be RESET.

The starting state: delivery stopped (STOP), no bolus running, no active or unacknowledged alarm, no temporary
basal, auto mode off, a basal programme of 0 U/h (so a test that resumes delivery to weigh a bolus weighs the
bolus alone; a test that needs a basal sets its own), and no event left over from before (an occlusion alarm of the
previous test taken as this one's would time an alarm at zero). The case's settings (occlusion back-off, low-glucose
suspend, auto mode's) are set by the test that needs them. A pump that cannot be brought there is the rig's ERROR
(StartingStateError), never a finding about the pump.
"""

import logging

from hil.drivers.contracts import BolusState, Capability, PumpState, PumpStatus
from hil.errors import DeviceRefused, StartingStateError

log = logging.getLogger(__name__)


def acknowledge_alarms(pump) -> list[str]:
    """Acknowledge every alarm the pump shows active; the ids acknowledged."""
    active = list(pump.status().active_alarms)
    for alarm_id in active:
        try:
            pump.acknowledge(alarm_id)
        except DeviceRefused as exc:
            raise StartingStateError(f"pump: alarm {alarm_id} cannot be acknowledged ({exc})") from None
    return active


def establish(pump, capabilities: frozenset[Capability]) -> PumpStatus:
    """Bring the pump to the starting state with contract calls only, and check it from its STATUS (and, with auto
    mode, its auto-mode state); the status it starts from."""
    try:
        pump.stop()
    except DeviceRefused as exc:
        raise StartingStateError(f"pump refused STOP, which the contract says it always accepts: {exc}") from None
    acknowledge_alarms(pump)
    try:
        if Capability.AUTO_MODE in capabilities and pump.auto_mode().on:
            pump.auto_mode(False)
        if Capability.TEMP_BASAL in capabilities:
            pump.set_temp_basal(0.0, 0)  # cancels a running one; none running is no change
        pump.set_basal(0.0)
    except DeviceRefused as exc:
        raise StartingStateError(f"pump refused a starting-state command: {exc}") from None
    status = pump.status()
    problems = []
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
    left = pump.events()  # the previous test's, or this set-up's: none may be taken for this test's own
    if left:
        log.info("starting state: %d event(s) from before the test set aside: %s", len(left), left)
    return status
