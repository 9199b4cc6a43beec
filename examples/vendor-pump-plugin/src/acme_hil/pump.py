"""The Acme RP-1 on its service link: the hil reference protocol (hil's docs/protocol.md) behind a session
unlock. Until unlocked, the pump takes only ID, STOP and UNLOCK; the driver unlocks as it connects, with a key it
reads from an environment variable (a rig file is evidence and is archived with every run: it never holds a key).

    UNLOCK             → OK challenge=<16 hex>
    UNLOCK <response>  → OK unlocked=1        response = HMAC-SHA256(key, challenge), first 16 hex digits

The service firmware's line-pressure field is not calibrated, so this driver passes none on and does not declare
the line-pressure capability: hil skips, with that reason, what needs it (OC-PRESS-001), instead of judging the pump
on a number it does not stand behind.
"""

import dataclasses
import hashlib
import hmac
import os

from pydantic import Field

from hil.drivers.contracts import Alarm, Capability, PumpEvent, PumpStatus
from hil.drivers.pump_reference import ReferencePumpDriver
from hil.drivers.registry import Baudrate, DeviceKind, RigContext, SerialOptions
from hil.errors import DeviceRefused, RigError

RESPONSE_DIGITS = 16


def unlock_response(key: bytes, challenge: str) -> str:
    return hmac.new(key, challenge.encode("ascii"), hashlib.sha256).hexdigest()[:RESPONSE_DIGITS]


class AcmeServicePump(ReferencePumpDriver):
    """Acme RP-1, service link: the reference protocol after a session unlock; no line pressure."""

    device = DeviceKind.PUMP
    capabilities = frozenset(Capability) - {Capability.LINE_PRESSURE}

    class Options(SerialOptions):
        baudrate: Baudrate = 115200
        key_env: str = Field(
            "ACME_SESSION_KEY",
            pattern=r"^[A-Z_][A-Z0-9_]{0,63}$",
            description="the environment variable that holds the pump's service key",
        )

    @classmethod
    def connect(cls, options: Options, rig: RigContext) -> "AcmeServicePump":
        key = os.environ.get(options.key_env, "")
        if not key:
            raise RigError(f"Acme pump: set {options.key_env} to the pump's service key (rig {rig.rig_id})")
        pump = cls(rig.port(options.port), baudrate=options.baudrate, timeout_s=options.timeout_s)
        try:
            pump.unlock(key.encode())
        except BaseException:
            pump.close()
            raise
        return pump

    def unlock(self, key: bytes) -> None:
        """Open the service session; a refused response is the rig's fault (a wrong key), not the pump's."""
        challenge = self.link.request("UNLOCK").fields.get("challenge", "")
        if len(challenge) != RESPONSE_DIGITS:
            raise RigError(f"Acme pump: UNLOCK gave no challenge ({challenge!r})")
        try:
            self.link.request("UNLOCK", unlock_response(key, challenge))
        except DeviceRefused as exc:
            raise RigError(f"Acme pump: the unlock response was refused ({exc}): a wrong service key") from None

    def status(self) -> PumpStatus:
        return dataclasses.replace(super().status(), pressure_kPa=None)

    def events(self) -> list[PumpEvent]:
        return [dataclasses.replace(e, pressure_kPa=None) if isinstance(e, Alarm) else e for e in super().events()]
