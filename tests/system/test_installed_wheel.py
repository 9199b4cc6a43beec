"""`pip install` of a built wheel gives a working `hil` outside the checkout: the wheel is built (`pip wheel`)
from the checkout's tracked files, installed into a fresh venv, and run from a folder
that is not the checkout, with no checkout on the Python path. The requirement files, rig files, DBC, scenarios
and safety suites all come from the installed package; the run and its report land in that folder.

A pump maker's driver package (examples/vendor-pump-plugin) installed beside the wheel registers its pump through
the `hil.drivers` entry points, with no edit under hil/: `hil driver list` shows it, `hil driver check` passes it,
and a campaign subset runs on it, skipping with the reason what needs the capability it does not declare.

The fresh venv reaches the locked dependencies through a .pth line to this venv's site-packages (a path only:
.pth files there, the checkout's editable install among them, are not run), so no package index is needed."""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from .conftest import ROOT

CAMPAIGN = "OC-ALARM-001 or IF-KINK-002"  # an occlusion at 1 U/h and a partly kinked cannula during a bolus
PLUGIN = ROOT / "examples" / "vendor-pump-plugin"
PLUGIN_RIG = PLUGIN / "rigs" / "emulator-acme.yaml"
SESSION_KEY = {"ACME_SESSION_KEY": "acme-demo-key-0001"}  # the emulated pump's key, in PLUGIN_RIG
BINARY_PLUGIN = ROOT / "examples" / "binary-pump-plugin"
BINARY_RIG = BINARY_PLUGIN / "rigs" / "emulator-bpx.yaml"
# The BPX-L: the example's own firmware (bpx_hil.firmware) on the project's plant, in lockstep.
FIRMWARE_RIG = BINARY_PLUGIN / "rigs" / "emulator-bpx-l.yaml"
FIRMWARE_DEFECT_RIG = BINARY_PLUGIN / "rigs" / "emulator-bpx-l-occlusion-unseen.yaml"
# One short test of each area (DA, OC, IF, HS, AID), 4.3 h of rig time: 52 s at the rig's 300x.
BINARY_CAMPAIGN = ("DA-BOLUS-001", "OC-ALARM-003", "IF-KINK-002", "HS-CGMLOSS-001", "AID-LOW-001")
PLUGIN_CAMPAIGN = {"DA-BOLUS-001": "test_dose_accuracy.py::test_bolus_accuracy",
                   "HS-SBL-001": "test_hypoglycemia_suspend.py::test_low_glucose_suspend",
                   "OC-ALARM-001": "test_occlusion.py::test_occlusion_during_basal"}


def _tracked_tree(destination: Path) -> None:
    """The checkout's tracked files (symlinks kept: hil/reference/ points into specs/, fixtures/, tests/safety/)."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=60)
    for name in filter(None, listed.stdout.decode().split("\0")):
        source, target = ROOT / name, destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(os.readlink(source))
        elif source.is_file():
            shutil.copy2(source, target)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """(the fresh venv's bin folder, the environment to run it with)."""
    work = tmp_path_factory.mktemp("wheel")
    _tracked_tree(work / "src")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-index",
                            "--no-build-isolation", "--disable-pip-version-check", str(work / "src"),
                            "-w", str(work / "dist")], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-3000:]
    wheel, = (work / "dist").glob("hil-*.whl")
    venv.create(work / "venv", with_pip=False)
    python = work / "venv" / "bin" / "python"
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True, timeout=60).stdout.strip()
    (Path(purelib) / "locked-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installing = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
                                 "--no-deps", "--no-index", "--disable-pip-version-check", str(wheel)],
                                capture_output=True, text=True, timeout=300)
    assert installing.returncode == 0, installing.stderr[-3000:]
    env = {name: value for name, value in os.environ.items() if name not in ("PYTHONPATH", "HIL_ROOT", "VIRTUAL_ENV")}
    # the Allure CLI pinned by the checkout's package-lock.json, found on the PATH as a user's own install would be
    env["PATH"] = os.pathsep.join([str(work / "venv" / "bin"), str(ROOT / "node_modules" / ".bin"), env["PATH"]])
    return work / "venv" / "bin", env


