"""Instrument faults are the rig's: every error an instrument, a lost line or a holed recording raises is a
RigError, which the plugin classes `rig` (the rig is marked broken, later tests skipped), and neither an
AssertionError nor a DeviceRefused, which it classes `product`."""

from types import SimpleNamespace

import pytest

from hil.drivers.contracts import Reading, Refusal
from hil.errors import (DeviceRefused, InstrumentRefused, InstrumentUnstable, LostEvent, RecordingGap, RigError,
                        TransportError)
from hil.evidence.recording import CsvRecording
from hil.procedures import delivery


@pytest.mark.parametrize("error", [
    InstrumentRefused("balance", Refusal.TRANSMISSION, "transmission error"),
    InstrumentRefused("balance", Refusal.OVERLOAD), InstrumentRefused("load cell", Refusal.BUSY), InstrumentUnstable("balance not stable within 120 s"),
    LostEvent("pump: event counter jumped from E4 to E6"), RecordingGap("1 gap(s) longer than 2.5 sample intervals"),
], ids=lambda e: type(e).__name__)
def test_instrument_faults_are_rig_class(error):
    assert isinstance(error, RigError) and not isinstance(error, (AssertionError, DeviceRefused))


class Clock:
    def __init__(self):
        self.t = 0.0

    def now(self):
        return self.t

    def sleep_until(self, t):
        self.t = max(self.t, t)


def test_a_sample_that_cannot_be_read_stops_the_recording_as_a_rig_fault_and_keeps_the_rows(tmp_path):
    clock = Clock()

    def read():
        if clock.t >= 60.0:
            raise TransportError("balance (/dev/pts/9): no answer within 2 s")
        return Reading(clock.t, 10.0 * clock.t, True)

    rig = SimpleNamespace(clock=clock, scale=SimpleNamespace(read=read))
    with CsvRecording(tmp_path / "balance.csv", ["t_s", "mass_mg", "stable"]) as raw:
        with pytest.raises(RigError) as info:
            delivery.record(rig, 0.0, 300.0, 30.0, raw)
    assert "recording stopped at sample 3/11; the 2 taken are kept" in "".join(info.value.__notes__)
    assert (tmp_path / "balance.csv").read_text().splitlines()[1:] == ["0.000,0.00000,1", "30.000,300.00000,1"]
