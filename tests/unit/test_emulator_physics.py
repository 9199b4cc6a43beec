"""The emulator's physics in-process (unit tests of the emulator may reach its internals)."""

import numpy as np
import pytest

from hil.emulator.bench import Bench
from hil.emulator.config import Defects, EmulatorConfig, FluidPathParams, PumpParams
from hil.emulator.world import World
from hil.transport.frames import Frame


def bench(**overrides):
    params = dict(compliance_uL_per_kPa=0.25, resistance_kPa_s_per_uL=15.2, settling_tau_s=2.0,
                  indication_mg_per_uL=1.0, evaporation_mg_per_s=0.0, vessel_mg=0.0)
    return Bench(**(params | overrides))


def test_closed_form_matches_a_fine_euler_integration():
    b = bench(evaporation_mg_per_s=1e-3)
    b.push(10.0)
    for _ in range(7):
        b.advance(10.0 / 7)
    v, m, y, dt = 10.0, 0.0, 0.0, 1e-4
    for _ in range(int(10.0 / dt)):
        out = v / 3.8 * dt
        v, m = v - out, m + out - 1e-3 * dt
        y += (m - y) / 2.0 * dt
    assert (b.stored_uL, b.indication_mg, b.display_mg) == (pytest.approx(v, rel=1e-3), pytest.approx(m, rel=1e-4),
                                                           pytest.approx(y, rel=1e-4))


def test_volume_is_conserved_and_pressure_is_volume_over_compliance():
    b = bench()
    for _ in range(20):
        b.push(0.5)
        b.advance(2.0)
    assert b.pressure_kPa == pytest.approx(b.stored_uL / 0.25)
    assert b.arrived_uL + b.stored_uL == pytest.approx(10.0)
    b.advance(600.0)
    assert b.arrived_uL == pytest.approx(10.0) and b.display_mg == pytest.approx(10.0)


def test_a_blocked_outlet_stores_every_stroke():
    b = bench(resistance_kPa_s_per_uL=float("inf"))
    for _ in range(10):
        b.push(0.5)
        b.advance(60.0)
    assert b.arrived_uL == 0.0 and b.pressure_kPa == pytest.approx(20.0)  # 2 kPa per 0.5 µL stroke


def test_bolus_tail_matches_the_sourced_share():
    # FluidPathParams: τ = R·C = 4.69 s leaves 9.4 % of a 1 U bolus at 1.5 U/min after its nominal end.
    fp = FluidPathParams()
    b = bench(compliance_uL_per_kPa=fp.compliance_uL_per_kPa, resistance_kPa_s_per_uL=fp.resistance_kPa_s_per_uL)
    for _ in range(20):  # 20 strokes of 0.5 µL, one every 2 s
        b.push(0.5)
        b.advance(2.0)
    assert 100 * (10.0 - b.arrived_uL) / 10.0 == pytest.approx(9.4, abs=0.05)


def run_world(config, commands, advance_s):
    events = []
    world = World(config, lambda kind, fields: events.append(kind), lambda line: None)
    for word, *args in commands:
        world.pump.handle(Frame("1", word, tuple(args)))
    world.advance(advance_s)
    return world, events


def test_basal_strokes_are_evenly_spaced_and_counted():
    world, _ = run_world(EmulatorConfig(), [("RESUME",), ("BASAL", "1.000")], 3600.0 + 1.0)
    assert world.pump.delivered_U == pytest.approx(1.0)  # 20 strokes of 0.05 U, one every 180 s
    assert world.pump.reservoir_U == pytest.approx(299.0)


def test_slack_is_taken_up_by_the_first_strokes():
    config = EmulatorConfig(pump=PumpParams(stroke_cv=0.0))
    world, _ = run_world(config, [("RESUME",), ("BOLUS", "1.000")], 600.0)
    assert world.bench.arrived_uL == pytest.approx(10.0 - 3.0, abs=1e-6)  # 0.3 U of slack


def test_same_seed_same_world_and_a_different_seed_differs():
    def trace(seed):
        config = EmulatorConfig(seed=seed)
        world, _ = run_world(config, [("RESUME",), ("BASAL", "30.000")], 600.0)
        return world.bench.arrived_uL, world.balance.handle(b"SI")[0]

    assert trace(7) == trace(7)
    assert trace(7) != trace(8)


def test_reservoir_empty_raises_a_high_priority_alarm_and_stops():
    config = EmulatorConfig(pump=PumpParams(reservoir_U=0.5, slack_U=0.0))
    world, events = run_world(config, [("RESUME",), ("BASAL", "30.000")], 3600.0)
    assert world.pump.state == "ALARM" and world.pump.alarms[0].priority == "HIGH" and "ALARM" in events
    assert world.pump.delivered_U == pytest.approx(0.5)


@pytest.mark.parametrize("command, code", [
    (("BOLUS", "0.07"), "BAD_ARGUMENT"), (("BOLUS", "40"), "BAD_ARGUMENT"), (("BASAL", "fast"), "BAD_ARGUMENT"),
    (("FLY",), "UNKNOWN_COMMAND"), (("BOLUS", "1.0"), "NOT_ALLOWED"),  # suspended after a reset
])
def test_pump_refusals_are_typed(command, code):
    from hil.emulator.pump import Refused

    world, _ = run_world(EmulatorConfig(), [], 0.0)
    with pytest.raises(Refused) as info:
        world.pump.handle(Frame("1", command[0], tuple(command[1:])))
    assert info.value.code == code


