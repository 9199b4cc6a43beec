"""Preflight (`hil rig check`): before committing days to a campaign, is this rig fit to start it? What can be
known from the files (the balance's resolution against every selected requirement, as the tests' fitness check
computes it; calibration and blank-run dates), then from the rig itself (every instrument identifies itself; the
pump answers, has no active alarm and acknowledges STOP; each balance gives a stable reading; the balance weighs
a known delivery of the pump, the weighed tests' coupling check; each actuator responds or is an operator prompt),
and how long the campaign will take in rig time. A blocker is anything that would end the campaign in a rig fault
or an INCONCLUSIVE verdict."""

import math
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path

from hil.drivers import registry
from hil.drivers.contracts import Capability, OcclusionValve, Scale
from hil.errors import DeviceRefused, RigError
from hil.evidence.run import rig_times
from hil.procedures import delivery
from hil.procedures.fitness import Prediction, balance_needed, predictions, resolves
from hil.procedures.gravimetric import Gravimetry
from hil.rig.config import RigConfig
from hil.rig.rig import Rig
from hil.specs.model import Bound, Requirement

BALANCES = ("scale", "lost_scale")


class Status(StrEnum):
    OK = "ok"
    INFO = "info"  # nothing to decide: shown for the operator
    WARNING = "warning"  # the campaign may start, but the operator should look (an identity that looks wrong)
    BLOCKER = "BLOCKER"


@dataclass(frozen=True)
class Check:
    item: str
    found: str
    status: Status


def fitness(config: RigConfig, requirements: list[Requirement]) -> list[Check]:
    """Every weighed bound of the selected requirements that the rig's data predict (hil.procedures.fitness): its
    expanded uncertainty, and for a two-sided bound its test uncertainty ratio. A bound this rig cannot PASS an exact
    pump on (a ratio below the requirement's min_tur, or the exact value ± U reaching past a limit) is a blocker
    that names the balance that would resolve it: the test would end INCONCLUSIVE."""
    grav = Gravimetry(config)
    checks = []
    for requirement in requirements:
        if requirement.not_applicable:  # never run on this pump: nothing of it to resolve
            continue
        predicted = predictions(requirement, grav)
        for bound in requirement.acceptance:
            if bound.name not in predicted:
                continue
            found = _predicted_text(bound, predicted[bound.name])
            if resolves(bound, predicted[bound.name]):
                checks.append(Check(f"{requirement.id} {bound.name}", found, Status.OK))
            else:
                needed = balance_needed(requirement, bound, grav)
                checks.append(Check(f"{requirement.id} {bound.name}", f"{found}: {_need_text(needed)}", Status.BLOCKER))
    return checks


def _predicted_text(bound: Bound, predicted: Prediction) -> str:
    """`U = 1.33 %, TUR 3.8 (min 4)` for a two-sided bound with a ratio to reach, else where an exact pump's value
    ± U lies against the bound: `U = 0.215 U on an exact 0.05 U, limits ≤ 0.119 U`."""
    text = f"U = {predicted.U:.3g} {bound.unit}"
    if bound.min is not None and bound.max is not None and bound.min_tur is not None:
        tur = math.inf if predicted.U == 0 else (bound.max - bound.min) / 2.0 / predicted.U
        return f"{text}, TUR {tur:.2g} (min {bound.min_tur:g})"
    return f"{text} on an exact {predicted.exact:.3g} {bound.unit}, limits {bound.describe()}"


def _need_text(needed: tuple[float, float] | None) -> str:
    if needed is None:
        return "no balance resolves it: the evaporation correction and the water temperature alone are too uncertain"
    readability, repeatability = needed
    return (
        f"needs a balance of readability ≤ {_floor(readability):g} mg and repeatability ≤ {_floor(repeatability):g} mg"
    )


def _floor(value: float) -> float:
    """Two significant digits, rounded down: a balance at the figure shown still resolves the bound."""
    if value <= 0:
        return 0.0
    step = 10.0 ** (math.floor(math.log10(value)) - 1)
    return round(math.floor(value / step * (1 + 1e-9)) * step, 12)


