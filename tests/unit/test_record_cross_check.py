"""The pump's record against the balance outside dose accuracy: spans summed into one disagreement, a span's end
taken only once every stroke the pump counted has arrived, and which requirements of the other areas carry their
file's cross-check (docs/bench.md, "The balance must see the pump")."""

import math
from types import SimpleNamespace

import pytest

from hil.analysis.dose_metrics import RecordSpan, spans_record_disagreement
from hil.drivers.contracts import Reading
from hil.procedures import delivery
from hil.specs import load_requirements
from hil.specs.metrics import METRICS
from tests.unit.test_specs import ROOT

NOT_CROSS_CHECKED = {"occlusion-bolus", "site-kink-bolus"}  # every stroke into a blocked line, drawn back unreported
UNWEIGHED = {"calculator-advice", "calculator-cgm"}  # the calculator's advice alone: nothing delivered is judged
# each file's bound: auto mode's spans are hours of delivery, without the small boluses or the two strokes of a 2-h
# flow at 0.05 U/h that the others leave room for
BOUNDS = {"Automated insulin delivery": (-25, 33.3)}


def test_spans_are_summed_before_the_disagreement_is_taken_and_their_uncertainties_in_quadrature():
    spans = [RecordSpan(1.9, 0.03, 2.0, 2.0), RecordSpan(0.0, 0.04, 1.0, 1.0)]  # a trial whose whole delivery is gone
    value, unit, U = spans_record_disagreement(spans)
    assert unit == "%" and value == pytest.approx(100.0 * (1.9 - 3.0) / 3.0)
    assert U == pytest.approx(100.0 * 0.05 / 3.0)


def test_no_span_is_not_a_number_and_a_pump_that_counts_nothing_is_held_to_the_commands():
    assert math.isnan(spans_record_disagreement([])[0])
    value, _, _ = spans_record_disagreement([RecordSpan(0.0, 0.01, 0.0, 0.5), RecordSpan(0.0, 0.01, 0.0, 0.5)])
    assert value == pytest.approx(-100.0)


class Line:
    """A pump whose strokes (counted at stroke_s) reach the balance delay_s later, on a clock the test steps."""

    def __init__(self, stroke_s, delay_s=5.0, settle_s=60.0):
        self.t, self.stroke_s, self.delay_s = 0.0, stroke_s, delay_s
        self.rig = SimpleNamespace(
            clock=SimpleNamespace(now=lambda: self.t, sleep=self.sleep, wait_for=lambda f, timeout, poll: f()),
            scale=SimpleNamespace(read_stable=self.read),
            pump=SimpleNamespace(status=lambda: SimpleNamespace(delivered_U=self.counted(self.t))),
            config=SimpleNamespace(infusion_set=SimpleNamespace(settle_s=settle_s)),
        )

    def sleep(self, s):
        self.t += s

    def counted(self, t):
        return 0.05 * sum(s <= t for s in self.stroke_s)

    def read(self):
        return Reading(self.t, 500.0 * self.counted(self.t - self.delay_s), True)  # 0.05 U = 10 µL ≈ 10 mg here


def test_a_stroke_still_in_the_line_is_counted_and_not_yet_weighed_so_a_span_ends_once_it_has_arrived():
    line = Line(stroke_s=[30.0, 200.0])
    line.t = 30.0
    early = delivery.mark(line.rig)
    assert early.recorded_U == pytest.approx(0.05) and early.mass_mg == 0.0  # what a plain mark would compare
    line.t = 25.0  # counted nothing yet; the stroke at 30 s comes during the settle: taken again
    settled = delivery.settled_mark(line.rig)
    assert settled.t == pytest.approx(145.0)
    assert (settled.recorded_U, settled.mass_mg) == (pytest.approx(0.05), pytest.approx(25.0))


def test_every_weighed_requirement_outside_dose_accuracy_carries_its_files_cross_check_but_a_bolus_into_a_block():
    kind = METRICS["record_disagreement"]
    assert not (NOT_CROSS_CHECKED | UNWEIGHED) & set(kind.methods)
    for requirement in load_requirements([ROOT / "specs"]).values():
        if requirement.area == "Dose accuracy":
            continue  # test_balance_coupling
        checks = [(b.min, b.max, b.source.startswith("stated judgement")) for b in requirement.acceptance
                  if b.metric == kind.name]
        expected = [] if requirement.method in NOT_CROSS_CHECKED | UNWEIGHED else [
            (*BOUNDS.get(requirement.area, (-50, 100)), True)]
        assert checks == expected, requirement.id
