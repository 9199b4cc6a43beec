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