def capabilities(config: RigConfig, needs: dict[str, dict[str, str]]) -> list[Check]:
    """What the rig's pump driver declares, and each selected test it will skip for a capability it lacks (shown,
    not a blocker: the run then says the requirement was not verified on this rig)."""
    name = config.driver_name(("pump",))
    declared = registry.capabilities(config.driver(("pump",)))
    checks = [Check(f"pump driver {name}", "declares " + (", ".join(sorted(declared)) or "no capability"), Status.INFO)]
    for node, needed in needs.items():
        missing = {capability: why for capability, why in needed.items() if Capability(capability) not in declared}
        if missing:
            found = "skipped: " + "; ".join(f"no {capability} (needed by {why})" for capability, why in missing.items())
            checks.append(Check(node.rsplit("::", 1)[-1], found, Status.INFO))
    return checks


def dates(config: RigConfig, today: date) -> list[Check]:
    """The balances' calibration due dates and the evaporation blank run's age."""
    checks = []
    for name in BALANCES:
        calibration = (config.data.get(name) or {}).get("calibration")
        if not calibration:
            continue
        due = calibration.get("due")
        try:
            due_date = date.fromisoformat(due) if due else None
        except ValueError:
            due_date = None
        if due_date is None:
            checks.append(
                Check(f"{name} calibration", f"{calibration['date']}, due {due or 'not stated'}", Status.INFO)
            )
        else:
            late = due_date < today
            checks.append(
                Check(
                    f"{name} calibration",
                    f"due {due}" + (": OVERDUE" if late else ""),
                    Status.BLOCKER if late else Status.OK,
                )
            )
    evaporation = config.section("evaporation_correction")
    measured, valid_days = evaporation.get("measured"), evaporation.get("valid_days")
    if measured is None or measured == "none":
        status = Status.INFO if config.simulated else Status.BLOCKER
        found = (
            "none: the emulated vessel's model"
            if measured == "none"
            else "no date in the rig file (evaporation_correction.measured)"
        )
        checks.append(
            Check(
                "evaporation blank run",
                found + ("" if config.simulated else ": a bench needs a dated blank run"),
                status,
            )
        )
    else:
        assert valid_days is not None  # the rig model requires it with a measured date
        expires = date.fromisoformat(measured) + timedelta(days=valid_days)
        late = expires < today
        checks.append(
            Check(
                "evaporation blank run",
                f"measured {measured}, valid {valid_days} days to {expires}" + (": EXPIRED" if late else ""),
                Status.BLOCKER if late else Status.OK,
            )
        )
    return checks


def _identity(device: str, identity: dict) -> Check:
    """An instrument's identity as it gave it; a warning with what looks wrong in it (a serial number where the
    model should be, an empty field), which goes to the record with the identity."""
    warnings = identity.get("warnings") or []
    given = ", ".join(f"{k} {v}" for k, v in identity.items() if k != "warnings")
    if warnings:
        return Check(f"{device} identity", f"{given}: {'; '.join(warnings)}", Status.WARNING)
    return Check(f"{device} identity", given, Status.OK)


