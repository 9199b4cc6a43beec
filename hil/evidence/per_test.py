"""What one test leaves behind: measurements judged against its requirement, raw data, plots, text.

Every measurement is recorded (and shown as an Allure step) before the verdict, so a failing test still
shows all its numbers. Files land in the test's own folder of the run directory and are attached to Allure.
"""

import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import allure

from hil.analysis.metric import Metric, Metrics
from hil.evidence.measurements import FAIL, INCONCLUSIVE, Measurement, measurement
from hil.evidence.recording import CsvRecording
from hil.specs import Requirement

_ATTACHMENT_TYPES = {
    ".csv": allure.attachment_type.CSV,
    ".png": allure.attachment_type.PNG,
    ".txt": allure.attachment_type.TEXT,
    ".json": allure.attachment_type.JSON,
    ".log": allure.attachment_type.TEXT,
    ".asc": allure.attachment_type.TEXT,
}


class MetricMissing(Exception):
    """The requirement bounds a metric the test did not compute: a defect in the test, not the pump."""


class UnitMismatch(Exception):
    """A metric computed in a unit its bound's unit cannot be converted from: a defect in the test."""


# Scale factors between units a metric may be computed in and its bound's unit: value_in_bound = value * factor.
_CONVERSIONS = {
    ("s", "min"): 1 / 60,
    ("min", "s"): 60.0,
    ("s", "h"): 1 / 3600,
    ("h", "s"): 3600.0,
    ("min", "h"): 1 / 60,
    ("h", "min"): 60.0,
    ("mg", "g"): 1e-3,
    ("g", "mg"): 1e3,
}


LATEST_VALUES = 3  # of the newest raw row on the progress line: a time and a reading or two, not the whole row


def in_unit(value: float, uncertainty: float, unit: str, wanted: str) -> tuple[float, float]:
    """value and its expanded uncertainty converted from `unit` to `wanted`; UnitMismatch if no conversion."""
    if unit == wanted:
        return value, uncertainty
    if (unit, wanted) not in _CONVERSIONS:
        raise UnitMismatch(f"computed in {unit!r}, bound in {wanted!r}: no conversion")
    factor = _CONVERSIONS[unit, wanted]
    return value * factor, uncertainty * factor


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")[:120]


class Inconclusive(AssertionError):
    """No measurement failed, but some could not be resolved by the rig: a verdict about the rig's fitness."""


