"""The direction of the imports (issue 30): the harness reaches the emulator only over the wire and its control
channel, never by importing it; what both read (hil.emulation) imports neither."""

import ast
import re
from pathlib import Path

HIL = Path(__file__).resolve().parents[2] / "hil"


def _imports(path: Path, package: str | None = None) -> set[str]:
    """Every module a file imports, absolute (`from hil import emulator` is hil.emulator, `from ..emulator import x`
    in hil/rig/ is hil.emulator and hil.emulator.x); package: the file's, when it is not under hil/."""
    if package is None:
        package = ".".join(path.relative_to(HIL.parent).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(part for part in (base, node.module or "") if part)
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def _importing(package: str, outside: list[Path]) -> dict[str, list[str]]:
    found = {}
    for path in sorted(HIL.rglob("*.py")):
        if any(path.is_relative_to(folder) for folder in outside):
            continue
        named = sorted(m for m in _imports(path) if m == package or m.startswith(package + "."))
        if named:
            found[str(path.relative_to(HIL.parent))] = named
    return found


def test_no_module_outside_the_emulator_imports_it():
    assert _importing("hil.emulator", [HIL / "emulator"]) == {}


def test_what_both_sides_read_imports_neither():
    shared = HIL / "emulation"
    imported = {m for path in shared.rglob("*.py") for m in _imports(path) if m.startswith("hil")}
    assert {m for m in imported if not m.startswith("hil.emulation")} == set()


def test_the_check_sees_an_import_of_the_emulator(tmp_path):
    module = tmp_path / "probe.py"
    module.write_text("from hil import emulator\nimport hil.emulator.world\nfrom hil.emulator.pump import X\n")
    assert _imports(module, "") >= {"hil.emulator", "hil.emulator.world", "hil.emulator.pump"}


def _package_edges() -> dict[str, set[str]]:
    """hil's parts (its subpackages and top-level modules) → the parts each imports."""
    parts = {
        p.stem for p in HIL.iterdir() if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").exists()
    }
    edges: dict[str, set[str]] = {part: set() for part in parts}
    for path in HIL.rglob("*.py"):
        source = path.relative_to(HIL).parts[0].removesuffix(".py")
        for module in _imports(path):
            named = module.split(".")
            if named[0] == "hil" and len(named) > 1 and named[1] in parts and named[1] != source:
                edges[source].add(named[1])
    return edges


def _cycle(edges: dict[str, set[str]]) -> list[str]:
    """One cycle among the parts, as the path around it; empty when there is none."""
    done: set[str] = set()

    def visit(part: str, path: list[str]) -> list[str]:
        if part in path:
            return path[path.index(part) :] + [part]
        if part in done:
            return []
        for target in sorted(edges[part]):
            if found := visit(target, path + [part]):
                return found
        done.add(part)
        return []

    return next((found for part in sorted(edges) if (found := visit(part, []))), [])


def test_the_parts_of_hil_import_one_another_in_one_direction():
    assert _cycle(_package_edges()) == []


def test_the_cycle_check_names_a_cycle():
    edges = {"run": {"evidence"}, "evidence": {"specs", "run"}, "specs": set()}
    assert _cycle(edges) == ["evidence", "run", "evidence"]


FIRMWARE = ("pump", "site_check", "glucose_suspend", "auto_mode", "microbolus", "bolus_calculator")  # the reference pump's firmware
# what the firmware may import of the emulator besides itself: the plant interface and the shared clock; every other
# module there is the plant it acts on or the wire it is reached over
SHARED = ("plant_interface", "scheduler")
# the reference firmware's host when it runs as a process of its own (docs/plant-channel.md): its serial session is
# the wire's, and it reaches the plant over the channel only
FIRMWARE_HOST = ("firmware_process", "session_lock", "reference_serial", "seeding")
PLANT = tuple(
    p.stem for p in (HIL / "emulator").glob("*.py") if p.stem not in (*FIRMWARE, *SHARED, *FIRMWARE_HOST, "__init__")
)


def test_the_reference_firmware_touches_the_plant_only_through_its_interface():
    touched = {
        name: sorted(
            module
            for module in _imports(HIL / "emulator" / f"{name}.py")
            if any(module == f"hil.emulator.{part}" or module.startswith(f"hil.emulator.{part}.") for part in PLANT)
        )
        for name in FIRMWARE
    }
    assert touched == dict.fromkeys(FIRMWARE, [])  # hil.emulator.plant_interface, the clock (scheduler) only


def _documented_edges() -> dict[str, set[str]]:
    """The table of docs/architecture.md: each part → the parts it imports (notes in parentheses left out)."""
    text = (HIL.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    table = text[text.index("| part | imports |") :].split("\n\n")[0].splitlines()[2:]
    parts = set(_package_edges())
    documented: dict[str, set[str]] = {}
    for row in table:
        _, named, imports, _ = row.split("|")
        words = set(re.findall(r"[a-z_]+", re.sub(r"\([^)]*\)", "", imports)))
        for part in re.findall(r"`(\w+)`", named):
            documented[part] = words & parts
    return documented


def test_the_documented_arrows_are_the_imports_the_code_has():
    assert _documented_edges() == _package_edges()


def test_a_relative_import_is_seen_as_the_module_it_names(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("from ..emulator import world\nfrom . import clock\n", encoding="utf-8")
    assert {"hil.emulator", "hil.emulator.world", "hil.rig", "hil.rig.clock"} <= _imports(probe, "hil.rig")


def test_the_firmware_process_reaches_the_plant_only_over_the_channel():
    imported = {m.split(".")[2] for m in _imports(HIL / "emulator" / "firmware_process.py") if m.startswith("hil.emulator.")}
    assert imported <= {*FIRMWARE, *SHARED, *FIRMWARE_HOST}, imported

