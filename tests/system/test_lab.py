"""The lab path end to end (issue 15, docs/lab.md): a labgrid coordinator, two emulated benches each exported by
labgrid's exporter (ser2net, RFC 2217) as a place, in a private network namespace (tests/system/labgrid_lab.py).
`hil verify` on each place at once gives the direct rig's verdicts and numbers; `hil verify --places` runs both
pump units in one run and judges the requirements across them, or `--split` spreads the tests over them; a held
place is refused naming its holder, or waited for; an interrupted run stops the pump, then releases its place."""

import json
import os
import re
import shutil
import signal
import subprocess
import time
import xml.etree.ElementTree as ET

import jsonschema
import pytest

from .conftest import HIL, ROOT, Verify, event_folder, wait_for
from .labgrid_lab import Lab, Started, missing

pytestmark = pytest.mark.skipif(missing() is not None, reason=f"labgrid lab: {missing()}")

SUBSET = "DA-BOLUS-002 or OC-ALARM-003"  # two areas, short in rig time (the lab's round trips cost ~5 ms each)
RIG = {"bench-a": "fixtures/rigs/lab-emulator.yaml", "bench-b": "fixtures/rigs/lab-emulator-b.yaml"}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lab")
    second_unit = folder / "emulator-unit-2.yaml"  # bench-b holds a pump unit of its own serial number
    second_unit.write_text(f"extends: {json.dumps(str(ROOT / 'fixtures/rigs/emulator.yaml'))}\n"
                           "emulator: {pump: {serial: EMU-0002}}\n")
    lab = Lab(folder)
    try:
        lab.bench("bench-a")
        lab.bench("bench-b", str(second_unit))
        yield lab
    finally:
        lab.close()


@pytest.fixture(scope="module")
def direct(verify) -> Verify:
    """The subset on the direct rig (the emulator's ptys, no network), whose verdicts the lab must give."""
    run = verify("-k", SUBSET, "--no-report", "--no-figures")
    assert run.code == 0, run.output[-3000:]
    return run


def _numbers(record: dict) -> dict:
    return {node: (test["verdict"], [(m["name"], m["value"], m["outcome"]) for m in test["measurements"]])
            for node, test in record["tests"].items()}


def _verify_in_lab(lab: Lab, name: str, place: str, *args: str) -> Started:
    return lab.hil(name, "--json", "verify", "--rig", RIG[place], *args)


def test_the_preflight_acquires_the_place_shows_it_and_gives_it_back(lab):
    # first, on the benches as they start: a later run's last test may leave an alarm on the pump, which the
    # preflight rightly blocks (the exported emulator, like a pump, is not restarted between campaigns)
    checked = lab.run(HIL, "rig", "check", "--rig", RIG["bench-a"], "-k", "OC-ALARM-003")
    assert checked.returncode == 0, checked.stdout[-3000:] + checked.stderr[-2000:]
    assert "labgrid place bench-a" in checked.stdout and "of 127.0.0.1:20408, acquired by" in checked.stdout
    assert "pump STOP" in checked.stdout
    assert lab.holder("bench-a") is None
    conformance = lab.run(HIL, "driver", "check", "--rig", RIG["bench-a"])  # every driver over RFC 2217
    assert conformance.returncode == 0, conformance.stdout[-3000:] + conformance.stderr[-2000:]
    assert re.search(r"^driver check: (\d+) of \1 checks met", conformance.stdout, re.M), conformance.stdout[-2000:]
    assert lab.holder("bench-a") is None


def test_both_places_at_once_give_the_direct_rigs_verdicts_and_numbers_then_are_released(lab, direct):
    on_places = {place: _verify_in_lab(lab, f"both-{place}", place, "-k", SUBSET, "--no-report", "--no-figures") for place in RIG}
    for place, started in on_places.items():
        code, stdout, stderr = started.finish(600)
        run = Verify(subprocess.CompletedProcess([], code, stdout, stderr))
        assert run.code == 0, run.output[-3000:]
        assert _numbers(run.record) == _numbers(direct.record), place
        assert set(_numbers(run.record)) == {
            "tests/safety/test_dose_accuracy.py::test_bolus_accuracy[DA-BOLUS-002]",
            "tests/safety/test_occlusion.py::test_occlusion_during_bolus[OC-ALARM-003]",
        }
        provenance = run.record["rig"]["labgrid"]
        assert (provenance["coordinator"], provenance["place"]) == ("127.0.0.1:20408", place)
        assert sorted(provenance["ports"]) == ["balance", "balance-lost", "control", "pump"]
        assert all(re.fullmatch(r"rfc2217://127\.0\.0\.1:\d+\?ign_set_control", url)
                   for url in provenance["ports"].values()), provenance
        assert provenance["holder"].endswith("/" + os.environ.get("LG_USERNAME", "root"))
        assert "emulator" not in run.record["rig"]["identities"]  # the bench's emulator, not one of hil's own
        assert f"labgrid: place {place} released" in run.output
        assert lab.holder(place) is None


