"""Tool validation (ISO 13485 §4.1.6, software used in verification): the detection matrix of the seeded-defect
catalogue. Each defect rig declares the requirements it must fail; the tool is shown fit when every defect is
caught by exactly those requirements and the nominal rig passes everything, in every seed the campaigns ran with.
Over N seeds each cell is a count k/N with a one-sided 95 % confidence limit (Wilson score, as the site-fault
detection statistics): the lower limit of the detection probability where the defect must fail the requirement,
the upper limit of the false-failure probability where it must not (the nominal rig's cells)."""

from dataclasses import dataclass

from hil.analysis.detection import wilson_lower, wilson_upper
from hil.evidence.verdict import FailureClass, Verdict

NOMINAL = "nominal"


@dataclass(frozen=True)
class Outcome:
    """One campaign: one rig with one seed."""

    rig: str  # "nominal" or the defect rig's name
    run_id: str
    expected: frozenset[str]  # requirement ids the rig must fail
    observed: frozenset[str]  # requirement ids that did not pass
    errors: frozenset[str]  # of those, the ones that ended in an error (a rig or suite fault, not a finding)
    seed: int | None = None  # the emulator's seed (None: as the rig file sets it)
    tolerated: frozenset[str] = frozenset()  # requirements the rig may fail or pass (seeded_defect.may_violate)
    # of the observed, those the decision rule left INCONCLUSIVE (the value's interval straddles a limit): not
    # passed, so a declared one is caught, but not a FAIL either, and counted apart
    undecided: frozenset[str] = frozenset()
    # the workers this campaign was lost with before the one that ran it (hil validate --scheduler): each in a line
    requeued: tuple[str, ...] = ()
    worker: str | None = None  # the Dask worker that ran it, and its host
    # the requirements its tests judged (its record's selection); None: every one of the matrix (hil validate
    # --full-seeds: a defect's campaigns after the first seeds judge only the requirements it declares)
    judged: frozenset[str] | None = None
    recorded: bool = True  # False: the campaign left no record, an error in every cell of its rig

    def judges(self, requirement: str) -> bool:
        return not self.recorded or self.judged is None or requirement in self.judged

    @property
    def missed(self) -> set[str]:
        return set(self.expected - self.observed)

    @property
    def extra(self) -> set[str]:
        return set(self.observed - self.expected - self.tolerated)

    @property
    def ok(self) -> bool:
        return not self.missed and not self.extra and not self.errors


@dataclass(frozen=True)
class Scope:
    """What a validation ran: its seeds, the seeded-defect rigs of the catalogue it ran and left out (--only), the
    tests it selected (-k). Only a validation of every rig with every test validates the catalogue."""

    seeds: int
    run: tuple[str, ...]  # the defect rigs run
    not_run: tuple[str, ...]  # the catalogue's defect rigs left out
    k: str | None = None
    full_seeds: int | None = None  # a defect rig's seeds run with every test (None: all); the others, its declared
    # a defect rig runs only the tests of the areas of the requirements it declares or may fail (hil validate
    # --in-areas); the nominal rig runs every test
    in_areas: bool = False

    @property
    def every_test_seeds(self) -> int:
        return self.seeds if self.full_seeds is None else self.full_seeds

    @property
    def whole(self) -> bool:
        return not self.not_run and self.k is None and not self.in_areas

    def describe(self) -> str:
        rigs = f"{len(self.run)} of {len(self.run) + len(self.not_run)} seeded-defect rigs"
        if self.not_run:
            rigs += f" (only {', '.join(self.run)})" if len(self.run) <= 5 else f" ({len(self.not_run)} left out)"
        tests = "every test" if self.k is None else f"the tests -k {self.k!r} selects"
        if self.in_areas:
            tests += " (a defect rig: only those of the areas of the requirements it declares or may fail)"
        if self.every_test_seeds < self.seeds:
            tests += (
                f" (a defect rig: on its first {self.every_test_seeds}, on the others only the tests of the "
                "requirements it declares)"
            )
        return f"{rigs} and the nominal rig, {self.seeds} seed(s) each, {tests}"

    def as_json(self) -> dict:
        return {
            "whole_catalogue": self.whole,
            "seeds": self.seeds,
            "every_test_seeds": self.every_test_seeds,
            "rigs_run": list(self.run),
            "rigs_not_run": list(self.not_run),
            "k": self.k,
            "in_areas": self.in_areas,
            "described": self.describe(),
        }


