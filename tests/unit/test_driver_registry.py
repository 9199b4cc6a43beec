"""The `hil.drivers` entry-point registry: a rig file names a driver, the driver's own options model checks its
section (located at file:line like the suite's own keys), and what is not a driver, not installed or of another
kind is one line naming the installed ones. A vendor's driver is registered here the way its package's entry
point would register it (an EntryPoint naming a class of this module)."""

import importlib.metadata
from pathlib import Path

import pytest
from pydantic import Field

from hil.drivers import registry
from hil.drivers.contracts import Capability
from hil.drivers.pump_reference import ReferencePumpDriver
from hil.drivers.registry import DeviceKind, DriverError, DriverOptions, Port
from hil.rig.config import RigConfigError, load_rig
from hil.rig.model import json_schema

ROOT = Path(__file__).resolve().parents[2]
NOMINAL = (ROOT / "fixtures" / "rigs" / "emulator.yaml").read_text()
PUMP_SECTION = 'pump:\n  driver: reference-serial\n  port: "@emulator:pump"\n  timeout_s: 2.0\n'


class VendorPump(ReferencePumpDriver):
    """A vendor's pump: the reference protocol behind a session key."""

    capabilities = frozenset(Capability) - {Capability.LINE_PRESSURE}

    class Options(DriverOptions):
        port: Port
        session_key_env: str = Field("VENDOR_KEY", min_length=1)


class NoOptions:
    device = DeviceKind.PUMP


@pytest.fixture
def vendor(monkeypatch):
    """The built-in drivers and, as a vendor's package would add them, `vendor-pump` and some broken entries."""
    extra = {"vendor-pump": f"{__name__}:VendorPump", "no-options": f"{__name__}:NoOptions",
             "not-importable": "vendor_module_that_is_not_installed:Pump"}
    found = dict(registry.installed()) | {name: registry.Registered(name, value, "vendor-hil") for name, value in extra.items()}
    monkeypatch.setattr(registry, "installed", lambda: found)
    registry.driver_class.cache_clear()
    yield
    registry.driver_class.cache_clear()


def _rig(tmp_path, pump_section: str) -> Path:
    assert PUMP_SECTION in NOMINAL
    path = tmp_path / "rig.yaml"
    path.write_text(NOMINAL.replace(PUMP_SECTION, pump_section))
    return path


def _problems(path: Path) -> list:
    with pytest.raises(RigConfigError) as info:
        load_rig(path)
    return info.value.problems


def test_every_built_in_driver_is_registered_through_the_entry_points():
    names = {entry.name for entry in importlib.metadata.entry_points(group=registry.ENTRY_POINT_GROUP)}
    assert {"reference-serial", "reference-can", "mt-sics", "can-loadcell", "emulator-valve", "emulator-site"} <= names
    assert all(registry.installed()[name].built_in for name in names)


def test_a_vendor_driver_is_named_in_a_rig_file_and_its_options_reach_it(tmp_path, vendor):
    rig = load_rig(_rig(tmp_path, 'pump:\n  driver: vendor-pump\n  port: "@emulator:pump"\n  session_key_env: ACME\n'))
    cls = rig.driver(("pump",))
    assert cls is VendorPump and Capability.LINE_PRESSURE not in registry.capabilities(cls)
    assert cls.Options.model_validate({k: v for k, v in rig.device(("pump",)).items() if k != "driver"}).session_key_env == "ACME"


def test_a_vendor_option_of_the_wrong_type_is_located_at_its_line(tmp_path, vendor):
    path = _rig(tmp_path, 'pump:\n  driver: vendor-pump\n  port: "@emulator:pump"\n  session_key_env: 5\n')
    (problem,) = _problems(path)
    assert problem.key == "pump.session_key_env" and "valid string" in problem.message
    assert path.read_text().splitlines()[problem.line - 1].strip() == "session_key_env: 5"


