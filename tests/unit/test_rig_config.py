import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hil.rig.config import RigConfigError, load_rig

ROOT = Path(__file__).resolve().parents[2]
NOMINAL = (ROOT / "fixtures" / "rigs" / "emulator.yaml").read_text()


def test_defect_rigs_extend_the_nominal_rig():
    rig = load_rig(ROOT / "fixtures" / "rigs" / "defects" / "occlusion-no-backoff.yaml")
    assert rig.data["emulator"]["defects"] == {"occlusion_no_backoff": True}
    assert rig.data["emulator"]["seed"] == load_rig(ROOT / "fixtures" / "rigs" / "emulator.yaml").data["emulator"]["seed"]
    assert rig.data["scale"]["readability_mg"] == 0.01


def test_problems_are_located(tmp_path):
    rig = tmp_path / "rig.yaml"
    rig.write_text(NOMINAL.replace("readability_mg: 0.01", "readability_mg: fine").replace("clock: sim", "clock: sundial"))
    with pytest.raises(RigConfigError) as info:
        load_rig(rig)
    found = {(p.key, p.line) for p in info.value.problems}
    assert ("clock", NOMINAL.splitlines().index("clock: sim") + 1) in found
    assert any(key == "scale.readability_mg" for key, _ in found)


def test_an_extends_cycle_is_reported(tmp_path):
    (tmp_path / "a.yaml").write_text("extends: b.yaml\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\n")
    with pytest.raises(RigConfigError, match="cycle"):
        load_rig(tmp_path / "a.yaml")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(st.text(max_size=200), st.integers(0, len(NOMINAL)).map(lambda cut: NOMINAL[:cut])))
def test_any_rig_file_gives_a_config_or_located_problems(tmp_path, text):
    rig = tmp_path / "fuzz.yaml"
    rig.write_text(text)
    try:
        load_rig(rig)
    except RigConfigError as exc:
        assert exc.problems


RIGS = ROOT / "fixtures" / "rigs"


def _problems(path):
    with pytest.raises(RigConfigError) as info:
        load_rig(path)
    assert all(p.line >= 1 and p.message and Path(p.file).is_file() for p in info.value.problems)
    return info.value.problems


def _nominal_with(tmp_path, old: str, new: str):
    assert old in NOMINAL
    rig = tmp_path / "rig.yaml"
    rig.write_text(NOMINAL.replace(old, new, 1))
    return _problems(rig)


def _line(fragment: str) -> int:
    return NOMINAL[:NOMINAL.index(fragment)].count("\n") + 1


def test_every_shipped_rig_loads():
    for rig in sorted(RIGS.glob("*.yaml")) + sorted((RIGS / "defects").glob("*.yaml")):
        load_rig(rig)


@pytest.mark.parametrize("old, new, key, message", [
    ("readability_mg: 0.01", "readability_mg: .nan", "scale.readability_mg", "finite number"),
    ("u_rate_mg_per_h: 0.049", "u_rate_mg_per_h: .nan", "evaporation_correction.u_rate_mg_per_h", "finite number"),
    ("repeatability_mg: 0.015", "repeatability_mg: 1.0e+12", "scale.repeatability_mg", "less than or equal"),
    ("temperature_C: 20.0", "temperature_C: -300", "environment.temperature_C", "greater than or equal to 0"),
    ("humidity_pct: 65.0", "humidity_pct: 165", "environment.humidity_pct", "less than or equal to 100"),
    ("timeout_s: 2.0", "timeout_s: .inf", "pump.timeout_s", "finite number"),
    ("timeout_s: 2.0", "timeout_s: 2.0\n  baudrate: 1.0e+10", "pump.baudrate", "valid integer"),
    ("timeout_s: 2.0", "timeout_s: 2.0\n  baudrate: 10000000000", "pump.baudrate", "less than or equal to 4000000"),
    ("rig_id: emulator-nominal", "rig_id: ../../../../x", "rig_id", "should match pattern"),
    ('port: "@emulator:pump"', 'port: "@emulator:nope"', "pump.port", "no emulator endpoint 'nope'"),
    ('port: "@emulator:balance-lost"', 'port: "@emulator:balance"', "lost_scale.port", "already used by scale"),
    ("clock: sim", "clock: real", "pump.port", "needs clock: sim"),
    # a pump (or balance) of its own under the lockstep clock runs on its own time: hours of rig time in its seconds
    ('port: "@emulator:pump"', 'port: "/dev/ttyUSB0"', "pump.port", "is not the emulator's: under clock: sim"),
    ('port: "@emulator:balance"', 'port: "socket://127.0.0.1:4001"', "scale.port", "is not the emulator's"),
    ("seed: 20261123", 'seed: 20261123\n  vessel: {oil_layer: "no"}', "emulator.vessel.oil_layer", "valid boolean"),
    ("seed: 20261123", "seed: 20261123\n  defects: {occlusion_alarm_priority: HIHG}", "emulator.defects.occlusion_alarm_priority",
     "'', 'LOW', 'MEDIUM' or 'HIGH'"),
    ("seed: 20261123", "seed: 20261123\n  pump: {stroke_U: .nan}", "emulator.pump.stroke_U", "finite number"),
    ("clock: sim", "clock: sim\nclock: sim", "clock", "duplicate key 'clock' (first at line"),
])
def test_bad_rig_values_are_refused_where_they_are(tmp_path, old, new, key, message):
    problems = _nominal_with(tmp_path, old, new)
    (problem,) = [p for p in problems if p.key == key]
    assert message in problem.message
    written = tmp_path / "rig.yaml"
    lines = written.read_text().splitlines()
    assert key.split(".")[-1] in lines[problem.line - 1]


