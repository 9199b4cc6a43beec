"""`junit.xml`: a run's tests as JUnit XML, for a CI dashboard (GitLab, Jenkins, GitHub's test reporters).

One <testcase> per selected test, its verdict mapped so that only PASS reads as passed: FAIL and INCONCLUSIVE are
<failure> (INCONCLUSIVE fails a test: the rig could not show the bound met), ERROR and INTERRUPTED <error>, a test
the run never reached <error> "NOT RUN" (an interrupted run must not look green), SKIPPED <skipped>. Its
properties carry the requirements it judged, the verdict, the failure class and every measurement against its
limits; the suite's carry what the run is (its kind: an emulated rig is not evidence of a device). A run across
places lists each unit's tests as `<test> · <place>` and each requirement judged across units."""

import xml.etree.ElementTree as ET
from pathlib import Path

from hil.evidence import run_kind
from hil.evidence.verdict import NOT_RUN, Verdict, shown_word
from hil.run.record import MeasurementEntry, PlacesRecord, RunKindEntry, RunRecord, TestEntry

FILE = "junit.xml"
_ELEMENT = {
    Verdict.FAIL: "failure",
    Verdict.INCONCLUSIVE: "failure",
    Verdict.ERROR: "error",
    Verdict.INTERRUPTED: "error",
    NOT_RUN: "error",
    Verdict.SKIPPED: "skipped",
}


def _limits(m: MeasurementEntry) -> str:
    low = "" if m.low is None else f"{m.low:g} ≤ "
    high = "" if m.high is None else f" ≤ {m.high:g}"
    value = "not finite" if m.value is None else f"{m.value:.6g}"
    uncertainty = "" if not m.uncertainty else f" ± {m.uncertainty:.2g}"
    return f"{m.outcome}: {low}{value}{uncertainty}{high} {m.unit}".strip()


def _case(parent: ET.Element, node: str, word: str, test: TestEntry | None, reason: str) -> None:
    path, _, name = node.partition("::")
    seconds = sum(phase.duration_s for phase in test.phases.values()) if test else 0.0
    case = ET.SubElement(
        parent,
        "testcase",
        name=name or node,
        classname=path.removesuffix(".py").replace("/", "."),
        file=path,
        time=f"{seconds:.3f}",
    )
    properties = ET.SubElement(case, "properties")
    for rid in test.requirements if test else []:
        ET.SubElement(properties, "property", name="requirement", value=rid)
    ET.SubElement(properties, "property", name="verdict", value=word)
    if test and test.failure_class:
        ET.SubElement(properties, "property", name="failure_class", value=test.failure_class)
    for m in (test.measurements or []) if test else []:
        ET.SubElement(properties, "property", name=f"measurement {m.name}", value=_limits(m))
    if (element := _ELEMENT.get(word)) is not None:
        detail = ET.SubElement(case, element, message=f"{word}: {reason}", type=word)
        message = next((p.message for p in (test.phases.values() if test else []) if p.message), None)
        if message and element != "skipped":
            detail.text = message


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
    suite = ET.SubElement(root, "testsuite", name=title, timestamp=record.started)
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("run_id", record.run_id),
        ("run_kind", kind.words),
        ("evidence", kind.evidence.value),
        ("rig", record.rig.id if record.rig else ""),
    ):
        ET.SubElement(properties, "property", name=name, value=value)
    if isinstance(record, PlacesRecord):
        for node, word in record.unit_verdicts.items():
            _case(suite, node, word, None, "as the unit's own record says")
        for judged in record.across_units:
            _case(suite, f"across units::{judged.requirement}", judged.verdict, None, judged.reason)
    else:
        for node in record.selected:
            test = record.tests.get(node)
            word = shown_word(test.model_dump() if test else None)
            reason = (test.reason if test else None) or (
                "never started" if word == NOT_RUN else "ended without a verdict"
            )
            _case(suite, node, word, test, reason)
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
