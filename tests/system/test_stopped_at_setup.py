"""A bench run whose ports do not open stops before any test measured: it is sealed as "stopped at setup" (tool of
the rig, never evidence of the pump), never becomes reports/latest, and names every unusable port at once with
what to try; its report says so on its face."""

import json
import os
import subprocess

from hil.evidence import seal

from .conftest import HIL, ROOT, event_folder, open_report

RIG = """\
rig_id: wrong-ports
clock: real
claims: REFERENCE_CLAIMS
operator: system test
pump: {driver: reference-serial, port: /dev/hil-no-such-pump, timeout_s: 2.0}
scale: {driver: mt-sics, port: /dev/hil-no-such-balance, timeout_s: 2.0, readability_mg: 0.01,
        repeatability_mg: 0.015, calibration: {certificate: "K-1", date: "2026-06-02", due: "2099-06-02"}}
insulin: {concentration_U_per_mL: 100}
environment: {temperature_C: 21.0, pressure_hPa: 1010.0, humidity_pct: 50}
evaporation_correction: {rate_mg_per_h: 0.2, u_rate_mg_per_h: 0.02, source: "blank run", measured: "2026-11-20",
                         valid_days: 3650}
infusion_set: {prime_U: 2.0, settle_s: 60}
""".replace("REFERENCE_CLAIMS", str(ROOT / "claims" / "reference-pump.yaml"))


def test_a_run_that_stopped_at_setup_is_not_evidence_and_names_every_port(tmp_path):
    rig = tmp_path / "wrong-ports.yaml"
    rig.write_text(RIG)
    latest = ROOT / "reports" / "latest"
    done = subprocess.run([HIL, "--json", "verify", "--rig", str(rig), "-k", "DA-BOLUS-001 or DA-BOLUS-002"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-3000:]
    run_dir = event_folder(done.stdout)
    record = json.loads((run_dir / "record.json").read_text())
    broken = record["rig_broken"]
    assert "2 devices cannot be connected" in broken
    assert "/dev/hil-no-such-pump" in broken and "/dev/hil-no-such-balance" in broken and "is it plugged in" in broken
    assert record["run_kind"]["ending"] == "stopped at setup" and record["run_kind"]["evidence"] == "device"
    assert "reports/latest unchanged: the run stopped at setup" in output
    assert not latest.exists() or os.path.realpath(latest) != str(run_dir)
    entry = seal.last_entry(run_dir, seal.ledger.default_path(ROOT / "reports"))
    assert entry is not None and entry.fields["kind"] == "stopped at setup", entry
    seen = open_report(run_dir, "--expand", "Dose accuracy")
    assert f"{run_dir.name} · STOPPED AT SETUP" in seen["overview"] and "not evidence" not in seen["overview"]
    assert "BROKEN: cannot open rig: 2 devices cannot be connected" in seen["overview"]
    assert "ERROR [rig] · DA-BOLUS-001:" in seen["tree"] and "SKIPPED [rig] · DA-BOLUS-002:" in seen["tree"]
