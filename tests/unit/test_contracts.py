"""Every built-in driver implements its contract (hil.drivers.contracts): the methods everything above the driver
layer may call. The behaviour behind them is exercised over the wire in the other unit tests and the campaigns."""

import pytest

from hil.drivers import contracts
from hil.drivers.loadcell_can import CanLoadCell
from hil.drivers.mtsics import MtSicsBalance
from hil.drivers.occlusion_valve import EmulatorValve, OperatorPromptValve, RelayBoardValve
from hil.drivers.pump_can import CanPumpDriver
from hil.drivers.pump_reference import ReferencePumpDriver
from hil.drivers.site_faults import EmulatorSite, OperatorPromptSite, RelayBoardSite

BUILT_IN = [(ReferencePumpDriver, contracts.Pump), (CanPumpDriver, contracts.Pump),
            (MtSicsBalance, contracts.Scale), (CanLoadCell, contracts.Scale),
            (EmulatorValve, contracts.OcclusionValve), (RelayBoardValve, contracts.OcclusionValve),
            (OperatorPromptValve, contracts.OcclusionValve),
            (EmulatorSite, contracts.SiteFixture), (RelayBoardSite, contracts.SiteFixture),
            (OperatorPromptSite, contracts.SiteFixture)]


@pytest.mark.parametrize(("driver", "contract"), BUILT_IN, ids=lambda x: x.__name__)
def test_the_built_in_driver_has_every_method_of_its_contract(driver, contract):
    assert issubclass(driver, contract)


def test_a_class_missing_a_method_is_not_a_pump():
    class NoStop(ReferencePumpDriver):
        stop = None  # a pump without the fail-safe STOP

    assert not issubclass(NoStop, contracts.Pump)


def test_priorities_rank_as_iec_60601_1_8_orders_them():
    assert [p.rank for p in (contracts.Priority.LOW, contracts.Priority.MEDIUM, contracts.Priority.HIGH)] == [1, 2, 3]
