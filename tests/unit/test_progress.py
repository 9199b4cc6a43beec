"""The progress line: known answers on a made-up campaign; where it goes on a terminal and elsewhere."""

import io

from hil.evidence.per_test import TestEvidence
from hil.evidence.progress import Progress
from hil.evidence.progress_display import ProgressDisplay


def test_the_line_counts_rig_time_against_what_earlier_runs_took():
    p = Progress(["a", "b", "c"], {"a": 3600.0, "b": 7200.0, "c": 3600.0}, wall0=0.0)
    p.begin("a", "DA-1", 0.0)
    p.end(3600.0)
    p.begin("b", "DA-2", 3600.0)
    line = p.line(3600.0 + 1800.0, "balance.csv: t_s 5400.0, mass_mg 1.0", wall_now=54.0)  # 100x so far
    assert line.startswith("[2/3] DA-2 30 min of 2.0 h · campaign 1.5 h of 4.0 h (38 %) · ETA ")
    assert line.endswith(" UTC · balance.csv: t_s 5400.0, mass_mg 1.0")


def test_a_test_never_timed_makes_the_totals_lower_bounds():
    p = Progress(["a", "b"], {"a": 3600.0}, wall0=0.0)
    p.begin("a", "DA-1", 0.0)
    line = p.line(4000.0, wall_now=4000.0)  # longer than it took before: counted as it is
    assert line.startswith("[1/2] DA-1 1.1 h of 1.0 h · campaign 1.1 h of ≥ 1.1 h (100 %) · ETA ≥ ")


def test_a_test_never_timed_is_marked_so_while_later_ones_were():
    p = Progress(["a", "b"], {"b": 3600.0}, wall0=0.0)
    p.begin("a", "DA-1", 0.0)
    assert p.line(600.0, wall_now=6.0).startswith("[1/2] DA-1 10 min (never timed) · campaign 10 min of ≥ 1.2 h (14 %) · ETA ≥ ")


def test_a_first_run_says_there_is_no_estimate_instead_of_a_total_and_an_eta():
    p = Progress(["a", "b", "c"], {}, wall0=0.0)
    p.begin("a", "DA-1", 0.0)
    p.end(3600.0)
    p.begin("b", "DA-2", 3600.0)
    line = p.line(3600.0 + 1800.0, "balance.csv: t_s 5400.0, mass_mg 1.0", wall_now=54.0)
    assert line == "[2/3] DA-2 30 min · campaign 1.5 h · ETA unknown (tests left never timed) · balance.csv: t_s 5400.0, mass_mg 1.0"


def test_no_estimate_either_when_only_the_finished_tests_were_ever_timed():
    p = Progress(["a", "b"], {"a": 3600.0}, wall0=0.0)
    p.begin("a", "DA-1", 0.0)
    p.end(3600.0)
    p.begin("b", "DA-2", 3600.0)
    assert p.line(4200.0, wall_now=60.0) == "[2/2] DA-2 10 min · campaign 1.2 h · ETA unknown (tests left never timed)"


def test_the_latest_reading_is_the_file_and_the_first_values_of_its_newest_row_whole(tmp_path):
    evidence = TestEvidence(tmp_path)
    with evidence.recording("occlusion", ["t_s", "mass_mg", "pressure_kPa", "pump_state", "phase"]) as raw:
        assert evidence.latest() is None
        raw.append("7260.000", "12.34567", "41.5", "DELIVERING", "occluded")
        assert evidence.latest() == "occlusion.csv: t_s 7260.000, mass_mg 12.34567, pressure_kPa 41.5"


class _Writer:
    def __init__(self):
        self._file = io.StringIO()
        self.fullwidth = 80
        self.width_of_current_line = 37  # where pytest's own line ends ("tests/safety/test_x.py ..")


class _Reporter:
    def __init__(self):
        self._tw = _Writer()
        self.lines = []

    def write_line(self, line):
        self.lines.append(line)


def test_a_terminal_gets_the_line_in_place_and_pytest_its_line_back():
    reporter = _Reporter()
    display = ProgressDisplay(reporter, live=True)
    display.tick(lambda: "[1/2] DA-1 5 min")
    display._next = 0.0  # as if half a second had passed
    display.tick(lambda: "[1/2] DA-1 6 min")
    display.clear()
    assert reporter._tw._file.getvalue() == ("\n[1/2] DA-1 5 min\x1b[K" "\r[1/2] DA-1 6 min\x1b[K"
                                             "\r\x1b[K\x1b[1A\r\x1b[37C")  # erased, back after pytest's dots
    assert reporter.lines == []


def test_a_line_wider_than_the_terminal_leaves_out_whole_parts_from_its_end():
    reporter = _Reporter()
    reporter._tw.fullwidth = 61
    display = ProgressDisplay(reporter, live=True)
    display.tick(lambda: "[2/3] DA-2 30 min · campaign 1.5 h · ETA unknown (tests left never timed) · balance.csv: t_s 1")
    assert reporter._tw._file.getvalue() == "\n[2/3] DA-2 30 min · campaign 1.5 h\x1b[K"
    reporter._tw.fullwidth = 200
    display._next = 0.0
    display.tick(lambda: "[2/3] DA-2 30 min · campaign 1.5 h · balance.csv: t_s 5400.0, mass_mg 1.0")
    assert reporter._tw._file.getvalue().endswith("\r[2/3] DA-2 30 min · campaign 1.5 h · balance.csv: t_s 5400.0, mass_mg 1.0\x1b[K")


def test_elsewhere_a_plain_line_at_most_once_a_minute():
    reporter = _Reporter()
    display = ProgressDisplay(reporter, live=False)
    for _ in range(3):
        display.tick(lambda: "[1/2] DA-1 5 min")
    display.clear()
    assert reporter.lines == ["hil: progress [1/2] DA-1 5 min"] and reporter._tw._file.getvalue() == ""
