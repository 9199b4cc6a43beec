"""The requirement → tests → verdict matrix of a run, and the gate on it: every requirement has a test, every
test names a known requirement, and no selected requirement had all its tests skipped. Computed in Python
over our own record (not over Allure's output)."""

import csv
import io
import math
from dataclasses import dataclass

from hil.drivers.contracts import Capability
from hil.evidence.verdict import Verdict, shown_word
from hil.specs.model import limits_text

COLUMNS = ["requirement", "title", "test", "selected", "outcome", "verdict", "failure_class", "reason"]
BOUND_COLUMNS = [
    "requirement",
    "bound",
    "limits",
    "value ± U (k=2)",
    "outcome",
    "test verdict",
    "test",
    "origin of the limits",
]


@dataclass(frozen=True)
class Matrix:
    rows: list[dict]
    suite_problems: list[str]  # of the suites: a requirement with no test, a test naming an unknown id
    run_problems: list[str]  # of the run: a selected requirement whose tests were all skipped
    notes: list[str]  # reported, not failing (requirements left out by -k, not applicable to the device)

    @property
    def problems(self) -> list[str]:
        """Everything that fails the gate of a run."""
        return self.suite_problems + self.run_problems


def build(requirements: dict, collected: dict[str, list[str]], record: dict | None) -> Matrix:
    """requirements: id → Requirement; collected: every bound test (node id → ids) of the suites;
    record: the run's record.json (None: the matrix of the suites without a run)."""
    tests = (record or {}).get("tests", {})
    selected = set((record or {}).get("selected", {})) if record else set()
    rows, problems, skipped, notes = [], [], [], []
    for rid, req in sorted(requirements.items()):
        bound = sorted(node for node, ids in collected.items() if rid in ids)
        if not bound:
            problems.append(f"{req.file}:{req.line}: requirement {rid} has no test")
            rows.append(dict.fromkeys(COLUMNS, "") | {"requirement": rid, "title": req.title})
            continue
        for node in bound:
            test = tests.get(node, {})
            rows.append(
                {
                    "requirement": rid,
                    "title": req.title,
                    "test": node,
                    "selected": "" if record is None else ("yes" if node in selected else "no"),
                    **{key: test.get(key) or "" for key in ("outcome", "verdict", "failure_class", "reason")},
                }
            )
        if record is not None:
            chosen = [node for node in bound if node in selected]
            not_applicable = ((record.get("requirements") or {}).get(rid) or {}).get("not_applicable")
            if not chosen:
                notes.append(f"{rid}: not selected in this run")
            elif not_applicable:  # the device's claims, not the run, leave it unjudged
                notes.append(f"{rid}: not applicable: {not_applicable}")
            elif all(tests.get(node, {}).get("verdict") == Verdict.SKIPPED for node in chosen):
                reasons = sorted({tests[node].get("reason") or "no reason given" for node in chosen})
                skipped.append(
                    f"{req.file}:{req.line}: requirement {rid}: all its tests were skipped: {'; '.join(reasons)}"
                )
    for node, ids in sorted(collected.items()):
        problems += [f"{node}: names unknown requirement {rid}" for rid in ids if rid not in requirements]
    return Matrix(rows, problems, skipped, notes)


def as_text(matrix: Matrix) -> str:
    widths = {c: max(len(c), *(len(str(r[c])) for r in matrix.rows)) for c in COLUMNS} if matrix.rows else {}
    lines = ["  ".join(c.ljust(widths[c]) for c in COLUMNS)] if matrix.rows else []
    lines += ["  ".join(str(r[c]).ljust(widths[c]) for c in COLUMNS) for r in matrix.rows]
    lines += [f"PROBLEM: {p}" for p in matrix.problems] + [f"note: {n}" for n in matrix.notes]
    return "\n".join(lines) + "\n"


def bound_table(matrix: Matrix, record: dict) -> str:
    """The matrix as an auditor reads it, as CSV: requirement → each bound → its value ± U → the outcome, one line
    each, and the test's verdict; a requirement with no judged value still gets its line (its verdict, or why
    not). Informational values (no limits) are the test's, not listed here."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(BOUND_COLUMNS)
    tests = record.get("tests") or {}
    for row in matrix.rows:
        test = tests.get(row["test"]) or {}
        verdict = (
            shown_word(test) if row["selected"] == "yes" else row["verdict"] or ("not selected" if row["test"] else "")
        )
        judged = [m for m in test.get("measurements") or [] if m.get("low") is not None or m.get("high") is not None]
        test_name = row["test"].rsplit("::", 1)[-1].split("[", 1)[0]  # the requirement id is the row's own
        entry = (record.get("requirements") or {}).get(row["requirement"]) or {}
        origins = entry.get("origins") or {}
        for m in judged:
            unit = m.get("unit", "")
            writer.writerow(
                [
                    row["requirement"],
                    m["name"],
                    limits_text(m.get("low"), m.get("high"), unit),
                    f"{_number(m.get('value'))} ± {_number(m.get('uncertainty'))} {unit}",
                    m.get("outcome", ""),
                    verdict,
                    test_name,
                    origins.get(m["name"], ""),
                ]
            )
        if not judged:
            writer.writerow([row["requirement"], "", "", "", row["reason"] or "", verdict, test_name, ""])
        for text in entry.get("unclaimed") or []:  # a bound left out: the device does not claim what it needs
            name, why = text.split(":", 1)
            writer.writerow([row["requirement"], name, "", "", "not judged", verdict, test_name, why.strip()])
    return out.getvalue()


def _number(value) -> str:
    if not isinstance(value, (int, float)):
        return "?"
    return f"{value:.4g}" if math.isfinite(value) else str(value)


def capability_table(collected: dict[str, list[str]], needs: dict[str, dict[str, str]]) -> str:
    """The pump capabilities → the requirements that need one (and what in them needs it: the test, or a metric a
    bound uses), as a Markdown table: what a driver that does not declare a capability leaves unverified.
    collected: test node id → requirement ids; needs: test node id → capability → what needs it."""
    by_capability: dict[str, dict[str, set[str]]] = {}
    for node, needed in needs.items():
        for capability, why in needed.items():
            for rid in collected.get(node, []):
                reason = "its test" if why == "the test" else why.removeprefix(f"{rid}'s ")
                by_capability.setdefault(capability, {}).setdefault(rid, set()).add(reason)
    lines = ["| capability | requirements that need it (what needs it) |", "|---|---|"]
    for capability in Capability:
        needed_by = by_capability.get(capability.value, {})
        cell = "; ".join(f"{rid} ({', '.join(sorted(why))})" for rid, why in sorted(needed_by.items()))
        lines.append(f"| `{capability.name}` ({capability.value}) | {cell or 'none'} |")
    return "\n".join(lines) + "\n"