def _specs_with_units(folder) -> str:
    """The shipped requirements, DA-BOLUS-002 asking for 2 units judged as a set and OC-ALARM-003 for 3 each."""
    specs = folder / "specs"
    shutil.copytree(ROOT / "specs", specs)
    for file, rid, plan in (("dose-accuracy.yaml", "DA-BOLUS-002", "{count: 2, judged: set"),
                            ("occlusion.yaml", "OC-ALARM-003", "{count: 3, judged: each")):
        text = (specs / file).read_text()
        start = text.index(f"  - id: {rid}")
        at = text.index("    acceptance:", start)
        (specs / file).write_text(text[:at] + f"    units: {plan}, source: the system test's plan}}\n" + text[at:])
    return str(specs)


def _verdicts(record: dict) -> dict:
    return {node: test["verdict"] for node, test in record["tests"].items()}


def test_places_run_a_unit_on_each_and_judge_requirements_across_units(lab, direct, tmp_path):
    started = lab.hil("places", "--json", "verify", "--rig", RIG["bench-a"], "--places", "bench-a,bench-b", "-k", SUBSET,
                      "--specs", _specs_with_units(tmp_path))
    code, stdout, stderr = started.finish(900)
    run = Verify(subprocess.CompletedProcess([], code, stdout, stderr))
    assert code == 1, stdout[-3000:] + stderr[-3000:]  # OC-ALARM-003 asks for a third unit
    assert "hil: not PASS across units: OC-ALARM-003 (across-units.txt)" in stderr
    record = run.record
    assert record["kind"] == "places" and list(record["units"]) == ["bench-a", "bench-b"]
    serials = {}
    for place, unit in record["units"].items():
        unit_record = json.loads((run.run_dir / unit["folder"] / "record.json").read_text())
        assert _verdicts(unit_record) == _verdicts(direct.record), place  # each unit gives the direct rig's verdicts
        assert unit["labgrid"]["place"] == place and unit["exit_status"] == 0
        serials[place] = unit["pump"]["serial"]
        assert f"[{place}] labgrid: place {place} released" in stderr
        assert lab.holder(place) is None
    assert serials == {"bench-a": "EMU-0001", "bench-b": "EMU-0002"}
    unit_a = json.loads((run.run_dir / "units/bench-a/record.json").read_text())
    assert _numbers(unit_a) == _numbers(direct.record)  # the first unit is the rig's own seed
    schema = jsonschema.Draft202012Validator(json.loads((ROOT / "hil/run/record.schema.json").read_text()))
    for valid in (record, unit_a):  # the run's record and its units': both shapes of the published schema
        schema.validate(valid)
    cases = {c.get("name"): c for c in ET.parse(run.run_dir / "junit.xml").getroot().iter("testcase")}
    assert [tag for tag in ("failure", "error") if cases["OC-ALARM-003"].find(tag) is not None]  # not green
    assert [e.tag for e in cases["DA-BOLUS-002"]] == ["properties"]  # passed across units
    across = {a["requirement"]: a for a in record["across_units"]}
    assert across["DA-BOLUS-002"]["verdict"] == "PASS", across["DA-BOLUS-002"]
    assert [m["name"].split(" (")[0] for m in across["DA-BOLUS-002"]["set"]] == [
        "bolus_mean_error", "bolus_share_within[band_pct=15]", "record_disagreement"]  # the last: the record cross-check
    assert all("(mean of 2 units, t = 12.7)" in m["name"] and m["outcome"] == "PASS"
               for m in across["DA-BOLUS-002"]["set"])
    assert across["OC-ALARM-003"]["verdict"] == "INCONCLUSIVE"
    assert across["OC-ALARM-003"]["reason"] == "2 units passed of the 3 the requirement asks for"
    table = (run.run_dir / "across-units.txt").read_text()
    assert re.search(r"^  bench-b +EMU-0002 +PASS +", table, re.M) and "mean of 2" in table and table in stderr
    assert (run.run_dir / "report" / "index.html").exists()
    verified = lab.run(HIL, "evidence", "verify", str(run.run_dir))  # units/ sealed with the run
    assert verified.returncode == 0, verified.stdout + verified.stderr
    merged = [json.loads(p.read_text()) for p in (run.run_dir / "allure-results").glob("*-result.json")]
    units_of = sorted(p["value"] for r in merged for p in r.get("parameters", []) if p["name"] == "unit")
    assert units_of == ["bench-a (EMU-0001)"] * 2 + ["bench-b (EMU-0002)"] * 2  # its 2 tests (audit documents are not tests)
    assert len({r["historyId"] for r in merged}) == len(merged)  # no unit shown as a retry of another
    assert {"bench-a-traceability-matrix.csv", "bench-b-traceability-matrix.csv"} <= {
        doc.name for doc in (run.run_dir / "audit").iterdir()}  # each unit's audit documents in the run's report
    resumed = lab.run(HIL, "verify", "--resume", str(run.run_dir))
    assert resumed.returncode == 1 and resumed.stderr.startswith(f"resume refused: {run.run_dir.name} is a run across")


