"""The direction of the imports (issue 30): the harness reaches the emulator only over the wire and its control
channel, never by importing it; what both read (hil.emulation) imports neither."""

import ast
from pathlib import Path

HIL = Path(__file__).resolve().parents[2] / "hil"


def _imports(path: Path) -> set[str]:
    """Every module a file imports, absolute (`from hil import emulator` is hil.emulator)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
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
    assert _imports(module) >= {"hil.emulator", "hil.emulator.world", "hil.emulator.pump"}
