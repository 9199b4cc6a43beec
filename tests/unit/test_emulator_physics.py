"""The emulator's physics in-process (unit tests of the emulator may reach its internals)."""

import numpy as np
import pytest

from hil.analysis import gravimetry
from hil.emulation.options import Defects, EmulatorConfig, Environment, FluidPathParams, PumpParams
from hil.emulator import fluid_properties
from hil.emulator.bench import Bench
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
    empty = [alarm for alarm in world.pump.alarms if alarm.kind == "RESERVOIR_EMPTY"]
    assert world.pump.state == "ALARM" and [alarm.priority for alarm in empty] == ["HIGH"] and "ALARM" in events
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


# The emulator's weighing physics (hil/emulator/fluid_properties.py) against published values, and against the
# harness's independent formulation (hil/analysis/gravimetry.py: Tanaka 2001, OIML R 111-1 approximate air).

@pytest.mark.parametrize("t, reference", [
    (4.0, 999.9750),   # Tanaka et al., Metrologia 38:301 (2001): maximum 999.97495 at 3.98 °C
    (20.0, 998.2067),  # Tanaka 2001 (docs/references.md, "Units and the conversion of mass to volume")
    (25.0, 997.0470),  # Tanaka 2001 (docs/references.md, "Units and the conversion of mass to volume")
    (37.0, 993.33),    # IAPWS-95 at 101.325 kPa as the CRC Handbook tabulates it, 0.99333 g/cm³ [R]
])
def test_water_density_matches_the_reference_tables_within_kells_scale_offset(t, reference):
    # Kell 1975 predates the VSMOW absolute density scale: it lies 3-4 ppm below Tanaka and IAPWS-95 (0-40 °C).
    rho = fluid_properties.water_density(t)
    assert rho == pytest.approx(reference, rel=5e-6)
    assert rho < reference


def test_water_density_is_kells_equation_at_0_c_and_peaks_near_4_c():
    assert fluid_properties.water_density(0.0) == 999.83952  # Kell 1975 eq. 16: the constant term
    ts = np.arange(3.0, 5.0, 0.001)
    assert ts[np.argmax([fluid_properties.water_density(t) for t in ts])] == pytest.approx(3.98, abs=0.01)


@pytest.mark.parametrize("t, reference_pa", [(20.0, 2339.3), (25.0, 3169.9)])  # CRC Handbook (IAPWS), 2.3393/3.1699 kPa [R]
def test_saturation_vapour_pressure_matches_the_steam_tables(t, reference_pa):
    assert fluid_properties.saturation_vapour_pressure_pa(t) == pytest.approx(reference_pa, rel=1e-4)


def test_air_density_matches_the_oiml_reference_conditions():
    # OIML R 111-1: ≈ 1.2 kg/m³; 1.199 at 20 °C, 1013.25 hPa, 50 % RH, computed with its approximation
    # (docs/references.md, "Units and the conversion of mass to volume"). Humid air is lighter.
    assert fluid_properties.air_density(20.0, 1013.25, 50.0) == pytest.approx(1.199, abs=5e-4)
    assert fluid_properties.air_density(20.0, 1013.25, 0.0) > fluid_properties.air_density(20.0, 1013.25, 100.0)
    assert fluid_properties.air_density(20.0, 800.0, 50.0) == pytest.approx(
        fluid_properties.air_density(20.0, 1013.25, 50.0) * 800.0 / 1013.25, rel=2e-3)  # ≈ ideal gas in p


@pytest.mark.parametrize("t, z_uL_per_mg", [(20.0, 1.0029), (22.0, 1.0033), (25.0, 1.0040)])
def test_indication_per_microlitre_matches_the_iso_8655_6_z_factors(t, z_uL_per_mg):
    # ISO 8655-6 Annex A / EURAMET cg-19 Z table at 1013 hPa, given to 4 decimals [R: recalled, not re-read].
    z = 1.0 / fluid_properties.balance_indication_mg_per_uL(t, 1013.25, 50.0)
    assert z == pytest.approx(z_uL_per_mg, abs=5e-5)


@pytest.mark.parametrize("t", [15.0, 20.0, 22.0, 25.0, 30.0, 37.0])
@pytest.mark.parametrize("humidity", [20.0, 50.0, 65.0, 85.0])
@pytest.mark.parametrize("pressure", [700.0, 1013.25, 1050.0])
def test_the_emulator_and_the_harness_agree_to_within_their_formulations(t, humidity, pressure):
    # Independent formulations of the same physics: water differs by Kell's 3-4 ppm scale offset, air by
    # ≤ 0.2 % (CIPM-2007 vs the OIML approximation), i.e. ≤ 2 ppm of the indication. A nominal campaign's
    # numbers move by ≈ 4 ppm; an error in either formula now shows instead of cancelling.
    emulator = fluid_properties.balance_indication_mg_per_uL(t, pressure, humidity)
    harness = gravimetry.indication_per_microlitre(t, pressure, humidity)
    assert emulator == pytest.approx(harness, rel=1e-5)
    assert fluid_properties.water_density(t) == pytest.approx(gravimetry.water_density(t), rel=5e-6)
    # OIML R 111-1 (E.3-1): the approximation is good to 2e-4 at 600-1100 hPa, 20-80 % RH, 15-27 °C.
    within_oiml_range = 600 <= pressure <= 1100 and 20 <= humidity <= 80 and 15 <= t <= 27
    assert fluid_properties.air_density(t, pressure, humidity) == pytest.approx(
        gravimetry.air_density(t, pressure, humidity), rel=2e-4 if within_oiml_range else 2e-3)


def test_the_world_weighs_with_its_own_physics_at_the_rigs_environment():
    env = Environment(temperature_C=25.0, pressure_hPa=950.0, humidity_pct=40.0)
    world = World(EmulatorConfig(environment=env), lambda kind, fields: None, lambda line: None)
    assert world.bench.k == fluid_properties.balance_indication_mg_per_uL(25.0, 950.0, 40.0)
