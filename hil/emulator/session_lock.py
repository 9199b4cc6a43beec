"""A service-session lock in front of the emulated pump's serial link: the vendor variant of the reference
protocol that `examples/vendor-pump-plugin/` drives (docs/protocol.md §1, "Session lock"). With the pump's
`session_key` set, every request but ID, STOP and UNLOCK is refused `NOT_ALLOWED session locked` until the link is
unlocked by a challenge and response:

    UNLOCK             → OK challenge=<16 hex digits>   a new challenge each time (it voids the one before)
    UNLOCK <response>  → OK unlocked=1                  response: the first 16 hex digits of HMAC-SHA256(key, challenge)

A wrong or unasked response is `BAD_ARGUMENT` and voids the challenge. STOP is accepted locked or not: the
fail-safe never waits for a handshake. The session is the link's: a RESET (a new pump for the next test) leaves
it open. Challenges come from the seed, so a run is deterministic per seed like the rest of the emulator.
"""

import hashlib
import hmac
from collections.abc import Callable

from hil.emulator.pump import Refused
from hil.transport.frames import Frame

RESPONSE_DIGITS = 16
OPEN_COMMANDS = frozenset({"ID", "STOP", "UNLOCK"})


def response(key: bytes, challenge: str) -> str:
    return hmac.new(key, challenge.encode("ascii"), hashlib.sha256).hexdigest()[:RESPONSE_DIGITS]


class SessionLock:
    def __init__(self, key: str, seed: int):
        self.key = key.encode()
        self.seed = seed
        self.unlocked = False
        self._challenges = 0
        self._challenge: str | None = None

    def handle(self, frame: Frame, pump: Callable[[Frame], tuple[str, ...]]) -> tuple[str, ...]:
        """The reply fields of a request on the locked link; Refused for a typed error."""
        if frame.word == "UNLOCK":
            return self._unlock(*frame.args)
        if not self.unlocked and frame.word not in OPEN_COMMANDS:
            raise Refused("NOT_ALLOWED", "session locked: UNLOCK first")
        return pump(frame)

    def _unlock(self, *args: str) -> tuple[str, ...]:
        if not args:
            self._challenges += 1
            digest = hashlib.sha256(f"{self.seed}:challenge:{self._challenges}".encode()).hexdigest()
            self._challenge = digest[:RESPONSE_DIGITS]
            return (f"challenge={self._challenge}",)
        challenge, self._challenge = self._challenge, None
        if len(args) != 1 or challenge is None or not hmac.compare_digest(args[0], response(self.key, challenge)):
            raise Refused("BAD_ARGUMENT", "wrong or unasked UNLOCK response")
        self.unlocked = True
        return ("unlocked=1",)