def test_split_spreads_the_tests_over_the_places(lab, direct):
    started = lab.hil("split", "--json", "verify", "--rig", RIG["bench-a"], "--places", "bench-a,bench-b", "--split",
                      "-k", SUBSET, "--no-report", "--no-figures")
    code, stdout, stderr = started.finish(900)
    run = Verify(subprocess.CompletedProcess([], code, stdout, stderr))
    assert code == 0, stdout[-3000:] + stderr[-3000:]
    ran = {}
    for place, unit in run.record["units"].items():
        unit_record = json.loads((run.run_dir / unit["folder"] / "record.json").read_text())
        assert len(unit_record["tests"]) == 1, place  # one test each: the campaign in about half the time
        ran.update(_verdicts(unit_record))
    assert ran == _verdicts(direct.record)
    assert {a["requirement"]: a["verdict"] for a in run.record["across_units"]} == {
        "DA-BOLUS-002": "PASS", "OC-ALARM-003": "PASS"}
    assert all(lab.holder(place) is None for place in RIG)


def test_ctrl_c_stops_every_units_pump_then_releases_the_places(lab):
    started = lab.hil("places-ctrl-c", "--json", "verify", "--rig", RIG["bench-a"], "--places", "bench-a,bench-b",
                      "-k", "DA-BASAL-002", "--no-report", "--no-figures")
    run_dir = wait_for(lambda: event_folder(started.out.read_text()), 120, "the run to start")
    for place in RIG:
        csv = wait_for(lambda: next(run_dir.glob(f"units/{place}/tests/*/balance.csv"), None), 120, "recording")
        wait_for(lambda: csv.read_text().count("\n") > 20, 120, f"20 balance samples on {place}")
    os.killpg(started.process.pid, signal.SIGINT)  # a terminal's Ctrl-C: hil and both units' processes
    code, stdout, stderr = started.finish(400)
    assert code == 130, stdout[-3000:] + stderr[-3000:]
    record = json.loads((run_dir / "record.json").read_text())
    assert record["interrupted"]["signal"] == "SIGINT"
    for place in RIG:
        unit = json.loads((run_dir / f"units/{place}/record.json").read_text())
        actions = unit["safety_actions"]
        assert actions and all(a["ok"] and "acknowledged STOP" in a["detail"] for a in actions), (place, actions)
        assert f"[{place}] labgrid: place {place} released" in stderr
        assert lab.holder(place) is None
    assert "hil: run INTERRUPTED by SIGINT: sealed as an interrupted run" in stderr


