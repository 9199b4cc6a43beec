"""Tool validation (ISO 13485 §4.1.6, software used in verification): the detection matrix of the seeded-defect
catalogue. Each defect rig declares the requirements it must fail; the tool is shown fit when every defect is
caught by exactly those requirements and the nominal rig passes everything."""

from dataclasses import dataclass

from hil.evidence.verdict import FailureClass, Verdict

NOMINAL = "nominal"


@dataclass(frozen=True)
class Outcome:
    rig: str  # "nominal" or the defect rig's name
    run_id: str
    expected: frozenset[str]  # requirement ids the rig must fail
    observed: frozenset[str]  # requirement ids that did not pass
    errors: frozenset[str]  # of those, the ones that ended in an error (a rig or suite fault, not a finding)

    @property
    def missed(self) -> set[str]:
        return set(self.expected - self.observed)

    @property
    def extra(self) -> set[str]:
        return set(self.observed - self.expected)

    @property
    def ok(self) -> bool:
        return not self.missed and not self.extra and not self.errors


def observed_failures(record: dict) -> tuple[set[str], set[str]]:
    """Requirement ids whose tests did not pass in a run record, and those that ended in an error, an
    interrupt or a rig or suite fault (not a finding about the pump)."""
    failed, errored = set(), set()
    for test in record["tests"].values():
        if test.get("verdict") != Verdict.PASS:
            failed.update(test["requirements"])
        if test.get("verdict") in (Verdict.ERROR, Verdict.INTERRUPTED, None) \
                or test.get("failure_class") in (FailureClass.RIG, FailureClass.TEST):
            errored.update(test["requirements"])
    return failed, errored


def matrix_text(outcomes: list[Outcome]) -> str:
    """Defect × requirement: X caught as expected, MISSED expected but passed, EXTRA failed unexpectedly,
    ERROR a rig or suite fault; nominal must be empty."""
    columns = sorted({rid for o in outcomes for rid in o.expected | o.observed})
    width = max(len(o.rig) for o in outcomes)
    head = f"{'rig':<{width}}  " + "  ".join(columns)
    lines = [head]
    for o in outcomes:
        cells = []
        for rid in columns:
            cell = ("ERROR" if rid in o.errors else "X" if rid in o.expected & o.observed else
                    "MISSED" if rid in o.expected else "EXTRA" if rid in o.observed else ".")
            cells.append(cell.center(len(rid)))
        lines.append(f"{o.rig:<{width}}  " + "  ".join(cells) + ("" if o.ok else "   <-- not as declared"))
    verdict = "every seeded defect caught by exactly its requirements, nominal clean" if all(o.ok for o in outcomes) \
        else "MISMATCH: " + "; ".join(f"{o.rig}: missed {sorted(o.missed)}, extra {sorted(o.extra)}, errors {sorted(o.errors)}"
                                      for o in outcomes if not o.ok)
    return "\n".join(lines + ["", f"validation: {verdict}"]) + "\n"
