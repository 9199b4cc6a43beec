"""`junit.xml`: a run's tests as JUnit XML, for a CI dashboard (GitLab, Jenkins, GitHub's test reporters).

It must never read better than the run: only PASS passes. FAIL and INCONCLUSIVE are <failure> (INCONCLUSIVE fails
a test: the rig could not show the bound met); ERROR, INTERRUPTED, a test the run never reached (NOT RUN), a test
skipped because the rig had broken, and any word it does not know are <error>; only a test skipped for its own
reason (a capability the pump lacks) is <skipped>. One more case, `run · rig and pump stopped`, is an <error> when
the rig broke, the pump did not acknowledge a STOP, a signal interrupted the run or the harness left the record
unfinished. Each case's properties
carry its requirements, verdict, failure class and every measurement against its limits; the suite's carry what the
run is (its kind: an emulated rig is not evidence of a device). A run across places lists every selected test of
each unit as `<test> · <place>` (NOT RUN where its unit never reached it), each unit's ending, and each requirement
judged across units."""

import re
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

from hil.evidence import run_kind
from hil.evidence.run_kind import Ending
from hil.evidence.verdict import NOT_RUN, FailureClass, Verdict, shown_word
from hil.run.record import MeasurementEntry, PlacesRecord, RunKindEntry, RunRecord, TestEntry

FILE = "junit.xml"
RUN_CASE = "run · rig and pump stopped"
_FAILURE = {Verdict.FAIL, Verdict.INCONCLUSIVE}
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")  # outside XML 1.0's Char


def _text(value: str) -> str:
    """A device's bytes or a traceback may hold characters XML 1.0 cannot carry: each becomes U+FFFD."""
    return _NOT_XML.sub("\ufffd", value)


def _limits(m: MeasurementEntry) -> str:
    low = "" if m.low is None else f"{m.low:g} ≤ "
    high = "" if m.high is None else f" ≤ {m.high:g}"
    value = "not finite" if m.value is None else f"{m.value:.6g}"
    uncertainty = "" if not m.uncertainty else f" ± {m.uncertainty:.2g}"
    return f"{m.outcome}: {low}{value}{uncertainty}{high} {m.unit}".strip()


def _element(word: str, failure_class: str | None) -> str | None:
    """The JUnit element a verdict word gets (None: passed); fails closed on a word it does not know."""
    if word == Verdict.PASS:
        return None
    if word in _FAILURE:
        return "failure"
    if word == Verdict.SKIPPED and failure_class != FailureClass.RIG:
        return "skipped"
    return "error"


def _case(
    parent: ET.Element,
    node: str,
    word: str,
    reason: str,
    test: TestEntry | None = None,
    requirements: list[str] | None = None,
) -> None:
    path, _, name = node.partition("::")
    seconds = sum(phase.duration_s for phase in test.phases.values()) if test else 0.0
    case = ET.SubElement(
        parent,
        "testcase",
        name=_text(name or node),
        classname=_text(path.removesuffix(".py").replace("/", ".")),
        file=_text(path),
        time=f"{seconds:.3f}",
    )
    properties = ET.SubElement(case, "properties")
    for rid in test.requirements if test else requirements or []:
        ET.SubElement(properties, "property", name="requirement", value=_text(rid))
    ET.SubElement(properties, "property", name="verdict", value=_text(word))
    failure_class = test.failure_class if test else None
    if failure_class:
        ET.SubElement(properties, "property", name="failure_class", value=failure_class)
    for m in (test.measurements or []) if test else []:
        ET.SubElement(properties, "property", name=_text(f"measurement {m.name}"), value=_text(_limits(m)))
    if (element := _element(word, failure_class)) is not None:
        detail = ET.SubElement(case, element, message=_text(f"{word}: {reason}"), type=_text(word))
        message = next((p.message for p in (test.phases.values() if test else []) if p.message), None)
        if message and element != "skipped":
            detail.text = _text(message)


def _run_case(suite: ET.Element, record: RunRecord) -> None:
    """The run's own case: its rig sound, every STOP acknowledged, its record finished by the run itself."""
    problems = [f"rig broken: {record.rig_broken}"] if record.rig_broken else []
    if record.interrupted:
        problems.append(f"interrupted by {record.interrupted.signal or 'a signal'}")
    problems += [f"STOP not acknowledged ({a.reason}): {a.detail}" for a in record.safety_actions if not a.ok]
    problems += [f"record not finished by the run: {record.abandoned}"] if record.abandoned else []
    _case(suite, f"run::{RUN_CASE}", "ERROR" if problems else Verdict.PASS, "; ".join(problems))


def _places_cases(suite: ET.Element, record: PlacesRecord) -> None:
    for node, requirements in record.unit_selected.items():
        word = record.unit_verdicts.get(node, NOT_RUN)
        _case(suite, node, word, "as the unit's own record says", requirements=requirements)
    for place, unit in record.units.items():
        ending = record.unit_endings.get(place)
        sound = unit.exit_status == 0 and ending is Ending.COMPLETE and unit.rig_sound is True
        reason = f"exit status {unit.exit_status}, {ending.value if ending else 'no record'}" + (
            ", its rig broke or a STOP went unacknowledged" if unit.rig_sound is False else ""
        )
        _case(suite, f"units::{place}", Verdict.PASS if sound else "ERROR", reason)
    for judged in record.across_units:
        _case(
            suite,
            f"across units::{judged.requirement}",
            judged.verdict,
            judged.reason,
            requirements=[judged.requirement],
        )


def _tally(suite: ET.Element) -> None:
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    for element, attribute in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
        suite.set(attribute, str(sum(c.find(element) is not None for c in cases)))
    suite.set("time", f"{sum(float(c.get('time', 0)) for c in cases):.3f}")


def document(record: RunRecord | PlacesRecord) -> ET.ElementTree:
    kind = record.run_kind or RunKindEntry(**run_kind.of(record.model_dump(mode="json", by_alias=True)).as_record())
    disclaimer = kind.evidence.disclaimer
    root = ET.Element("testsuites", name=f"hil run {record.run_id}")
    title = " · ".join([record.run_id, kind.words, *([disclaimer] if disclaimer else [])])
    started = datetime.fromisoformat(record.started).replace(tzinfo=None).isoformat()  # UTC; JUnit's XSD: no offset
    suite = ET.SubElement(root, "testsuite", name=title, timestamp=started)
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("run_id", record.run_id),
        ("run_kind", kind.words),
        ("evidence", kind.evidence.value),
        ("rig", record.rig.id if record.rig else ""),
    ):
        ET.SubElement(properties, "property", name=name, value=_text(value))
    if isinstance(record, PlacesRecord):
        _places_cases(suite, record)
    else:
        for node, requirements in record.selected.items():
            test = record.tests.get(node)
            word = shown_word(test.model_dump() if test else None)
            reason = (test.reason if test else None) or (
                "never started" if word == NOT_RUN else "ended without a verdict"
            )
            _case(suite, node, word, reason, test, requirements)
        _run_case(suite, record)
    _tally(suite)
    for attribute in ("tests", "failures", "errors", "skipped", "time"):
        root.set(attribute, suite.get(attribute, "0"))
    ET.indent(root)
    return ET.ElementTree(root)


def write_junit(run_dir: Path, record: RunRecord | PlacesRecord) -> Path:
    """The `hil.outputs` entry point: junit.xml in the run folder."""
    path = Path(run_dir) / FILE
    document(record).write(path, encoding="utf-8", xml_declaration=True)
    return path
