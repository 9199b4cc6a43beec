"""The SBI output parser: the manuals' examples, what a balance shows instead of a weight, lines the protocol
does not allow, and fuzzing: every input gives a value or a typed error."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hil.drivers.contracts import Refusal
from hil.drivers.sartorius_sbi import identity_warnings, parse_identity, parse_output
from hil.errors import InstrumentRefused, ProtocolError


@pytest.mark.parametrize("line, mass_mg, stable", [
    (b"   111.255 g  \r\n", 111255.0, True),  # Quintix "Data Output Format": + 111.255 g, position 1 a space
    (b"+   1255.7 g  \r\n", 1255700.0, True),  # FB: + 1255.7 g
    (b"N     +   123.56 g  \r\n", 123560.0, True),  # Entris II, 22 characters with the ID code N
    (b"G#    -  0.00123 g  \r\n", -1.23, True),  # Combics: G# gross value
    (b"+  0.44970    \r\n", 449.7, False),  # no unit: not stable
    (b"-       .5    \r\n", -500.0, False),
    (b"+      12.    \r\n", 12000.0, False),
])
def test_weight_lines(line, mass_mg, stable):
    output = parse_output(line)
    assert (output.mass_mg, output.stable) == (pytest.approx(mass_mg), stable)


def test_the_last_digit_is_read_from_the_decimals_printed():
    assert parse_output(b"+  0.00001 g  \r\n").digit_mg == pytest.approx(0.01)
    assert parse_output(b"+   1255.7 g  \r\n").digit_mg == pytest.approx(100.0)
    assert parse_output(b"+       12    \r\n").digit_mg == pytest.approx(1000.0)


@pytest.mark.parametrize("line, code", [
    (b"      High    \r\n", Refusal.OVERLOAD), (b"      Low     \r\n", Refusal.UNDERLOAD),  # Quintix "Special Outputs"
    (b"      --      \r\n", Refusal.BUSY), (b"      Cal.Int.\r\n", Refusal.BUSY),
    (b"   Err 101    \r\n", Refusal.NOT_ALLOWED),
    (b"Stat        High    \r\n", Refusal.OVERLOAD), (b"Stat         L      \r\n", Refusal.UNDERLOAD),  # Entris II, FB
    (b"Stat     ERR 320    \r\n", Refusal.NOT_ALLOWED), (b"Stat     PRT.ERR    \r\n", Refusal.NOT_ALLOWED),
])
def test_what_a_balance_shows_instead_of_a_weight_is_a_typed_refusal(line, code):
    with pytest.raises(InstrumentRefused) as info:
        parse_output(line)
    assert info.value.code is code and info.value.instrument == "balance"


@pytest.mark.parametrize("line, reason", [
    # ME215S's example, in mg: its unstable values, printed without unit, would be read 1000x off
    (b"+111.25507 mg \r\n", "in 'mg': set the balance to g"),
    (b"+   12.345 ct \r\n", "in 'ct'"),
    (b"Qnt   +      253 pcs\r\n", "ID code 'Qnt'"),  # a piece count
    (b"?     +  0.12345    \r\n", "ID code '?'"), (b"?  0.12345    \r\n", "malformed"),
    (b"N           High    \r\n", "malformed"),  # a status after a weight's ID code
    (b"Stat  +  0.00100 g  \r\n", "ID code 'Stat'"),
    (b"+  0.001 0 g  \r\n", "malformed"), (b"*  0.00100 g  \r\n", "malformed"), (b"+  0.00100g   \r\n", "malformed"),
    (b"+  1.2e-03 g  \r\n", "malformed"), (b"+          g  \r\n", "malformed"), (b"      Hi      \r\n", "malformed"),
    (b"+  0.00100 g\r\n", "not 16 or 22"), (b"+  0.00100 g  \n", "ending in CR LF"),
    (b"+  0.00100 g \x07\r\n", "printable"), (b"+  0.00100 \xb5g \r\n", "non-ASCII"),
])
def test_lines_the_protocol_does_not_allow_are_protocol_errors(line, reason):
    with pytest.raises(ProtocolError, match=reason):
        parse_output(line)


@given(st.binary(max_size=40))
def test_any_bytes_give_a_weight_or_a_typed_error(raw):
    try:
        output = parse_output(raw)
    except (InstrumentRefused, ProtocolError):
        return
    assert isinstance(output.mass_mg, float) and isinstance(output.stable, bool) and output.digit_mg > 0


@given(ident=st.sampled_from(["", "N     ", "G#    ", "Stat  ", "Qnt   "]), sign=st.sampled_from("+- *"),
       field=st.text(alphabet=" 0123456789.-+eEHighLow", min_size=9, max_size=9), gap=st.sampled_from(" g"),
       unit=st.sampled_from(["g  ", "   ", "mg ", " g ", "Low", "\x1b  "]))
def test_lines_shaped_like_outputs_give_a_weight_or_a_typed_error(ident, sign, field, gap, unit):
    try:
        output = parse_output(f"{ident}{sign}{field}{gap}{unit}\r\n".encode())
    except (InstrumentRefused, ProtocolError):
        return
    assert math.isfinite(output.mass_mg) and output.digit_mg > 0


@given(grams=st.decimals(min_value=-999, max_value=999, places=3, allow_nan=False, allow_infinity=False),
       stable=st.booleans(), ident=st.sampled_from(["", "N     ", "G#    "]))
def test_a_weight_written_as_the_manual_says_reads_back(grams, stable, ident):
    line = f"{ident}{'-' if grams < 0 else '+'}{abs(grams):9.3f} {'g' if stable else ' '}  \r\n".encode()
    output = parse_output(line)
    assert (output.mass_mg, output.stable, output.digit_mg) == (pytest.approx(float(grams) * 1000), stable,
                                                                pytest.approx(1.0))


def test_identity_replies_are_kept_as_given_without_their_padding():
    assert parse_identity(b"SerNo.    0031801165  \r\n", "serial") == "SerNo.    0031801165"
    with pytest.raises(ProtocolError, match="serial reply"):
        parse_identity(b"B0001\x00\r\n", "serial")
    with pytest.raises(ProtocolError, match="non-ASCII"):
        parse_identity(b"\xff\r\n", "model")


@pytest.mark.parametrize("model, serial, warned", [
    (b"MSE225S-100-DU\r\n", b"0031801165\r\n", None),
    (b"0031801165\r\n", b"0031801165\r\n", "is the serial number"),
    (b"\r\n", b"0031801165\r\n", "model is empty"),
    (b"+ 35.00002 g  \r\n", b"0031801165\r\n", "a weight output"),
])
def test_identity_warnings(model, serial, warned):
    warnings = identity_warnings({"model": model, "serial": serial, "software": b"00-39-21\r\n"})
    assert (warnings == []) if warned is None else any(warned in w for w in warnings)