class TestEvidence:
    __test__ = False  # not a pytest test class

    def __init__(self, directory: Path, figures: bool = True):
        """figures: draw the figures the test attaches (hil verify --no-figures: not, the campaigns of a tool
        validation whose verdicts are all it reads; the raw data they would show are kept all the same)."""
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.figures = figures
        self.measurements: list[Measurement] = []
        self.files: list[Path] = []
        self._recordings: list[CsvRecording] = []

    def recording(self, name: str, columns: list[str]) -> CsvRecording:
        """A raw-data CSV in this test's folder, flushed per row, attached when the test ends."""
        rec = CsvRecording(self.directory / f"{safe_name(name)}.csv", columns)
        self._recordings.append(rec)
        return rec

    def attach_text(self, name: str, text: str) -> Path:
        path = self.directory / f"{safe_name(name)}.txt"
        path.write_text(text, encoding="utf-8")
        return self._attach(path, name)

    def attach_figure(self, name: str, draw: Callable[..., Any], *args: Any) -> Path | None:
        """The figure draw(*args) returns (hil.evidence.plots), saved and attached; None, and nothing drawn, when
        this run draws no figures (a fifth of a campaign's CPU time is its figures)."""
        if not self.figures:
            return None
        from hil.evidence.plots import close, save_png

        figure = draw(*args)
        path = self.directory / f"{safe_name(name)}.png"
        save_png(figure, path)
        close(figure)
        return self._attach(path, name)

    def attach_file(self, path: Path, name: str) -> Path:
        """Attach a file already written into this test's folder."""
        return self._attach(Path(path), name)

    def _attach(self, path: Path, name: str) -> Path:
        self.files.append(path)
        allure.attach.file(str(path), name=name, attachment_type=_ATTACHMENT_TYPES.get(path.suffix))
        return path

    def record(self, m: Measurement) -> Measurement:
        self.measurements.append(m)
        with allure.step(m.summary()):
            allure.attach(json.dumps(m.as_dict(), indent=1), name=m.name, attachment_type=allure.attachment_type.JSON)
        return m

    def judge(self, requirement: Requirement, metrics: Metrics) -> None:
        """Record every bound of the requirement against the computed metrics (value, unit, expanded U),
        converted to the bound's unit (UnitMismatch where no conversion is defined), then every other
        computed metric as reported."""
        untyped = [name for name, metric in metrics.items() if not isinstance(metric, Metric)]
        if untyped:  # a bare tuple's order is nobody's contract: a defect of the test, never the pump's FAIL
            raise TypeError(f"{requirement.id}: not a Metric (value, unit, U): {', '.join(untyped)}")
        bounded = set()
        for bound in requirement.acceptance:
            if bound.name not in metrics:
                raise MetricMissing(
                    f"{requirement.id} bounds {bound.name}, which the test did not compute "
                    f"(computed: {', '.join(sorted(metrics))})"
                )
            value, unit, u = metrics[bound.name]
            try:
                value, u = in_unit(value, u, unit, bound.unit)
            except UnitMismatch as exc:
                raise UnitMismatch(f"{requirement.id} {bound.name}: {exc}") from None
            self.record(
                measurement(bound.name, value, bound.unit, bound.min, bound.max, u, bound.origin_text(), bound.min_tur)
            )
            bounded.add(bound.name)
        for name, (value, unit, u) in metrics.items():
            if name not in bounded:
                self.record(measurement(name, value, unit, uncertainty=u))

    def fitness(self, requirement: Requirement, expected_U: dict[str, float]) -> bool:
        """The fitness check before a test runs: for each two-sided bound whose expanded uncertainty the rig's
        data predict (expected_U: measurement name → U), a test uncertainty ratio below the requirement file's
        minimum is recorded as INCONCLUSIVE with the ratio. Returns whether the rig is fit for every bound."""
        fit = True
        for bound in requirement.acceptance:
            if bound.name in expected_U and bound.min is not None and bound.max is not None and bound.min_tur:
                m = measurement(
                    bound.name,
                    math.nan,
                    bound.unit,
                    bound.min,
                    bound.max,
                    expected_U[bound.name],
                    bound.origin_text(),
                    bound.min_tur,
                )
                if m.unfit:
                    self.record(m)
                    fit = False
        return fit

    def latest(self) -> str | None:
        """The newest raw row of the test's open recordings, in short for the progress line: 'file: column value, ...'
        with the row's first LATEST_VALUES values, each whole."""
        for rec in reversed(self._recordings):
            if rec.last and rec.last != rec.columns:
                # a progress line: a row shorter than the header shows the values it has, never stops the run
                pairs = list(zip(rec.columns, rec.last, strict=False))[:LATEST_VALUES]
                return f"{rec.path.name}: " + ", ".join(f"{c} {v}" for c, v in pairs)
        return None

    def close(self) -> None:
        for rec in self._recordings:
            rec.close()
            self._attach(rec.path, rec.path.stem)
        self._recordings.clear()

    def assert_pass(self) -> None:
        """The test's verdict: fails listing every measurement that failed or was inconclusive (Inconclusive
        when none failed outright: the rig could not resolve the requirement)."""
        bad = [m for m in self.measurements if m.outcome in (FAIL, INCONCLUSIVE)]
        if bad:
            kind = AssertionError if any(m.outcome == FAIL for m in bad) else Inconclusive
            raise kind(
                f"{len(bad)} of {len(self.measurements)} measurements not passed:\n"
                + "\n".join("  " + m.summary() for m in bad)
            )

    def as_record(self) -> dict:
        return {"measurements": [m.as_dict() for m in self.measurements], "files": [str(p) for p in self.files]}