def test_a_held_place_is_refused_naming_its_holder_or_waited_for(lab):
    lab.client("-p", "bench-a", "acquire", user="alice")
    try:
        refused = lab.run(HIL, "verify", "--rig", RIG["bench-a"], "-k", "OC-ALARM-003")
        assert refused.returncode == 1
        assert re.fullmatch(r"hil: place bench-a is held by [^/\s]+/alice \(since [0-9-]+ [0-9:]+ UTC\)\n",
                            refused.stderr), refused.stderr
        assert "run " not in refused.stdout  # nothing ran, nothing was written
        started = time.monotonic()
        waited = lab.run(HIL, "verify", "--rig", RIG["bench-a"], "-k", "OC-ALARM-003", "--wait", "2")
        assert waited.returncode == 1 and time.monotonic() - started >= 2
        assert re.search(r"held by \S+/alice .*; waited 2 s$", waited.stderr.strip()), waited.stderr
        checked = lab.run(HIL, "rig", "check", "--rig", RIG["bench-a"], "-k", "OC-ALARM-003")
        assert checked.returncode == 1 and "held by" in checked.stdout + checked.stderr
        both = lab.run(HIL, "--json", "verify", "--rig", RIG["bench-a"], "--places", "bench-b,bench-a", "-k", "OC-ALARM-003",
                       "--no-report", "--no-figures")
        assert both.returncode == 1, both.stdout[-3000:] + both.stderr[-2000:]  # bench-a's unit did not run
        assert re.search(r"^\[bench-a\] hil: place bench-a is held by \S+/alice", both.stderr, re.M)
        record = Verify(both).record
        assert (record["units"]["bench-a"]["exit_status"], record["units"]["bench-a"]["tests"]) == (1, 0)
        assert re.search(r"^  bench-a +\? +not run +—$", (Verify(both).run_dir / "across-units.txt").read_text(), re.M)
        assert lab.holder("bench-b") is None
        assert lab.holder("bench-a").endswith("/alice")
        for signum in (signal.SIGINT, signal.SIGTERM):  # a Ctrl-C, a service stopped: while hil waits in the queue
            impatient = _verify_in_lab(lab, f"impatient-{signum.name}", "bench-a", "-k", "OC-ALARM-003", "--wait", "120")
            wait_for(lambda: "state: waiting" in lab.client("reservations"), 30, "hil's reservation")
            os.killpg(impatient.process.pid, signum)
            code, stdout, stderr = impatient.finish(60)
            assert code == 128 + signum and stdout == ""  # no run opened: no event
            assert stderr.splitlines()[-1] == f"hil: {signum.name} while acquiring place bench-a: nothing ran", stderr
            assert lab.client("reservations").strip() == ""  # cancelled, not left to expire
        patient = _verify_in_lab(lab, "patient", "bench-a", "-k", "OC-ALARM-003", "--no-report", "--no-figures", "--wait", "120")
        wait_for(lambda: "state: waiting" in lab.client("reservations"), 30, "hil's reservation")
        assert patient.process.poll() is None  # waiting on its reservation
    finally:
        lab.client("-p", "bench-a", "release", user="alice")
    code, stdout, stderr = patient.finish(300)
    assert code == 0, stdout[-2000:] + stderr[-2000:]
    assert "PASSED tests/safety/test_occlusion.py::test_occlusion_during_bolus[OC-ALARM-003]" in stderr
    assert lab.holder("bench-a") is None


def test_ctrl_c_stops_the_pump_then_releases_the_place(lab):
    started = _verify_in_lab(lab, "ctrl-c", "bench-b", "-k", "DA-BASAL-002", "--no-report", "--no-figures")
    run_dir = wait_for(lambda: event_folder(started.out.read_text()), 120, "the run to start")
    assert started.err.read_text().startswith("labgrid: place bench-b of 127.0.0.1:20408 acquired by ")
    csv = wait_for(lambda: next(run_dir.glob("tests/*/balance.csv"), None), 120, "the recording to start")
    wait_for(lambda: csv.read_text().count("\n") > 20, 120, "20 balance samples over RFC 2217")
    assert lab.holder("bench-b") is not None
    os.killpg(started.process.pid, signal.SIGINT)  # a terminal's Ctrl-C
    code, stdout, stderr = started.finish(300)
    assert code == 130, stdout[-2000:] + stderr[-2000:]
    record = json.loads((run_dir / "record.json").read_text())
    actions = record["safety_actions"]
    assert actions and all(a["ok"] and "acknowledged STOP" in a["detail"] for a in actions), actions
    assert record["interrupted"]["signal"] == "SIGINT"
    assert stderr.rstrip().endswith("labgrid: place bench-b released"), stderr[-2000:]
    assert lab.holder("bench-b") is None