@dataclass(frozen=True)
class Cell:
    """One rig × one requirement over the seeds."""

    rig: str
    requirement: str
    expected: bool  # the rig must fail it
    failed: int  # campaigns in which it did not pass
    errors: int  # of those, the ones that ended in a rig or suite fault
    runs: int  # campaigns whose tests judged it
    tolerated: bool = False  # the rig may fail it or pass it: reported, never a mismatch
    undecided: int = 0  # of the failed, the ones left INCONCLUSIVE by the decision rule

    @property
    def limit(self) -> float:
        """Expected: the lower 95 % limit of the probability of a FAIL (an INCONCLUSIVE is not one); else the upper
        limit of the probability of not passing (0-1)."""
        if self.expected:
            return wilson_lower(self.failed - self.undecided, self.runs)
        return wilson_upper(self.failed, self.runs)

    @property
    def ok(self) -> bool:
        if self.expected and not self.runs:  # declared, and no campaign's tests judged it: nothing caught
            return False
        return not self.errors and (self.tolerated or self.failed == (self.runs if self.expected else 0))

    @property
    def text(self) -> str:
        if self.expected and not self.runs:
            return "NOT JUDGED"
        if self.errors:
            return f"ERROR {self.errors}/{self.runs}"
        if self.tolerated:
            return f"may {self.failed}/{self.runs}"
        if self.expected:
            inconclusive = f"+{self.undecided}?" if self.undecided else ""
            return f"{self.failed - self.undecided}/{self.runs}{inconclusive}" + (
                "" if self.failed == self.runs else " MISSED"
            )
        if not self.runs:  # not run on this rig (hil validate --in-areas)
            return "-"
        return f"EXTRA {self.failed}/{self.runs}" if self.failed else "."


def observed_failures(record: dict) -> tuple[set[str], set[str], set[str]]:
    """Requirement ids whose tests did not pass in a run record; of those, the ones the decision rule left
    INCONCLUSIVE; and the ones that ended in an error, an interrupt, a skip (not applicable to the pump's claims, a
    capability the rig lacks) or a rig or suite fault: not a finding about the pump, nor a measurement too close to
    a limit to decide, so never a defect caught."""
    failed, undecided, errored = set(), set(), set()
    for node, ids in (record.get("selected") or {}).items():  # selected, never judged: an interrupt, not a pass
        if (record["tests"].get(node) or {}).get("verdict") is None:
            failed.update(ids)
            errored.update(ids)
    for test in record["tests"].values():
        verdict = test.get("verdict")
        if verdict != Verdict.PASS:
            failed.update(test["requirements"])
        if verdict == Verdict.INCONCLUSIVE:
            undecided.update(test["requirements"])
        elif verdict in (Verdict.ERROR, Verdict.INTERRUPTED, Verdict.SKIPPED, None) or test.get("failure_class") in (
            FailureClass.RIG,
            FailureClass.TEST,
        ):
            errored.update(test["requirements"])
    return failed, undecided, errored


def rigs(outcomes: list[Outcome]) -> list[str]:
    """The rigs in the order they were planned."""
    return list(dict.fromkeys(o.rig for o in outcomes))


def cells(outcomes: list[Outcome]) -> list[Cell]:
    """Every rig × every requirement some rig declares or some campaign failed, counted over the seeds."""
    columns = sorted({rid for o in outcomes for rid in o.expected | o.observed | o.tolerated})
    table = []
    for rig in rigs(outcomes):
        campaigns = [o for o in outcomes if o.rig == rig]
        for rid in columns:
            runs = [o for o in campaigns if o.judges(rid)]
            table.append(
                Cell(
                    rig,
                    rid,
                    rid in campaigns[0].expected,
                    sum(rid in o.observed or not o.recorded for o in runs),
                    sum(rid in o.errors or not o.recorded for o in runs),
                    len(runs),
                    rid in campaigns[0].tolerated,
                    sum(rid in o.undecided for o in runs),
                )
            )
    return table


