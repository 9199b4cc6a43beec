"""Evidence plots as PNG files: one rendering with a margin, cropped to what the figure draws, as matplotlib's tight
bounding box would crop it; matplotlib's own path for a figure that draws beyond the margin."""

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

from hil.evidence import plots
from hil.specs.loader import load_requirements

REQUIREMENTS = load_requirements([Path(__file__).resolve().parents[2] / "specs"])


def _pixels(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGBA")).astype(int)


def _both(make, tmp_path) -> tuple[np.ndarray, np.ndarray]:
    """The figure saved by matplotlib with bbox_inches="tight", and by plots.save_png."""
    figure = make()
    figure.savefig(tmp_path / "tight.png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    figure = make()
    plots.save_png(figure, tmp_path / "once.png")
    plt.close(figure)
    return _pixels(tmp_path / "tight.png"), _pixels(tmp_path / "once.png")


def test_a_figure_is_cropped_as_a_tight_bounding_box_crops_it(tmp_path):
    def trumpet():
        return plots.trumpet_figure(
            [2, 5, 11, 19, 31], [3, 2, 1, 1, 1], [-3, -2, -1, -1, -1], 0.5, "DA-BASAL-002", REQUIREMENTS["DA-BASAL-002"]
        )

    def occlusion():
        t_s = np.arange(0.0, 4 * 3600.0, 10.0)
        return plots.occlusion_figure(
            t_s, t_s / 3600.0, np.sin(t_s / 600.0) * 50 + 60, {}, [], "OC-ALARM-001", REQUIREMENTS["OC-ALARM-001"]
        )

    def odd_size():  # a size in inches that is no whole number of pixels
        figure = plots.cumulative_figure(
            np.arange(0.0, 7200.0, 10.0), np.arange(720) / 360.0, 1.0, 0.0, 7200.0, "DA-BASAL",
            REQUIREMENTS["DA-RECORD-002"],
        )
        figure.set_size_inches(7.37, 4.21)
        return figure

    for make in (trumpet, occlusion, odd_size):
        tight, once = _both(make, tmp_path)
        # the same box to a few pixels: savefig's holds the artists' extents, this one their ink
        assert abs(tight.shape[0] - once.shape[0]) <= 4 and abs(tight.shape[1] - once.shape[1]) <= 4, make.__name__
        inked = (once[..., :3] < 128).any(axis=2)
        rows, columns = np.nonzero(inked)
        # what is drawn reaches within the 0.1-inch pad (11 px) of every edge: nothing cut, no margin left over
        assert rows.min() <= 13 and columns.min() <= 13, make.__name__
        assert once.shape[0] - rows.max() <= 14 and once.shape[1] - columns.max() <= 14, make.__name__


def test_a_figure_drawing_beyond_its_margin_is_saved_whole(tmp_path):
    def legend_outside():
        figure, ax = plt.subplots(figsize=(4, 3))
        ax.plot([1, 2], label="delivered")
        ax.legend(bbox_to_anchor=(1.6, 1.0))
        return figure

    tight, once = _both(legend_outside, tmp_path)
    assert once.shape == tight.shape and once.shape[1] > 4 * 110  # wider than the canvas: the legend is in it
    assert np.array_equal(once, tight)


def test_a_test_draws_and_attaches_its_figure_unless_the_run_draws_none(tmp_path):
    from hil.evidence.per_test import TestEvidence

    drawn = []

    def draw(label):
        drawn.append(label)
        figure, ax = plt.subplots()
        ax.plot([0, 1], [0, 1], label=label)
        return figure

    with_figures = TestEvidence(tmp_path / "a")
    path = with_figures.attach_figure("a line", draw, "x")
    assert drawn == ["x"] and path == tmp_path / "a" / "a_line.png" and path in with_figures.files
    assert _pixels(path).shape[0] > 100
    without = TestEvidence(tmp_path / "b", figures=False)
    assert without.attach_figure("a line", draw, "y") is None
    assert drawn == ["x"] and not without.files and not list((tmp_path / "b").iterdir())
