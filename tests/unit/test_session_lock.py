"""The emulated pump's service-session lock (the vendor variant examples/vendor-pump-plugin drives): only ID, STOP
and UNLOCK until a challenge is answered with its HMAC; STOP is never locked out; a wrong or unasked response
voids the challenge; the challenges are the seed's."""

import pytest

from hil.emulator.pump import Refused
from hil.emulator.session_lock import SessionLock, response
from hil.transport.frames import decode, encode

KEY = "a-key"


def _frame(word: str, *args: str):
    return decode(encode("7", word, *args))


def _pump(frame):
    return (f"answered={frame.word}",)


def _unlocked() -> SessionLock:
    lock = SessionLock(KEY, seed=1)
    challenge = lock.handle(_frame("UNLOCK"), _pump)[0].split("=")[1]
    assert lock.handle(_frame("UNLOCK", response(KEY.encode(), challenge)), _pump) == ("unlocked=1",)
    return lock


@pytest.mark.parametrize("word", ["STATUS", "BOLUS", "RESUME", "HISTORY", "SET"])
def test_a_locked_link_refuses_everything_but_id_stop_and_unlock(word):
    lock = SessionLock(KEY, seed=1)
    with pytest.raises(Refused) as info:
        lock.handle(_frame(word), _pump)
    assert info.value.code == "NOT_ALLOWED"
    assert lock.handle(_frame("ID"), _pump) == ("answered=ID",)
    assert lock.handle(_frame("STOP"), _pump) == ("answered=STOP",)  # the fail-safe never waits for a handshake


def test_the_right_response_unlocks_the_link():
    assert _unlocked().handle(_frame("STATUS"), _pump) == ("answered=STATUS",)


@pytest.mark.parametrize("answer", [["0" * 16], ["a", "b"]])
def test_a_wrong_response_is_refused_and_voids_the_challenge(answer):
    lock = SessionLock(KEY, seed=1)
    challenge = lock.handle(_frame("UNLOCK"), _pump)[0].split("=")[1]
    with pytest.raises(Refused, match="wrong or unasked"):
        lock.handle(_frame("UNLOCK", *answer), _pump)
    with pytest.raises(Refused):  # the right response to the voided challenge no longer opens the link
        lock.handle(_frame("UNLOCK", response(KEY.encode(), challenge)), _pump)
    assert not lock.unlocked


def test_an_unasked_response_is_refused():
    with pytest.raises(Refused):
        SessionLock(KEY, seed=1).handle(_frame("UNLOCK", "0" * 16), _pump)


def test_challenges_are_new_each_time_and_the_seeds():
    first, second = SessionLock(KEY, seed=1), SessionLock(KEY, seed=1)
    a = [first.handle(_frame("UNLOCK"), _pump) for _ in range(3)]
    assert a == [second.handle(_frame("UNLOCK"), _pump) for _ in range(3)] and len(set(a)) == 3
    assert SessionLock(KEY, seed=2).handle(_frame("UNLOCK"), _pump) != a[0]
