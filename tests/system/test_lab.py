"""The lab path end to end (issue 15, docs/lab.md): a labgrid coordinator, two emulated benches each exported by
labgrid's exporter (ser2net, RFC 2217) as a place, in a private network namespace (tests/system/labgrid_lab.py).
`hil verify` on each place at once gives the direct rig's verdicts and numbers; a held place is refused naming its
holder, or waited for; an interrupted run stops the pump, then releases its place."""

import json
import os
import re
import signal
import subprocess
import time

import pytest

from .conftest import HIL, ROOT, Verify, wait_for
from .labgrid_lab import Lab, missing

pytestmark = pytest.mark.skipif(missing() is not None, reason=f"labgrid lab: {missing()}")

SUBSET = "DA-BOLUS-002 or OC-ALARM-003"  # two areas, short in rig time (the lab's round trips cost ~5 ms each)
RIG = {"bench-a": "fixtures/rigs/lab-emulator.yaml", "bench-b": "fixtures/rigs/lab-emulator-b.yaml"}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    lab = Lab(tmp_path_factory.mktemp("lab"))
    try:
        for place in RIG:
            lab.bench(place)
        yield lab
    finally:
        lab.close()


def _numbers(record: dict) -> dict:
    return {node: (test["verdict"], [(m["name"], m["value"], m["outcome"]) for m in test["measurements"]])
            for node, test in record["tests"].items()}


def _verify_in_lab(lab: Lab, place: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(["ip", "netns", "exec", lab.netns, HIL, "verify", "--rig", RIG[place], *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def test_both_places_at_once_give_the_direct_rigs_verdicts_and_numbers_then_are_released(lab, verify):
    on_places = {place: _verify_in_lab(lab, place, "-k", SUBSET, "--no-report") for place in RIG}
    direct = verify("-k", SUBSET, "--no-report")
    assert direct.code == 0, direct.output[-3000:]
    for place, process in on_places.items():
        stdout, stderr = process.communicate(timeout=600)
        run = Verify(subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr))
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
        assert lab.holder("bench-a").endswith("/alice")
        patient = _verify_in_lab(lab, "bench-a", "-k", "OC-ALARM-003", "--no-report", "--wait", "120")
        time.sleep(3)
        assert patient.poll() is None  # waiting on its reservation
    finally:
        lab.client("-p", "bench-a", "release", user="alice")
    stdout, stderr = patient.communicate(timeout=300)
    assert patient.returncode == 0, stdout[-2000:] + stderr[-2000:]
    assert "PASSED tests/safety/test_occlusion.py::test_occlusion_during_bolus[OC-ALARM-003]" in stdout
    assert lab.holder("bench-a") is None


def test_ctrl_c_stops_the_pump_then_releases_the_place(lab):
    process = _verify_in_lab(lab, "bench-b", "-k", "DA-BASAL-002", "--no-report")
    first, second = process.stdout.readline(), process.stdout.readline()
    assert first.startswith("labgrid: place bench-b of 127.0.0.1:20408 acquired by "), first
    run_dir = ROOT / "reports" / "runs" / re.match(r"run (\S+):", second).group(1)
    csv = wait_for(lambda: next(run_dir.glob("tests/*/balance.csv"), None), 120, "the recording to start")
    wait_for(lambda: csv.read_text().count("\n") > 20, 120, "20 balance samples over RFC 2217")
    assert lab.holder("bench-b") is not None
    os.killpg(process.pid, signal.SIGINT)  # a terminal's Ctrl-C
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 130, stdout[-2000:] + stderr[-2000:]
    record = json.loads((run_dir / "record.json").read_text())
    actions = record["safety_actions"]
    assert actions and all(a["ok"] and "acknowledged STOP" in a["detail"] for a in actions), actions
    assert record["interrupted"]["signal"] == "SIGINT"
    assert stdout.rstrip().endswith("labgrid: place bench-b released"), stdout[-2000:]
    assert lab.holder("bench-b") is None
