"""Wire parsers: known frames and replies, and fuzzing — every input gives a value or a typed error."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hil.drivers.contracts import Refusal
from hil.drivers.mtsics import parse_identity, parse_weight
from hil.errors import InstrumentRefused, ProtocolError
from hil.transport.frames import FrameError, crc16, decode, encode


def test_frame_round_trip():
    raw = encode(17, "BOLUS", "1.000")
    assert raw.endswith(b"\r\n") and b"*" in raw
    frame = decode(raw)
    assert (frame.tag, frame.word, frame.args) == ("17", "BOLUS", ("1.000",))


def test_frame_fields_and_known_crc():
    assert crc16(b"123456789") == 0x29B1  # the CRC-16/CCITT-FALSE check value
    assert decode(encode("3", "OK", "state=RUNNING", "basal=1.000")).fields == {"state": "RUNNING", "basal": "1.000"}


@pytest.mark.parametrize("raw, reason", [
    (b"1 ID*0000\r\n", "CRC mismatch"), (b"1 ID\r\n", "CRC"), (b"1 ID*ZZZZ\r\n", "non-ASCII or non-hex"),
    (b"\xff\xfe*1234\n", "non-ASCII"), (b"x" * 600 + b"*0000\n", "too long"),
])
def test_corrupt_frames_are_typed_errors(raw, reason):
    with pytest.raises(FrameError, match=reason):
        decode(raw)


def test_a_flipped_bit_is_caught():
    raw = bytearray(encode(5, "BASAL", "1.000"))
    raw[8] ^= 0x01
    with pytest.raises(FrameError):
        decode(bytes(raw))


@given(st.binary(max_size=600))
def test_any_bytes_decode_to_a_frame_or_a_frame_error(raw):
    try:
        frame = decode(raw)
    except FrameError:
        return
    assert frame.tag and frame.word


@given(tag=st.integers(1, 9999), word=st.from_regex(r"[A-Z]{1,8}", fullmatch=True),
       args=st.lists(st.from_regex(r"[a-z0-9=.]{1,10}", fullmatch=True), max_size=5))
def test_encoded_frames_always_decode(tag, word, args):
    frame = decode(encode(tag, word, *args))
    assert (frame.tag, frame.word, frame.args) == (str(tag), word, tuple(args))


@pytest.mark.parametrize("reply, mass_mg, stable", [
    (b"S S     100.00000 g\r\n", 100000.0, True), (b"S D      -0.00123 g\r\n", -1.23, False),
    (b"S S 12.5 mg\r\n", 12.5, True),
])
def test_weight_replies(reply, mass_mg, stable):
    assert parse_weight(reply) == (pytest.approx(mass_mg), stable)


@pytest.mark.parametrize("reply, code", [
    (b"S I\r\n", Refusal.BUSY), (b"S +\r\n", Refusal.OVERLOAD), (b"S -\r\n", Refusal.UNDERLOAD),
    (b"S L\r\n", Refusal.NOT_ALLOWED), (b"ES\r\n", Refusal.NOT_UNDERSTOOD), (b"ET\r\n", Refusal.TRANSMISSION),
    (b"EL\r\n", Refusal.NOT_ALLOWED),
])
def test_balance_error_replies_are_typed(reply, code):
    with pytest.raises(InstrumentRefused) as info:
        parse_weight(reply)
    assert info.value.code is code


@pytest.mark.parametrize("reply, sent, says", [
    (b"Z +\r\n", "Z", "upper limit of the zero setting range exceeded"),
    (b"Z -\r\n", "Z", "lower limit of the zero setting range exceeded"),
    (b"T +\r\n", "T", "upper limit of the taring range exceeded"),
    (b"T -\r\n", "T", "lower limit of the taring range exceeded"),
])
def test_zero_and_tare_beyond_their_range_are_not_an_overload(reply, sent, says):
    """MT-SICS: + and - after Z or T are the zero-setting or taring range, not the weighing range (a vessel on the
    pan is too heavy to zero, not too heavy to weigh)."""
    with pytest.raises(InstrumentRefused) as info:
        parse_weight(reply, sent)
    assert info.value.code is Refusal.OUT_OF_RANGE and says in str(info.value) and "overload" not in str(info.value)


def test_identity_reply():
    assert parse_identity(b'I4 A "B000000001"\r\n', "I4") == "B000000001"
    with pytest.raises(ProtocolError):
        parse_identity(b"I4 A B0001\r\n", "I4")


@given(st.binary(max_size=80))
def test_any_balance_reply_gives_a_weight_or_a_typed_error(raw):
    try:
        mass, stable = parse_weight(raw)
    except (InstrumentRefused, ProtocolError):
        return
    assert isinstance(mass, float) and isinstance(stable, bool)