def test_a_key_the_driver_does_not_take_is_unknown(tmp_path, vendor):
    (problem,) = _problems(_rig(tmp_path, 'pump:\n  driver: vendor-pump\n  port: "@emulator:pump"\n  baudrate: 9600\n'))
    assert problem.key == "pump.baudrate" and "unknown key" in problem.message


def test_an_unknown_driver_lists_the_installed_drivers_of_its_kind(tmp_path, vendor):
    (problem,) = _problems(_rig(tmp_path, 'pump:\n  driver: acme-x9\n  port: "@emulator:pump"\n'))
    assert problem.key == "pump.driver"
    assert problem.message == ("no driver 'acme-x9' is installed; installed pump drivers: reference-can, "
                               "reference-serial, vendor-pump")


def test_a_driver_of_another_kind_is_refused(tmp_path):
    (problem,) = _problems(_rig(tmp_path, 'pump:\n  driver: mt-sics\n  port: "@emulator:pump"\n'))
    assert problem.key == "pump.driver" and "drives a scale, not a pump" in problem.message


def test_a_section_without_a_driver_says_so(tmp_path):
    (problem,) = _problems(_rig(tmp_path, 'pump:\n  port: "@emulator:pump"\n'))
    assert problem.key == "pump" and "names its 'driver'" in problem.message


@pytest.mark.parametrize(("name", "says"), [
    ("no-options", "is not a driver class: 'Options' is not a subclass of hil.drivers.registry.DriverOptions"),
    ("not-importable", "failed to load: ModuleNotFoundError"),
])
def test_a_broken_registration_is_one_line_naming_the_package(tmp_path, vendor, name, says):
    (problem,) = _problems(_rig(tmp_path, f'pump:\n  driver: {name}\n  port: "@emulator:pump"\n'))
    assert says in problem.message and "from vendor-hil" in problem.message and "\n" not in problem.message


def test_a_name_two_packages_register_is_an_error(monkeypatch):
    entries = importlib.metadata.EntryPoints([
        importlib.metadata.EntryPoint("twin", "a:Pump", registry.ENTRY_POINT_GROUP),
        importlib.metadata.EntryPoint("twin", "b:Pump", registry.ENTRY_POINT_GROUP)])
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: entries)
    registry.installed.cache_clear()
    try:
        with pytest.raises(DriverError, match="registered twice"):
            registry.installed()
    finally:
        monkeypatch.undo()
        registry.installed.cache_clear()


def test_a_child_rig_naming_another_driver_drops_the_parent_drivers_options_not_the_sections_own(tmp_path):
    (tmp_path / "parent.yaml").write_text(NOMINAL)
    (tmp_path / "child.yaml").write_text("extends: parent.yaml\nrig_id: child\npump:\n  driver: reference-can\n"
                                         'can: {interface: slcan, channel: "@emulator:can"}\n'
                                         "scale:\n  driver: can-loadcell\n")
    rig = load_rig(tmp_path / "child.yaml")
    assert rig.device(("pump",)) == {"driver": "reference-can"}
    assert rig.device(("scale",)) == {"driver": "can-loadcell", "readability_mg": 0.01, "repeatability_mg": 0.015,
                                      "calibration": load_rig(tmp_path / "parent.yaml").device(("scale",))["calibration"]}


def test_the_schema_for_editors_holds_every_installed_drivers_options(vendor):
    assert "session_key_env" in str(json_schema(built_in_only=False))
    assert "session_key_env" not in str(json_schema())


def test_docs_drivers_md_carries_the_capability_table_the_code_gives():
    from hil.evidence.traceability import capability_table
    from hil.run.suites import collect

    collected, needs = collect(None, needs=True)
    table = capability_table(collected, needs)
    assert "| `AUTO_MODE` (automated insulin delivery) | AID-BOLUS-001 (its test); AID-CAP-001 (its test);" in table
    assert table in (ROOT / "docs" / "drivers.md").read_text(), "regenerate: hil driver needs (docs/drivers.md §3)"
