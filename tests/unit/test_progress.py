"""The progress line: known answers on a made-up campaign."""

from hil.evidence.progress import Progress


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
