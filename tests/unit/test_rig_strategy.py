"""The rig's strategy (hil.rig.strategy): chosen from the rig file, and on a labgrid place giving the place back only
once the pump's STOP was acknowledged."""

from pathlib import Path

import pytest

from hil.rig import lab
from hil.rig.config import load_rig
from hil.rig.strategy import Emulated, OnPlace, Strategy, strategy_of

RIGS = Path(__file__).resolve().parents[2] / "fixtures" / "rigs"


@pytest.mark.parametrize(
    ("rig", "kind", "inner"),
    [
        ("emulator.yaml", Emulated, None),
        ("emulator-rehearsal.yaml", Emulated, None),
        ("lab-emulator-b.yaml", OnPlace, Emulated),
    ],
)
def test_the_rig_file_chooses_the_strategy(rig, kind, inner):
    strategy = strategy_of(load_rig(RIGS / rig))
    assert type(strategy) is kind
    assert inner is None or type(strategy.inner) is inner


def test_a_bench_has_real_time_and_nothing_to_start_or_reset():
    bench = Strategy()
    assert bench.control is None and bench.emulator is None and bench.acquisition is None
    reset = []
    bench.begin_test("t", lambda: reset.append(True))
    assert not reset


@pytest.mark.parametrize(("stopped", "released"), [(True, ["release"]), (False, [])])
def test_a_place_acquired_here_goes_back_only_after_the_pumps_stop(monkeypatch, stopped, released):
    events: list[str] = []
    acquisition = lab.Acquisition("127.0.0.1:20408", "bench-b", "host/user", {}, "2026-12-07T00:00:00+00:00")
    monkeypatch.delenv(lab.ACQUISITION_ENV, raising=False)
    monkeypatch.setattr(lab, "acquire", lambda coordinator, place, wait_s=0.0: acquisition)
    monkeypatch.setattr(lab, "release", lambda held: events.append("release"))
    place = OnPlace(Strategy(), "127.0.0.1:20408", "bench-b")
    place.open()
    assert place.acquisition is acquisition and place.acquired_here
    place.close(pump_stopped=stopped)
    assert events == released


def test_a_place_hil_verify_holds_is_not_given_back_by_the_rig(monkeypatch):
    acquisition = lab.Acquisition("127.0.0.1:20408", "bench-b", "host/user", {}, "2026-12-07T00:00:00+00:00")
    monkeypatch.setenv(lab.ACQUISITION_ENV, acquisition.as_json())
    monkeypatch.setattr(lab, "release", lambda held: pytest.fail("released a place hil verify holds"))
    place = OnPlace(Strategy(), "127.0.0.1:20408", "bench-b")
    place.open()
    assert place.acquisition == acquisition and not place.acquired_here
    place.close(pump_stopped=True)


def test_a_rig_that_fails_to_open_on_a_place_it_acquired_gives_the_place_back(monkeypatch):
    from hil.errors import TransportError
    from hil.rig import strategy
    from hil.rig.rig import Rig

    events: list[str] = []
    ports = {"control": "socket://127.0.0.1:9"}
    acquisition = lab.Acquisition("127.0.0.1:20408", "bench-b", "host/user", ports, "2026-12-07T00:00:00+00:00")
    monkeypatch.delenv(lab.ACQUISITION_ENV, raising=False)
    monkeypatch.setattr(lab, "acquire", lambda coordinator, place, wait_s=0.0: events.append("acquire") or acquisition)
    monkeypatch.setattr(lab, "release", lambda held: events.append("release"))

    def unreachable(url, *args, **kwargs):
        raise TransportError(f"control: cannot open {url}")

    monkeypatch.setattr(strategy, "EmulatorControl", unreachable)
    with pytest.raises(TransportError, match="cannot open socket://127.0.0.1:9"):
        with Rig(load_rig(RIGS / "lab-emulator-b.yaml")):
            pass
    assert events == ["acquire", "release"]  # no pump link was ever open: nothing to wait for before giving it back
