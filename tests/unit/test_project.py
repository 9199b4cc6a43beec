"""The project root (--root, $HIL_ROOT, the nearest folder upward with specs/, else here) and what is read from
it or, failing that, from the reference data installed with the package."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from hil import cli, project
from hil.rig.config import load_rig

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    monkeypatch.delenv(project.ROOT_ENV, raising=False)
    yield
    project.set_root(None)


def test_the_nearest_folder_upward_with_specs_is_the_root(tmp_path, monkeypatch):
    (tmp_path / "specs").mkdir()
    (tmp_path / "a" / "b").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "a" / "b")
    assert project.root() == tmp_path
    assert project.specs() == tmp_path / "specs" and project.reports() == tmp_path / "reports"


def test_without_specs_upward_the_root_is_here_and_the_reference_data_is_used(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert project.root() == tmp_path
    assert project.specs() == project.reference("specs")
    assert project.default_rig() == project.reference("rigs", "emulator.yaml")
    assert project.reports() == Path("reports")  # relative to here, as a user reads it


def test_hil_root_then_root_option_take_precedence(tmp_path, monkeypatch):
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv(project.ROOT_ENV, str(tmp_path / "one"))
    assert project.root() == tmp_path / "one"
    project.set_root(tmp_path / "two")
    assert project.root() == tmp_path / "two"


def test_a_root_that_is_not_a_folder_is_one_line_and_exit_2(tmp_path, monkeypatch):
    done = CliRunner().invoke(cli.app, ["--root", str(tmp_path / "missing"), "specs", "check"])
    assert done.exit_code == 2 and done.output.strip() == f"hil: --root: {tmp_path / 'missing'} is not a folder"
    monkeypatch.setenv(project.ROOT_ENV, str(tmp_path / "gone"))
    done = CliRunner().invoke(cli.app, ["specs", "check"])
    assert done.exit_code == 2 and done.output.strip() == f"hil: {project.ROOT_ENV}: {tmp_path / 'gone'} is not a folder"


def test_the_checkout_reference_is_the_checkout_files():
    assert project.reference("specs").resolve() == ROOT / "specs"
    assert project.safety_suites() == ROOT / "tests" / "safety"
    assert project.suites_rootdir() == ROOT  # test ids: tests/safety/<module>::<test>


def test_a_relative_dbc_in_a_rig_file_is_next_to_the_file_that_names_it(tmp_path, monkeypatch):
    (tmp_path / "rigs" / "can").mkdir(parents=True)
    (tmp_path / "rigs" / "mine.yaml").write_text(
        f"extends: {ROOT / 'fixtures' / 'rigs' / 'emulator-can.yaml'}\ncan:\n  dbc: can/x.dbc\n"
        "emulator:\n  can_dbc: /abs/x.dbc\n")
    monkeypatch.chdir(tmp_path)
    config = load_rig(Path("rigs") / "mine.yaml")
    assert config.section("can")["dbc"] == str(Path("rigs") / "can" / "x.dbc")
    assert config.section("emulator")["can_dbc"] == "/abs/x.dbc"
