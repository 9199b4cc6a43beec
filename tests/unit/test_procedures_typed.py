"""The procedures are checked against the driver contracts: mypy sees `rig.pump` as a `Pump`, so a procedure that
calls what the contract does not have, or gives it the wrong type, fails the static check (scripts/static.sh); and
every procedure that takes the rig says it is a Rig, or mypy would not look."""

import ast
from pathlib import Path

import pytest
from mypy import api

ROOT = Path(__file__).resolve().parents[2]
PROCEDURE = ROOT / "hil" / "procedures" / "delivery.py"
USE = "rig.pump.status().delivered_U"
BASAL = "rig.pump.set_basal(rate_U_per_h)"


def _mypy(source: str, folder: Path, monkeypatch) -> tuple[str, int]:
    """mypy on the real module (its own settings) with `source` in its place (--shadow-file)."""
    shadow = folder / "delivery.py"
    shadow.write_text(source)
    monkeypatch.setenv("MYPYPATH", str(ROOT))  # hil from the checkout, whatever the working folder
    out, err, status = api.run(
        [
            str(PROCEDURE),
            "--shadow-file",
            str(PROCEDURE),
            str(shadow),
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(ROOT / ".mypy_cache"),
            "--no-error-summary",
        ]
    )
    return out + err, status


@pytest.mark.parametrize(
    "original, broken, said",
    [
        (USE, USE.replace("delivered_U", "delivered_units"), '"PumpStatus" has no attribute "delivered_units"'),
        (
            BASAL,
            'rig.pump.set_basal(f"{rate_U_per_h} U/h")',
            'Argument 1 to "set_basal" of "Pump" has incompatible type',
        ),
    ],
)
def test_a_procedure_that_misuses_the_pump_contract_fails_the_static_check(
    tmp_path, monkeypatch, original, broken, said
):
    source = PROCEDURE.read_text()
    assert original in source
    found, status = _mypy(source, tmp_path, monkeypatch)
    assert status == 0 and "error" not in found, found  # the procedure as it is passes
    found, status = _mypy(source.replace(original, broken, 1), tmp_path, monkeypatch)
    assert status == 1 and said in found, found


def _untyped_rigs(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    return [
        f"{path.relative_to(ROOT)}:{node.lineno} {node.name}({arg.arg})"
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        for arg in node.args.args + node.args.kwonlyargs
        if arg.arg in ("rig", "the_rig") and not (isinstance(arg.annotation, ast.Name) and arg.annotation.id == "Rig")
    ]


def test_every_procedure_that_takes_the_rig_says_it_is_a_rig():
    files = [*sorted((ROOT / "hil" / "procedures").glob("*.py")), ROOT / "hil" / "pytest_plugin.py"]
    assert [untyped for path in files for untyped in _untyped_rigs(path)] == []