@pytest.mark.parametrize("old, new, key, message", [
    ("  timeout_s: 2.0\n", "  timout_s: 2.0\n", "pump.timout_s", "unknown key; did you mean 'timeout_s'?"),
    ("operator: ci", "operater: ci", "operater", "unknown key; did you mean 'operator'?"),
    ("  repeatability_mg: 0.015", "  repeatibility_mg: 0.015", "scale.repeatibility_mg",
     "unknown key; did you mean 'repeatability_mg', which is missing?"),
    ("seed: 20261123", "seed: 20261123\n  pump: {strok_U: 0.05}", "emulator.pump.strok_U",
     "unknown key; did you mean 'stroke_U'?"),
    ("seed: 20261123", "seed: 20261123\n  wire_faults: [{endpoint: pump, kind: drop, att_s: 1}]",
     "emulator.wire_faults.0.att_s", "unknown key; did you mean 'at_s'?"),
    ("  timeout_s: 2.0\n", "  timeout_s: 2.0\n  colour: red\n", "pump.colour",
     "unknown key (known here: baudrate, driver, min_reservoir_U, port, timeout_s)"),
])
def test_a_misspelt_key_is_one_line_naming_the_key_it_should_be(tmp_path, old, new, key, message):
    (problem,) = _nominal_with(tmp_path, old, new)
    text = (tmp_path / "rig.yaml").read_text()
    assert str(problem) == f"{tmp_path / 'rig.yaml'}:{_line_in(text, key.split('.')[-1])}: at '{key}' {message}"


def test_a_misspelt_key_of_a_child_rig_is_told_the_key_its_parent_gives(tmp_path):
    (tmp_path / "emulator.yaml").write_text(NOMINAL)
    child = tmp_path / "child.yaml"
    child.write_text("extends: emulator.yaml\nscale:\n  repeatibility_mg: 0.02\n")
    (problem,) = _problems(child)
    assert str(problem) == f"{child}:3: at 'scale.repeatibility_mg' unknown key; did you mean 'repeatability_mg'?"


def test_a_missing_key_with_no_misspelling_near_it_stays_missing(tmp_path):
    problems = _nominal_with(tmp_path, "  repeatability_mg: 0.015", "  noise_mg: 0.015")
    assert {(p.key, p.message) for p in problems} == {
        ("scale", "missing 'repeatability_mg'"),
        ("scale.noise_mg", "unknown key (known here: baudrate, calibration, driver, port, readability_mg, "
                           "repeatability_mg, timeout_s)")}


def test_a_rig_file_that_does_not_exist_has_no_line_and_names_the_rig_meant(monkeypatch):
    monkeypatch.chdir(ROOT)
    for typed, meant in (("emulator.yaml", "fixtures/rigs/emulator.yaml"),
                         ("fixtures/rigs/occlusion-no-backof.yaml", "fixtures/rigs/defects/occlusion-no-backoff.yaml")):
        with pytest.raises(RigConfigError) as info:
            load_rig(typed)
        assert str(info.value) == f"{typed}: cannot read file: No such file or directory; did you mean {meant}?"
    with pytest.raises(RigConfigError) as info:
        load_rig("nothing-like-it.yaml")
    assert str(info.value) == "nothing-like-it.yaml: cannot read file: No such file or directory"


def _line_in(text: str, key: str) -> int:
    """The first line that writes the key (in a block or a flow mapping)."""
    return next(number for number, line in enumerate(text.splitlines(), 1) if f"{key}:" in line)


def test_a_problem_in_a_parent_is_reported_in_the_parent(tmp_path):
    (tmp_path / "emulator.yaml").write_text(NOMINAL.replace("humidity_pct: 65.0", "humidity_pct: 650"))
    child = tmp_path / "child.yaml"
    child.write_text((RIGS / "defects" / "stroke-volume-plus-8pct.yaml").read_text().replace("../emulator.yaml", "emulator.yaml"))
    (problem,) = _problems(child)
    assert problem.file == tmp_path / "emulator.yaml" and problem.line == _line("humidity_pct: 65.0")


def test_a_long_extends_chain_gives_one_located_line(tmp_path):
    for i in range(2000):
        (tmp_path / f"r{i}.yaml").write_text(f"extends: r{i + 1}.yaml\n")
    (tmp_path / "r2000.yaml").write_text(NOMINAL)
    (problem,) = _problems(tmp_path / "r0.yaml")
    assert problem.key == "extends" and problem.line == 1 and "extend each other" in problem.message


def test_the_shipped_json_schema_is_the_one_the_models_generate():
    from hil.rig.model import json_schema

    shipped = json.loads((ROOT / "hil" / "rig" / "rig.schema.json").read_text())
    assert shipped == json_schema(), "regenerate: python -m hil.rig.model > hil/rig/rig.schema.json"


def test_emulator_port_names_are_the_emulators_endpoints():
    from hil.emulation.options import ENDPOINTS, EmulatorConfig
    from hil.emulator.server import EmulatorServer

    assert set(EmulatorServer(EmulatorConfig()).endpoints()) - {"pid"} == set(ENDPOINTS)
