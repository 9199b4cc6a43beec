"""Error types shared by transports, drivers and the rig.

RigError means the rig itself is at fault (a silent instrument, a dead link, garbage on the wire): the
test cannot judge the pump, later tests on the rig are skipped as broken. DeviceRefused is the device
answering with a typed error: a fact about the device under test, which a test may assert on.
"""


class RigError(Exception):
    """The rig cannot be trusted any more: what failed and where."""


class TransportError(RigError):
    """A link failed: the port vanished, or a deadline passed with no answer."""


class ProtocolError(RigError):
    """An instrument answered something the protocol does not allow."""


class DeviceRefused(Exception):
    """The device understood the command and answered with a typed error."""

    def __init__(self, device: str, code: str, message: str = ""):
        self.device, self.code, self.message = device, code, message
        super().__init__(f"{device} refused: {code} {message}".rstrip())
