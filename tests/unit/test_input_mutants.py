"""The bad-input campaign as tests: hundreds of mutated requirement and rig files, each loaded under a hang guard,
each with the outcome it must have (a located refusal, or a load for a legitimate edit); never a traceback."""

import pytest

from tests.unit.input_mutants import run_campaign, table


@pytest.mark.parametrize("kind", ["spec", "rig"])
def test_every_mutant_is_refused_with_a_located_line_or_legitimately_loads(kind, tmp_path):
    tally = run_campaign(kind, tmp_path)
    print(table({kind: tally}))
    counts = tally.counts()
    assert len(tally.results) >= 100
    assert counts["rejected"] >= 100 and counts["accepted"] >= 10  # neither class vacuous
    assert not tally.wrong(), "\n".join(f"{r.mutant.name}: expected {r.mutant.expect}, got {r.outcome} {r.detail}"
                                        for r in tally.wrong())