def test_balance_noise_matches_the_repeatability():
    world, _ = run_world(EmulatorConfig(), [], 10.0)
    readings = [float(world.balance.handle(b"SI")[0].split()[2]) * 1000 for _ in range(2000)]
    assert np.std(readings) == pytest.approx(world.config.balance.repeatability_mg, rel=0.1)


@pytest.mark.parametrize("line, reply", [(b"XYZ", "ES"), (b"S 1", "EL"), (b"\xff", "ET"), (b"I4", 'I4 A "B000000001"')])
def test_balance_command_errors(line, reply):
    world, _ = run_world(EmulatorConfig(), [], 0.0)
    assert world.balance.handle(line) == [reply]


def occluded_world(config=None, rate="1.000"):
    world, events = run_world(config or EmulatorConfig(pump=PumpParams(slack_U=0.0)), [("RESUME",), ("BASAL", rate)], 0.0)
    world.bench.valve_open = False
    return world, events


def test_pressure_rises_stroke_by_stroke_into_a_blocked_outlet_until_a_high_alarm():
    events = []
    world = World(EmulatorConfig(pump=PumpParams(slack_U=0.0, stroke_cv=0.0)), lambda kind, f: events.append((kind, f)), lambda line: None)
    for word, *args in [("RESUME",), ("BASAL", "1.000")]:
        world.pump.handle(Frame("1", word, tuple(args)))
    world.bench.valve_open = False
    world.advance(180.0 * 10 + 1)
    # the 5 kPa tissue back-pressure the line rests at, plus 10 strokes × 0.5 µL / 0.25 µL/kPa
    assert world.bench.pressure_kPa == pytest.approx(5.0 + 20.0)
    world.advance(180.0 * 40)
    (kind, fields), = events
    assert kind == "ALARM" and fields["kind"] == "OCCLUSION" and fields["priority"] == "HIGH"
    assert float(fields["pressure"]) == pytest.approx(101.0)  # the 48th stroke reaches the threshold
    assert world.pump.state == "ALARM" and world.pump.delivered_U == pytest.approx(2.4)
    assert world.bench.stored_uL == pytest.approx(0.0)  # the 2.5 U back-off relieved the line
    world.advance(3600.0)
    assert world.pump.delivered_U == pytest.approx(2.4)  # stopped


def test_without_back_off_the_stored_volume_is_released_on_opening():
    world, _ = occluded_world()
    world.pump.handle(Frame("1", "SET", ("backoff=0",)))
    world.advance(4 * 3600.0)
    stored = world.bench.stored_uL
    assert world.pump.state == "ALARM" and stored > 24.0
    arrived = world.bench.arrived_uL
    world.bench.valve_open = True
    world.advance(120.0)  # 25 time constants
    assert world.bench.arrived_uL - arrived == pytest.approx(stored, rel=1e-6)


def test_seeded_occlusion_defects():
    keeps = EmulatorConfig(pump=PumpParams(slack_U=0.0), defects=Defects(occlusion_keeps_delivering=True,
                                                                           occlusion_alarm_priority="MEDIUM"))
    world, events = occluded_world(keeps)
    world.advance(4 * 3600.0)
    assert world.pump.state == "RUNNING" and world.pump.delivered_U == pytest.approx(4.0)
    assert world.pump.alarms[0].priority == "MEDIUM" and world.bench.pressure_kPa > 150


def test_history_counts_strokes_since_a_time():
    world, _ = run_world(EmulatorConfig(), [("RESUME",), ("BASAL", "1.000")], 3600.0 + 1)
    # strokes at 180 s, 360 s, ... 3600 s: ten of them after 1800 s (the one at 1800 s counts from 1800 on)
    fields = dict(a.split("=") for a in world.pump.handle(Frame("1", "HISTORY", ("1800.5",))))
    assert fields["strokes"] == "10" and float(fields["amount"]) == pytest.approx(0.5)


def test_quick_bolus_speed():
    world, _ = run_world(EmulatorConfig(), [("RESUME",)], 0.0)
    fields = dict(a.split("=") for a in world.pump.handle(Frame("1", "BOLUS", ("30.000", "QUICK"))))
    assert float(fields["duration"]) == pytest.approx(120.0) and fields["speed"] == "15"


def test_temporary_basal_runs_for_its_duration_then_the_programmed_rate_resumes():
    world, _ = run_world(EmulatorConfig(), [("RESUME",), ("BASAL", "1.000"), ("TEMPBASAL", "2.000", "60")], 3599.0)
    assert world.pump.delivered_U == pytest.approx(1.95)  # strokes every 90 s: 39 before the hour is out
    world.advance(3602.0)
    assert world.pump.delivered_U == pytest.approx(2.95) and world.pump.basal_rate == 1.0  # then 1 U/h again


@pytest.mark.parametrize("args", [("1.0", "0.5"), ("1.0", "2000"), ("0.07", "30")])
def test_bad_temporary_basals_are_refused(args):
    from hil.emulator.pump import Refused

    world, _ = run_world(EmulatorConfig(), [("RESUME",)], 0.0)
    with pytest.raises(Refused) as info:
        world.pump.handle(Frame("1", "TEMPBASAL", args))
    assert info.value.code == "BAD_ARGUMENT"
