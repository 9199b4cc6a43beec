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
    # metrology.md §1.2: Z = 1.00285 µL/mg at 20 °C and 1.00328 µL/mg at 22 °C (1013 hPa, 50 % RH).
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
