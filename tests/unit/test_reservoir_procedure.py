"""The reservoir procedure on the emulated rig (hil/procedures/reservoir.py): an alert that came before the basal is
not the alert the test measures from; a fit the pump does not count is the rig's error, and a full reservoir is
fitted after it; a rig whose prime would leave the test nothing to measure is refused before anything is fitted."""

from pathlib import Path

import pytest

from hil.errors import ReservoirNotFitted, StartingStateError
from hil.evidence.recording import CsvRecording
from hil.procedures import delivery
from hil.procedures.reservoir import RECORDING_COLUMNS, alert_set, available_U, reservoir_fitted, run_to_empty
from hil.rig.config import load_rig
from hil.rig.rig import Rig

EMULATOR = Path(__file__).resolve().parents[2] / "fixtures" / "rigs" / "emulator.yaml"


def test_an_alert_before_the_basal_is_not_the_alert_measured_from(tmp_path):
    with Rig(load_rig(EMULATOR)) as rig, CsvRecording(tmp_path / "r.csv", RECORDING_COLUMNS) as raw:
        rig.begin_test("early alert")
        with reservoir_fitted(rig, rig.reservoir, 12.0), alert_set(rig, 10.0):
            delivery.prepare(rig)  # 2 U of prime and check: the count passes 10 U before the basal
            drain = run_to_empty(rig, 30.0, 600.0, 3600.0, 60.0, 30.0, raw)
        assert [s.event.kind for s in drain.others] == ["RESERVOIR_LOW"]  # acknowledged, set aside
        assert drain.at_alert is None  # no alert after the basal's start: nothing is measured from the early one
        assert [s.event.kind for s in drain.alarms] == ["RESERVOIR_EMPTY"]


class _FitsNothing:
    """A reservoir fixture that says it fitted a reservoir and did not (an operator who confirmed without fitting)."""

    def __init__(self, real):
        self.real, self.restored = real, False

    def fit(self, fill_U: float) -> None:
        pass

    def restore(self) -> None:
        self.restored = True
        self.real.restore()

    def disconnect(self) -> None:
        pass


def test_a_fit_the_pump_does_not_count_is_the_rigs_error_and_a_full_reservoir_is_fitted_after():
    with Rig(load_rig(EMULATOR)) as rig:
        rig.begin_test("fit not made")
        fixture = _FitsNothing(rig.reservoir)
        with pytest.raises(ReservoirNotFitted, match="a 40 U reservoir fitted, and the pump counts 300 U"):
            with reservoir_fitted(rig, fixture, 40.0):
                pass
        assert fixture.restored and rig.pump.status().state == "SUSPENDED"


def test_a_prime_that_leaves_the_test_nothing_to_measure_is_refused(tmp_path):
    rig_file = tmp_path / "big-prime.yaml"
    rig_file.write_text(f"extends: {EMULATOR}\nrig_id: big-prime\ninfusion_set: {{prime_U: 10.0, settle_s: 60}}\n")
    with Rig(load_rig(rig_file)) as rig:
        assert available_U(rig, 40.0, 10.0) == pytest.approx(20.0)  # a prime and a check of 10 U each
        with pytest.raises(StartingStateError, match="a 20 U reservoir less the rig file's prime and coupling check"):
            available_U(rig, 20.0)
