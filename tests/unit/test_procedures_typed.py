"""The procedures are checked against the driver contracts: mypy sees `rig.pump` as a `Pump`, so a procedure that
calls what the contract does not have, or gives it the wrong type, fails the static check (scripts/static.sh)."""

from pathlib import Path

import pytest
from mypy import api

ROOT = Path(__file__).resolve().parents[2]
PROCEDURE = ROOT / "hil" / "procedures" / "delivery.py"
USE = "rig.pump.status().delivered_U"


def _mypy(source: str, folder: Path) -> tuple[str, int]:
    path = folder / "delivery_copy.py"
    path.write_text(source)
    out, err, status = api.run([str(path), "--config-file", str(ROOT / "pyproject.toml"), "--no-error-summary"])
    return out + err, status


@pytest.mark.parametrize(
    "broken, said",
    [
        (USE.replace("delivered_U", "delivered_units"), '"PumpStatus" has no attribute "delivered_units"'),
        ("rig.pump.set_basal(rate_U_per_h)", 'Argument 1 to "set_basal" of "Pump" has incompatible type "str"'),
    ],
)
def test_a_procedure_that_misuses_the_pump_contract_fails_the_static_check(tmp_path, broken, said):
    source = PROCEDURE.read_text()
    assert USE in source and "rig.pump.set_basal(rate_U_per_h)" in source
    found, status = _mypy(source, tmp_path)
    assert status == 0 and "error" not in found, found  # the procedure as it is passes
    if "set_basal" in broken:
        source = source.replace("rig.pump.set_basal(rate_U_per_h)", 'rig.pump.set_basal(f"{rate_U_per_h} U/h")')
    else:
        source = source.replace(USE, broken, 1)
    found, status = _mypy(source, tmp_path)
    assert status == 1 and said in found, found