def matrix_text(outcomes: list[Outcome], scope: Scope) -> str:
    """Defect × requirement over the seeds: k/N caught where declared (MISSED when k < N), EXTRA k/N failed
    unexpectedly, "may k/N" where the defect may fail or pass (declared may_violate), ERROR k/N a rig or suite
    fault, "." never failed, "-" not run on that rig; the nominal row must be all "."; then the detection and
    false-failure figures with their confidence limits."""
    table = cells(outcomes)
    columns = list(dict.fromkeys(c.requirement for c in table))
    widths = {rid: max([len(rid)] + [len(c.text) for c in table if c.requirement == rid]) for rid in columns}
    width = max(len(rig) for rig in rigs(outcomes))
    lines = [f"{'rig':<{width}}  " + "  ".join(rid.center(widths[rid]) for rid in columns)]
    for rig in rigs(outcomes):
        row = [c for c in table if c.rig == rig]
        wrong = not all(c.ok for c in row)
        lines.append(
            f"{rig:<{width}}  "
            + "  ".join(c.text.center(widths[c.requirement]) for c in row)
            + ("   <-- not as declared" if wrong else "")
        )
    lines += [""]
    if scope.in_areas:
        lines.append(
            "- : not run on that rig: outside the areas of the requirements the defect declares or may fail, where no "
            "extra failure was checked (hil validate without --in-areas runs every test on every rig)"
        )
    if scope.every_test_seeds < scope.seeds:
        m = scope.every_test_seeds
        lines.append(
            f"extra failures (a requirement a defect does not declare, not passed) checked on each defect rig's first "
            f"{m} seed(s), where every test{' of its areas' if scope.in_areas else ''} ran: none in {m} bounds their "
            "probability at "
            f"{100 * wilson_upper(0, m):.1f} % (one-sided 95 %, Wilson score), against "
            f"{100 * wilson_upper(0, scope.seeds):.1f} % over all {scope.seeds}; the nominal rig ran every test on "
            "every seed"
        )
    lines.append(
        f"detection over {scope.seeds} seed(s): declared requirement failed k/N, one-sided 95 % lower limit "
        "(Wilson score); +j? the campaigns in which the decision rule left it INCONCLUSIVE (not passed, "
        "not a FAIL)",
    )
    name_width = max((len(c.rig) + len(c.requirement) + 3 for c in table), default=0)  # none: nothing failed
    for c in table:
        if c.tolerated:
            lines.append(
                f"  {c.rig + ' × ' + c.requirement:<{name_width}}  {f'{c.failed}/{c.runs}':>7}  "
                "(may fail: the defect's effect straddles the bound)"
            )
        elif c.expected and not c.runs:
            lines.append(f"  {c.rig + ' × ' + c.requirement:<{name_width}}  no campaign's tests judged it")
        elif c.expected:
            count = f"{c.failed - c.undecided}/{c.runs}"
            lines.append(
                f"  {c.rig + ' × ' + c.requirement:<{name_width}}  {count:>7}  ≥ {100 * c.limit:5.1f} %"
                + (f"  ({c.undecided} INCONCLUSIVE, never PASS)" if c.undecided else "")
                + (f"  ({c.errors} errors)" if c.errors else "")
            )
    nominal = [o for o in outcomes if o.rig == NOMINAL]
    if nominal:
        false = sum(bool(o.observed) for o in nominal)
        lines.append(
            f"false failures of the nominal rig: {false}/{len(nominal)} campaigns with any requirement not "
            f"passed, one-sided 95 % upper limit {100 * wilson_upper(false, len(nominal)):.1f} %"
        )
    verdict = (
        verdict_line(scope)
        if all(o.ok for o in outcomes)
        else "MISMATCH: "
        + "; ".join(
            f"{o.rig}{'' if o.seed is None else f' seed {o.seed}'}: missed {sorted(o.missed)}, extra "
            f"{sorted(o.extra)}, errors {sorted(o.errors)}"
            for o in outcomes
            if not o.ok
        )
    )
    requeued = [
        f"  {o.rig}{'' if o.seed is None else f' seed {o.seed}'} (run {o.run_id}, on {o.worker}): {line}"
        for o in outcomes
        for line in o.requeued
    ]
    if requeued:
        lines += ["", "campaigns re-queued after their worker was lost:", *requeued]
    return "\n".join(lines + ["", f"scope: {scope.describe()}", f"validation: {verdict}"]) + "\n"


def verdict_line(scope: Scope) -> str:
    """What a validation in which every campaign went as declared may claim: the catalogue only when it ran all of
    it, with every test; "exactly" over the seeds that ran every test."""
    if scope.whole and scope.every_test_seeds < scope.seeds:
        return (
            f"every seeded defect caught by its requirements in all {scope.seeds} seeds, and by exactly them in the "
            f"first {scope.every_test_seeds} (every test), nominal clean"
        )
    if scope.whole:
        return "every seeded defect caught by exactly its requirements, nominal clean"
    return (
        f"PARTIAL ({scope.describe()}): each rig run caught by exactly its requirements among the tests it ran, "
        "nominal clean; not a validation of the seeded-defect catalogue"
    )


def as_json(outcomes: list[Outcome], scope: Scope) -> dict:
    """The campaigns and the cells, for detection-matrix.json."""
    return {
        "scope": scope.as_json(),
        "runs": [
            {
                "rig": o.rig,
                "seed": o.seed,
                "run": o.run_id,
                "expected": sorted(o.expected),
                "tolerated": sorted(o.tolerated),
                "observed": sorted(o.observed),
                "inconclusive": sorted(o.undecided),
                "errors": sorted(o.errors),
                "ok": o.ok,
                "worker": o.worker,
                "requeued": list(o.requeued),
                "judged": None if o.judged is None else sorted(o.judged),
                "recorded": o.recorded,
            }
            for o in outcomes
        ],
        "cells": [
            {
                "rig": c.rig,
                "requirement": c.requirement,
                "expected": c.expected,
                "tolerated": c.tolerated,
                "failed": c.failed,
                "inconclusive": c.undecided,
                "errors": c.errors,
                "runs": c.runs,
                "ok": c.ok,
            }
            | (
                {}
                if c.tolerated or not c.runs  # may fail; or no campaign judged it: no limit (0 of 0 has none)
                else {("detection_lower_95" if c.expected else "false_failure_upper_95"): round(c.limit, 4)}
            )
            for c in cells(outcomes)
        ],
        "ok": all(o.ok for o in outcomes),
    }