def _hil(installed, folder: Path, *args: str, timeout: float = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    bin_dir, base = installed
    return subprocess.run([bin_dir / "hil", *args], cwd=folder, env=base | (env or {}), capture_output=True, text=True,
                          timeout=timeout)


def _install_example(installed, tmp_path_factory, example: Path):
    """An example package, built from a copy (no build files left in the checkout) and installed into the wheel's
    venv as a pump maker would install theirs."""
    source = tmp_path_factory.mktemp(example.name) / example.name
    shutil.copytree(example, source, ignore=shutil.ignore_patterns("*.egg-info", "build", "__pycache__"))
    bin_dir, env = installed
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(bin_dir / "python"), "install", "--quiet",
                           "--no-deps", "--no-index", "--no-build-isolation", "--disable-pip-version-check", str(source)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return installed


@pytest.fixture(scope="module")
def plugin(installed, tmp_path_factory):
    """The example vendor package (a pump behind a session unlock)."""
    return _install_example(installed, tmp_path_factory, PLUGIN)


@pytest.fixture(scope="module")
def binary_plugin(installed, tmp_path_factory):
    """The BPX example (a pump speaking a binary protocol of its own, and its emulation)."""
    return _install_example(installed, tmp_path_factory, BINARY_PLUGIN)


def test_the_installed_package_is_the_wheel_not_the_checkout(installed, tmp_path):
    bin_dir, env = installed
    done = subprocess.run([bin_dir / "python", "-c", "import hil, hil.project as p; print(hil.__file__); "
                           "print(p.specs()); print(p.safety_suites()); print(p.reference('can', 'pump.dbc'))"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    paths = [Path(line) for line in done.stdout.splitlines()]
    assert all(path.is_relative_to(bin_dir.parent) and path.exists() for path in paths), paths
    assert not any(path.is_symlink() for path in paths)
    assert sorted(p.name for p in paths[1].glob("*.yaml")) == sorted(p.name for p in (ROOT / "specs").glob("*.yaml"))


def test_specs_check_outside_the_checkout_reads_the_reference_requirements(installed, tmp_path):
    done = _hil(installed, tmp_path, "specs", "check")
    reference = len(list((ROOT / "specs").glob("*.yaml")))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"in {reference} file(s)" in done.stdout and "site-packages/hil/reference/specs/" in done.stdout


def test_a_campaign_runs_from_a_folder_outside_the_checkout(installed, tmp_path):
    bench = tmp_path / "bench"
    bench.mkdir()
    done = _hil(installed, bench, "verify", "-k", CAMPAIGN)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    run_dir = next((bench / "reports" / "runs").iterdir())
    record = json.loads((run_dir / "record.json").read_text())
    outcomes = {node: test["outcome"] for node, test in record["tests"].items()}
    assert outcomes == {"tests/safety/test_occlusion.py::test_occlusion_during_basal[OC-ALARM-001]": "passed",
                        "tests/safety/test_insertion_faults.py::"
                        "test_partially_kinked_cannula_during_a_bolus[IF-KINK-002]": "passed"}, outcomes
    assert "site-packages/hil/reference/rigs/emulator.yaml" in record["rig"]["file"]
    assert (run_dir / "report" / "index.html").is_file() and (bench / "reports" / "ledger.jsonl").is_file()
    checked = _hil(installed, bench, "evidence", "verify")
    assert checked.returncode == 0 and checked.stdout.startswith("ok: every file"), checked.stdout + checked.stderr


def test_a_project_of_its_own_is_found_from_a_subfolder_and_its_rig_paths_are_relative_to_the_rig_file(
        installed, tmp_path):
    project = tmp_path / "pump-x"
    (project / "specs").mkdir(parents=True)
    shutil.copy(ROOT / "specs" / "occlusion.yaml", project / "specs")
    rigs = project / "fixtures" / "rigs"
    (rigs / "can").mkdir(parents=True)
    shutil.copy(ROOT / "fixtures" / "can" / "pump.dbc", rigs / "can" / "pump-x.dbc")
    (rigs / "emulator.yaml").write_text(
        f"extends: {json.dumps(str(ROOT / 'fixtures' / 'rigs' / 'emulator-can.yaml'))}\n"
        "rig_id: pump-x-can\ncan:\n  dbc: can/pump-x.dbc\nemulator:\n  can_dbc: can/pump-x.dbc\n")
    (project / "notes").mkdir()
    done = _hil(installed, project / "notes", "trace", "--format", "json")
    rows = json.loads(done.stdout)["rows"]
    assert {row["requirement"][:2] for row in rows} == {"OC"}, rows  # the project's specs/, not the reference
    checked = _hil(installed, project / "notes", "rig", "check", "-k", "OC-ALARM-001")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "pump-x-can" in checked.stdout and "0 blocker(s)" in checked.stdout


def test_a_vendor_driver_is_registered_by_its_own_package(plugin, tmp_path):
    done = _hil(plugin, tmp_path, "driver", "list")
    assert done.returncode == 0, done.stdout + done.stderr
    row = next(line for line in done.stdout.splitlines() if "acme-rp1-service" in line)
    assert "acme_hil.pump:AcmeServicePump" in row and "acme-hil-drivers" in row and "pump" in row


def test_the_vendor_driver_meets_its_contract_and_says_what_it_does_not_declare(plugin, tmp_path):
    done = _hil(plugin, tmp_path, "driver", "check", "--rig", str(PLUGIN_RIG), "--device", "pump", env=SESSION_KEY)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "driver check: 24 of 24 checks met" in done.stdout and "acme-rp1-service" in done.stdout
    assert "not declared by the driver (line-pressure report)" in done.stdout


def test_without_its_key_the_vendor_pump_does_not_open_and_says_why(plugin, tmp_path):
    done = _hil(plugin, tmp_path, "driver", "check", "--rig", str(PLUGIN_RIG), "--device", "pump",
                env={"ACME_SESSION_KEY": "not-the-key"})
    assert done.returncode == 1
    assert "the unlock response was refused" in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_a_campaign_runs_on_the_vendor_driver_and_skips_what_needs_a_capability_it_lacks(plugin, tmp_path):
    done = _hil(plugin, tmp_path, "verify", "--rig", str(PLUGIN_RIG), "-k", " or ".join(PLUGIN_CAMPAIGN),
                env=SESSION_KEY)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    record = json.loads((next((tmp_path / "reports" / "runs").iterdir()) / "record.json").read_text())
    assert {node: test["verdict"] for node, test in record["tests"].items()} == {
        f"tests/safety/{test}[{rid}]": "PASS" for rid, test in PLUGIN_CAMPAIGN.items()}
    assert record["rig"]["identities"]["pump"]["model"] == "RP-1"
    assert record["rig"]["drivers"]["pump"] == {"driver": "acme-rp1-service", "class": "acme_hil.pump:AcmeServicePump",
                                                "package": "acme-hil-drivers", "version": "1.0.0"}
    skipped = _hil(plugin, tmp_path, "verify", "--rig", str(PLUGIN_RIG), "-k", "OC-PRESS-001", env=SESSION_KEY)
    reason = ("pump driver 'acme-rp1-service' does not declare line-pressure report (needed by OC-PRESS-001's "
              "metric pressure_at_alarm)")
    assert skipped.returncode == 1 and reason in skipped.stdout, (skipped.stdout + skipped.stderr)[-4000:]
    assert f"requirement OC-PRESS-001: all its tests were skipped: rig emulator-acme: {reason}" in skipped.stderr


def test_preflight_says_which_tests_the_vendor_driver_will_skip_and_why(plugin, tmp_path):
    done = _hil(plugin, tmp_path, "rig", "check", "--rig", str(PLUGIN_RIG), "-k", "OC-PRESS-001 or OC-ALARM-001",
                env=SESSION_KEY)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    line = next(line for line in done.stdout.splitlines() if "[OC-PRESS-001]" in line)
    assert "skipped: no line-pressure report (needed by OC-PRESS-001's metric pressure_at_alarm)" in line
    assert not any("[OC-ALARM-001]" in line and "skipped" in line for line in done.stdout.splitlines())


def test_a_pump_speaking_a_binary_protocol_of_its_own_meets_the_contract(binary_plugin, tmp_path):
    done = _hil(binary_plugin, tmp_path, "driver", "check", "--rig", str(BINARY_RIG), "--device", "pump")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "driver check: 24 of 24 checks met" in done.stdout and "protocol bpx/1" in done.stdout


def test_a_campaign_across_the_five_areas_runs_on_the_free_running_binary_pump(binary_plugin, tmp_path):
    done = _hil(binary_plugin, tmp_path, "verify", "--rig", str(BINARY_RIG), "-k", " or ".join(BINARY_CAMPAIGN),
                "--no-report")
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    run_dir = next((tmp_path / "reports" / "runs").iterdir())
    record = json.loads((run_dir / "record.json").read_text())
    verdicts = {test["requirements"][0]: test["verdict"] for test in record["tests"].values()}
    assert verdicts == dict.fromkeys(BINARY_CAMPAIGN, "PASS"), verdicts
    assert record["rig"]["identities"]["pump"]["protocol"] == "bpx/1" and record["rehearsal"]
    wire_log = next(f for f in next(iter(record["tests"].values()))["files"] if f.endswith("serial.log"))
    first = next(line for line in (run_dir / wire_log).read_text().splitlines() if " pump > " in line)
    assert first.split(" pump > ")[1].startswith("02 "), first  # the binary frames, in hex


@pytest.mark.parametrize(("fault", "error"), [("balance: {fault: decoupled}", "BalanceNotCoupled"),
                                              ("pump: {clock_rate: 0.5}", "ClockMismatch")])
def test_on_the_binary_pump_a_balance_that_does_not_see_it_or_a_clock_off_is_the_rigs_error(
        binary_plugin, tmp_path, fault, error):
    rig = tmp_path / "faulty.yaml"
    rig.write_text(f"extends: {json.dumps(str(BINARY_RIG))}\nrig_id: bpx-faulty\nemulator:\n  {fault}\n")
    done = _hil(binary_plugin, tmp_path, "verify", "--rig", str(rig), "-k", "DA-BOLUS-001", "--no-report")
    record = json.loads((next((tmp_path / "reports" / "runs").iterdir()) / "record.json").read_text())
    (test,) = record["tests"].values()
    assert (done.returncode, test["verdict"], test["failure_class"]) == (1, "ERROR", "rig"), test
    assert test["reason"].startswith(error), test["reason"]


def test_a_pump_firmware_of_its_own_is_weighed_in_lockstep_on_the_projects_plant(binary_plugin, tmp_path):
    """Not the reference pump's firmware: the BPX-L's own (its own steps, speeds, occlusion detector and protocol) as
    a process on the plant channel. Every requirement its claims make applicable passes on evidence (lockstep, not
    a rehearsal); the ones for functions it does not claim are skipped as not applicable."""
    checked = _hil(binary_plugin, tmp_path, "driver", "check", "--rig", str(FIRMWARE_RIG), "--device", "pump")
    assert checked.returncode == 0, checked.stdout[-4000:] + checked.stderr[-2000:]
    assert "driver check: 24 of 24 checks met" in checked.stdout and "BPX-L" in checked.stdout
    done = _hil(binary_plugin, tmp_path, "verify", "--rig", str(FIRMWARE_RIG), "--no-report")
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    run_dir = next((tmp_path / "reports" / "runs").iterdir())
    record = json.loads((run_dir / "record.json").read_text())
    verdicts = {test["requirements"][0]: test["verdict"] for test in record["tests"].values()}
    passed = {rid for rid, verdict in verdicts.items() if verdict == "PASS"}
    assert {rid.split("-")[0] for rid in passed} == {"DA", "OC", "IF", "RES"} and len(passed) == 24, verdicts
    assert {verdicts[rid] for rid in verdicts.keys() - passed} == {"SKIPPED"}, verdicts
    assert {rid.split("-")[0] for rid in verdicts.keys() - passed} == {"HS", "AID", "IF", "DL", "RES", "OI", "TOD", "BC"}, verdicts
    assert record["rig"]["identities"]["pump"]["model"] == "BPX-L" and record["rig"]["clock"] == "sim"
    assert record["run_kind"]["words"] == "COMPLETE" and record.get("rehearsal") is None


def test_a_seeded_defect_of_that_firmware_fails_it_on_exactly_what_rests_on_its_occlusion_alarm(binary_plugin, tmp_path):
    """Its alarm set above what a blocked line reaches: every occlusion and kinked-cannula requirement FAILs as the
    pump's (those judged at or after the alarm too: no alarm came, never an INCONCLUSIVE blamed on the rig or an
    ERROR on the test), and a bolus and the false-alarm check still pass."""
    done = _hil(binary_plugin, tmp_path, "verify", "--rig", str(FIRMWARE_DEFECT_RIG), "-k", "OC- or IF-KINK or DA-BOLUS-001",
                "--no-report")
    assert done.returncode == 1, (done.stdout + done.stderr)[-4000:]
    record = json.loads((next((tmp_path / "reports" / "runs").iterdir()) / "record.json").read_text())
    judged = {test["requirements"][0]: (test["verdict"], test["failure_class"]) for test in record["tests"].values()}
    failed = {rid for rid, (verdict, failure) in judged.items() if (verdict, failure) == ("FAIL", "product")}
    assert failed == {"OC-ALARM-001", "OC-ALARM-002", "OC-ALARM-003", "OC-MISSED-001", "OC-PRIO-001", "OC-STOP-001",
                      "OC-PRESS-001", "OC-RELEASE-001", "OC-RELEASE-002", "IF-KINK-001", "IF-KINK-002"}, judged
    assert {rid: judged[rid][0] for rid in judged.keys() - failed} == {"OC-FALSE-001": "PASS", "DA-BOLUS-001": "PASS"}

