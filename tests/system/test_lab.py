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
from .labgrid_lab import Lab, Started, missing

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


def _verify_in_lab(lab: Lab, name: str, place: str, *args: str) -> Started:
    return lab.hil(name, "verify", "--rig", RIG[place], *args)


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


def test_both_places_at_once_give_the_direct_rigs_verdicts_and_numbers_then_are_released(lab, verify):
    on_places = {place: _verify_in_lab(lab, f"both-{place}", place, "-k", SUBSET, "--no-report") for place in RIG}
    direct = verify("-k", SUBSET, "--no-report")
    assert direct.code == 0, direct.output[-3000:]
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
        for signum in (signal.SIGINT, signal.SIGTERM):  # a Ctrl-C, a service stopped: while hil waits in the queue
            impatient = _verify_in_lab(lab, f"impatient-{signum.name}", "bench-a", "-k", "OC-ALARM-003", "--wait", "120")
            wait_for(lambda: "state: waiting" in lab.client("reservations"), 30, "hil's reservation")
            os.killpg(impatient.process.pid, signum)
            code, stdout, stderr = impatient.finish(60)
            assert code == 128 + signum and stderr == f"hil: {signum.name} while acquiring place bench-a: nothing ran\n"
            assert lab.client("reservations").strip() == ""  # cancelled, not left to expire
        patient = _verify_in_lab(lab, "patient", "bench-a", "-k", "OC-ALARM-003", "--no-report", "--wait", "120")
        wait_for(lambda: "state: waiting" in lab.client("reservations"), 30, "hil's reservation")
        assert patient.process.poll() is None  # waiting on its reservation
    finally:
        lab.client("-p", "bench-a", "release", user="alice")
    code, stdout, stderr = patient.finish(300)
    assert code == 0, stdout[-2000:] + stderr[-2000:]
    assert "PASSED tests/safety/test_occlusion.py::test_occlusion_during_bolus[OC-ALARM-003]" in stdout
    assert lab.holder("bench-a") is None


def test_ctrl_c_stops_the_pump_then_releases_the_place(lab):
    started = _verify_in_lab(lab, "ctrl-c", "bench-b", "-k", "DA-BASAL-002", "--no-report")
    run_id = wait_for(lambda: re.search(r"^run (\S+):", started.out.read_text(), re.M), 120, "the run to start")
    assert started.out.read_text().startswith("labgrid: place bench-b of 127.0.0.1:20408 acquired by ")
    run_dir = ROOT / "reports" / "runs" / run_id.group(1)
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
    assert stdout.rstrip().endswith("labgrid: place bench-b released"), stdout[-2000:]
    assert lab.holder("bench-b") is None
