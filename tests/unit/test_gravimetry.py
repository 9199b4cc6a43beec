import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hil.analysis import gravimetry


def test_tanaka_check_values():
    assert gravimetry.water_density(20.0) == pytest.approx(998.2067, abs=1e-4)
    assert gravimetry.water_density(25.0) == pytest.approx(997.0470, abs=1e-4)


def test_air_density_at_reference_conditions():
    assert gravimetry.air_density(20.0, 1013.0, 50.0) == pytest.approx(1.199, abs=1e-3)


@pytest.mark.parametrize("temperature, z_factor", [(20.0, 1.00285), (22.0, 1.00328)])
def test_z_factor_matches_iso_8655_tables(temperature, z_factor):
    # Z = 1.00285 µL/mg at 20 °C and 1.00328 µL/mg at 22 °C (1013 hPa, 50 % RH), the project's computation
    # (docs/references.md, "Units and the conversion of mass to volume").
    assert float(gravimetry.mass_to_volume(1.0, temperature, 1013.0, 50.0)) == pytest.approx(z_factor, abs=2e-5)


def test_u100_units():
    assert float(gravimetry.volume_to_units(10.0)) == pytest.approx(1.0)
    assert float(gravimetry.volume_to_units(10.0, concentration_u_per_ml=200.0)) == pytest.approx(2.0)


@given(rate=st.floats(0.0, 50.0), offset=st.floats(-100.0, 100.0))
def test_blank_run_rate_recovers_a_linear_loss(rate, offset):
    t = np.arange(0.0, 7200.0, 30.0)
    mass = 35000.0 + offset - rate * t / 3600.0
    assert gravimetry.blank_run_rate(t, mass) == pytest.approx(rate, abs=1e-6)


def test_evaporation_correction_adds_back_the_loss():
    t = np.array([0.0, 1800.0, 3600.0])
    corrected = gravimetry.evaporation_corrected(t, [10.0, 9.9, 9.8], rate_mg_per_h=0.2)
    np.testing.assert_allclose(corrected, [10.0, 10.0, 10.0])


# Mutation testing (scripts/mutation.sh, docs/validation.md): more known answers, and the balance's
# uncertainty budget (hil.analysis.uncertainty), which the gravimetric procedures use.

def test_water_density_at_its_maximum_and_air_density_off_the_reference_point():
    assert gravimetry.water_density(4.0) == pytest.approx(999.9750, abs=1e-4)  # Tanaka 2001: max near 3.98 °C
    # OIML R111-1 formula by hand: (0.34848·p − 0.009·h·e^(0.061·t)) / (273.15 + t)
    assert gravimetry.air_density(20.0, 1013.0, 50.0) == pytest.approx(1.198997, abs=2e-6)
    assert gravimetry.air_density(25.0, 950.0, 20.0) == pytest.approx(1.107593, abs=2e-6)
    assert gravimetry.air_density(20.0, 1013.0, 0.0) == pytest.approx(0.34848 * 1013.0 / 293.15, rel=1e-12)


def test_indication_per_microlitre_and_the_reference_weight_density():
    assert gravimetry.REFERENCE_WEIGHT_DENSITY == 8000.0  # OIML R111 steel weights
    assert gravimetry.indication_per_microlitre(20.0, 1013.0, 50.0) == pytest.approx(0.9971572, abs=1e-7)
    np.testing.assert_allclose(gravimetry.mass_to_volume([0.0, 997.1572], 20.0, 1013.0, 50.0), [0.0, 1000.0],
                               atol=1e-3)


def test_evaporation_correction_counts_from_the_first_sample_not_from_zero():
    corrected = gravimetry.evaporation_corrected([100.0, 1900.0, 3700.0], [10.0, 9.9, 9.8], rate_mg_per_h=0.2)
    np.testing.assert_allclose(corrected, [10.0, 10.0, 10.0], rtol=1e-12)


def test_blank_run_rate_counts_time_from_the_first_sample():
    t = np.array([7200.0, 9000.0, 10800.0])
    assert gravimetry.blank_run_rate(t, [500.0, 499.5, 499.0]) == pytest.approx(1.0, rel=1e-9)


def test_units_in_a_volume():
    np.testing.assert_allclose(gravimetry.volume_to_units([0.0, 10.0, 25.0]), [0.0, 1.0, 2.5], rtol=1e-12)
    assert float(gravimetry.volume_to_units(1000.0)) == 100.0


def test_gravimetric_uncertainty_budget():
    from hil.analysis import uncertainty

    assert uncertainty.COVERAGE_FACTOR == 2.0
    assert uncertainty.reading_uncertainty_mg(0.0, 1.0) == pytest.approx(1 / 12 ** 0.5, rel=1e-12)  # r/√12
    assert uncertainty.reading_uncertainty_mg(0.3, 0.0) == pytest.approx(0.3, rel=1e-12)
    assert uncertainty.reading_uncertainty_mg(0.3, 0.4 * 12 ** 0.5) == pytest.approx(0.5, rel=1e-12)  # in quadrature
    assert uncertainty.difference_uncertainty_mg(0.3, 0.4 * 12 ** 0.5) == pytest.approx(0.5 * 2 ** 0.5, rel=1e-12)
    assert uncertainty.expanded(0.25) == 0.5