def instruments(rig: Rig) -> list[Check]:
    """Ask the open rig: identities, the pump's state and alarms, a STOP, a stable reading per balance, the
    actuators. Every fault is a blocker with its message, never an exception."""
    checks = [_identity(device, identity) for device, identity in rig.identities.items()]
    if rig.acquisition is not None:
        place = rig.acquisition
        ports = ", ".join(f"{name} {url}" for name, url in sorted(place.ports.items()))
        checks.insert(
            0,
            Check(
                f"labgrid place {place.place}",
                f"of {place.coordinator}, acquired by {place.holder}: {ports}",
                Status.OK,
            ),
        )
    checks.append(_ask("pump status", lambda: _status(rig.pump.status())))
    checks.append(_ask("pump STOP", lambda: _stop(rig)))
    balances: dict[str, Scale | None] = {"scale": rig.scale, "lost_scale": rig.lost_scale}
    for name, balance in balances.items():
        if balance is not None:
            checks.append(
                _ask(f"{name} stable reading", lambda name=name, balance=balance: _stable(rig, name, balance))
            )
            # what the recordings ask between stable readings, and what each weighed test starts with
            checks.append(_ask(f"{name} immediate reading", lambda balance=balance: _immediate(balance)))
            checks.append(_ask(f"{name} tare", lambda balance=balance: f"{balance.tare() / 1000:.5f} g tared"))
    checks.append(_ask("coupling: the balance sees the pump", lambda: _coupling(rig)))
    valve = rig.occlusion_valve
    if valve is None:
        checks.append(Check("occlusion valve", "none in the rig file: occlusion tests are skipped", Status.INFO))
    elif registry.prompts_operator(rig.drivers[("actuators", "occlusion_valve")]):
        checks.append(Check("occlusion valve", "operator prompts (clamp the line when asked)", Status.INFO))
    else:
        checks.append(_ask("occlusion valve", lambda: _cycle(valve)))
    site = rig.site_faults
    if site is None:
        checks.append(Check("site fixture", "none in the rig file: insertion-site tests are skipped", Status.INFO))
    elif registry.prompts_operator(rig.drivers[("actuators", "site_faults")]):
        checks.append(Check("site fixture", "operator prompts (kink, leak, dislodge when asked)", Status.INFO))
    else:

        def restored() -> str:
            site.restore()
            return "responds: restored to normal"

        checks.append(_ask("site fixture", restored))
    if rig.reservoir is None:
        checks.append(Check("reservoir fixture", "none in the rig file: reservoir tests are skipped", Status.INFO))
    elif registry.prompts_operator(rig.drivers[("actuators", "reservoir")]):
        checks.append(Check("reservoir fixture", "operator prompts (fill and fit a reservoir when asked)", Status.INFO))
    else:
        checks.append(Check("reservoir fixture", "fits a reservoir when a test asks (not exercised here)", Status.INFO))
    return checks


class _Blocked(Exception):
    """A probe's answer that must stop the campaign (the rig answered, but not as a campaign needs)."""


def _ask(item: str, probe) -> Check:
    """The probe's finding; a blocker when it raises _Blocked or a rig fault."""
    try:
        return Check(item, probe(), Status.OK)
    except (_Blocked, RigError, DeviceRefused, OSError) as exc:
        return Check(item, str(exc), Status.BLOCKER)


def _status(status) -> str:
    text = f"{status.state}, bolus {status.bolus}, reservoir {status.reservoir_U:g} U"
    if status.active_alarms:
        raise _Blocked(f"{text}; active alarms {', '.join(status.active_alarms)}: clear them before the campaign")
    return text + ", no active alarm"


def _stop(rig: Rig) -> str:
    action = rig.make_safe("preflight")
    if not action.ok:
        raise _Blocked(action.detail)
    return action.detail


def _stable(rig: Rig, name: str, scale: Scale) -> str:
    if name == "scale":
        reading = delivery.stable_reading(rig, timeout_s=60.0)
    else:
        reading = scale.read_stable()
    return f"{reading.mass_mg / 1000:.5f} g, stable"


def _immediate(scale: Scale) -> str:
    reading = scale.read()
    if not math.isfinite(reading.mass_mg):
        raise _Blocked(f"read() gave {reading.mass_mg!r} mg: a recording needs finite readings")
    return f"{reading.mass_mg / 1000:.5f} g, {'stable' if reading.stable else 'dynamic'}"


def _coupling(rig: Rig) -> str:
    """The weighed tests' coupling check: the set primed, a known delivery weighed (docs/bench.md)."""
    infusion_set = rig.config.infusion_set
    delivery.prime(rig, infusion_set.prime_U, infusion_set.settle_s)
    check = delivery.check_coupling(rig)
    return (
        f"weighed {check.weighed_U:.4f} ± {check.U_U:.4f} U of a {check.commanded_U:g} U prime ({check.seen_pct:.1f} %)"
    )


def _cycle(valve: OcclusionValve) -> str:
    valve.close()
    valve.open()
    return "responds: closed and opened"


def duration(selected: list[str], runs: Path) -> Check:
    """The campaign's rig time, from the newest run records that timed each selected test; a test no run has
    timed yet is named."""
    timed = rig_times(runs, selected)
    total_h = sum(t for t, _ in timed.values()) / 3600.0
    missing = [node for node in selected if node not in timed]
    found = f"{total_h:.1f} h of rig time for {len(timed)} of {len(selected)} tests (from earlier runs' records)"
    if missing:
        found += f"; never timed: {', '.join(node.rsplit('::', 1)[-1] for node in missing[:5])}" + (
            f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        )
    return Check("campaign duration", found, Status.INFO)
