"""Every built-in driver implements its contract (hil.drivers.contracts): the methods everything above the driver
layer may call. The behaviour behind them is exercised over the wire in the other unit tests and the campaigns."""

import pytest

from hil.drivers import contracts, registry
from hil.drivers.pump_reference import ReferencePumpDriver
from hil.drivers.registry import DeviceKind

CONTRACT = {DeviceKind.PUMP: contracts.Pump, DeviceKind.SCALE: contracts.Scale,
            DeviceKind.VALVE: contracts.OcclusionValve, DeviceKind.SITE: contracts.SiteFixture,
            DeviceKind.RESERVOIR: contracts.ReservoirFixture}
BUILT_IN = [name for name, registered in registry.installed().items() if registered.built_in]


def test_every_device_kind_has_built_in_drivers():
    assert {registry.driver_class(name).device for name in BUILT_IN} == set(DeviceKind)


@pytest.mark.parametrize("name", BUILT_IN)
def test_the_built_in_driver_has_every_method_of_its_contract(name):
    driver = registry.driver_class(name)
    assert issubclass(driver, CONTRACT[driver.device])


def test_a_class_missing_a_method_is_not_a_pump():
    class NoStop(ReferencePumpDriver):
        stop = None  # a pump without the fail-safe STOP

    assert not issubclass(NoStop, contracts.Pump)


def test_priorities_rank_as_iec_60601_1_8_orders_them():
    assert [p.rank for p in (contracts.Priority.LOW, contracts.Priority.MEDIUM, contracts.Priority.HIGH)] == [1, 2, 3]
