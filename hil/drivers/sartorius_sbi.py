"""Sartorius SBI balance driver (ESC P, ESC U, ESC V, ESC x1_, ESC x2_, ESC x3_) for the laboratory balances
(Secura, Quintix, Cubis, Entris) set to the SBI protocol.

Every line gives a value or a typed error: InstrumentRefused for what the balance shows instead of a weight
(``High``, ``Low``, an error code), ProtocolError for a line the protocol does not allow; lines that arrived
unasked before a command are a LineFault, as for MT-SICS (hil/drivers/mtsics.py): SBI has no sequence number.

Where each detail comes from:

- Commands: ``Esc ! CR LF`` and ``Esc ! # _ CR LF``, CR and LF optional (Cubis MSE operating instructions,
  "SBI Commands (Data Input Format)"; the driver always sends CR LF). ``ESC P`` prints the display value
  ("corresponds to menu, with/without stability", ibid.). ``ESC U`` is the TARE key and ``ESC V`` the ZERO key
  (Entris II interface description, "Commands"; Cubis MSE, ibid.; sartoriuslib protocol/sbi/tables.py), not
  ``ESC T``, the combined zero/tare key, which zeroes instead when the load is in the zero range. ``ESC x1_``
  model, ``ESC x2_`` serial number, ``ESC x3_`` software version (Entris II, ibid.; Sartorius FB operating
  instructions, "Data Input Format"; sartoriuslib tables.py).
- Output: 16 characters: position 1 the sign (``+``, ``-`` or a space), 2-10 the weight with its decimal point,
  leading zeros as spaces, 11 a space, 12-14 the unit or spaces, 15-16 CR LF (Quintix operating instructions,
  "Data Output Format"; Cubis MSE; FB). With an ID code: 22 characters, the 16 preceded by a 6-character code,
  ``N`` (net) in the example (Entris II interface description, "Data Output Format with 22 Characters"),
  ``G#`` gross and ``N`` net (Combics operating instructions, "ID Code Characters"), ``Stat`` for a status.
- Stability: a value without unit is not stable: the unit-symbol table has a blank entry, "no stability"
  (Sartorius FB operating instructions); sartoriuslib protocol/sbi/parser.py reads it so too.
- Instead of a weight: ``High`` overload, ``Low`` underload, ``--`` final readout, ``Cal.Ext.``/``Cal.Int.``
  adjustment, ``Err ###`` an error (Quintix, "Special Outputs"); ``H``/``L`` (FB, "Special Codes"); ``ERR ###``,
  ``APP.ERR``, ``DIS.ERR``, ``PRT.ERR`` after ``Stat`` (Entris II, "Special Codes", "Error Codes").
- ``ESC U`` and ``ESC V`` answer nothing (sartoriuslib commands/tare.py: key commands without a reply line).
- The balance must print on request only and without waiting for stability ("manual without stability",
  sartoriuslib registry/modes.py, SBI output mode p36 ``ind_no``): printing after stability would hold a read
  beyond the link's timeout, and with auto print on, ESC P starts and stops the stream (labmcp-sartorius README).

Not found in the manuals, and the conservative reading taken:

- The unit of a value printed without unit: every value is read as grams, and a stable value in any other
  unit is a ProtocolError, so a balance set to mg is caught at its first stable reading, never read 1000× off.
- An ID code other than ``N``/``G#`` (a weight) or ``Stat`` (a status) may be a piece count or a percentage:
  a ProtocolError. So is the ``?`` prefix sartoriuslib's parser accepts for unstable values.
- No reply is documented to a command the balance does not know: the link stays silent, a TransportError at
  its timeout. Whether a tare or zero was done, the balance does not say: the driver asks a stable reading
  before (BUSY otherwise, as MT-SICS answers ``T I``) and one after, which must show zero within 10 digits
  of its last decimal (NOT_ALLOWED otherwise: the key press was ignored).
- The tare memory cannot be read: tare() returns the stable net weight shown before the tare, the weight it
  took off: the tare weight on a balance zeroed or not tared before (after reset() or zero()), its increase
  otherwise.
- The identity lines' format: one line of printable ASCII, kept as given without its surrounding spaces (an
  MSE1203S answers ESC x2_ with ``SerNo.    0031801165``, sartoriuslib parser.py).
- An auto print stream's rate: reset() reads at most as many lines as the link can carry in one timeout.

sartoriuslib (0.4.3) is not used: it needs Python 3.13 (the suite runs on 3.11); its I/O is asynchronous
(anyio) over a transport that opens and owns the port (anyserial), not the rig's SerialLine with its deadlines,
pyserial URLs and wire log; its readings carry datetime.now() and time.monotonic_ns(), not the rig clock; and
its parser is lenient where a rig must be strict (any unit, the ``?`` prefix, an unknown line taken as text).
"""

import logging
import re
from collections.abc import Callable
from typing import NamedTuple

from hil.drivers.contracts import Reading, Refusal
from hil.drivers.registry import DeviceKind, RigContext, SerialOptions
from hil.errors import InstrumentRefused, LineFault, ProtocolError
from hil.transport.serial_line import SerialLine

log = logging.getLogger(__name__)

ESC = b"\x1b"
PRINT, TARE, ZERO = ESC + b"P", ESC + b"U", ESC + b"V"
MODEL, SERIAL, SOFTWARE = ESC + b"x1_", ESC + b"x2_", ESC + b"x3_"
LINE_CHARACTERS = 14  # without CR LF; 20 with an ID code
WEIGHT_IDS = ("N", "G#")
CONFIRM_DIGITS = 10  # after a tare or zero the display must show zero within this many of its last digit
_NUMBER = re.compile(r"[0-9]+\.?[0-9]*|\.[0-9]+")
_SHOWN_INSTEAD = {
    "High": (Refusal.OVERLOAD, "overload"),
    "H": (Refusal.OVERLOAD, "overload"),
    "Low": (Refusal.UNDERLOAD, "underload"),
    "L": (Refusal.UNDERLOAD, "underload"),
    "--": (Refusal.BUSY, "final readout: no value now"),
    "Cal.Ext.": (Refusal.BUSY, "external adjustment under way"),
    "Cal.Int.": (Refusal.BUSY, "internal adjustment under way"),
    "APP.ERR": (Refusal.NOT_ALLOWED, "application error"),
    "DIS.ERR": (Refusal.NOT_ALLOWED, "display error"),
    "PRT.ERR": (Refusal.NOT_ALLOWED, "print error"),
}


class SbiOutput(NamedTuple):
    mass_mg: float
    stable: bool
    digit_mg: float  # the value of the last decimal printed


def parse_output(line: bytes) -> SbiOutput:
    """The weight in an SBI output line (16 characters, or 22 with an ID code), or a typed error."""
    text = _text(line)
    if not text.endswith("\r\n") or not text[:-2].isprintable():
        raise ProtocolError(f"balance: output {text!r} is not printable characters ending in CR LF")
    body, ident = text[:-2], None
    if len(body) == LINE_CHARACTERS + 6:
        ident, body = body[:6].strip(), body[6:]
    elif len(body) != LINE_CHARACTERS:
        raise ProtocolError(f"balance: output {text!r} has {len(text)} characters, not 16 or 22")
    shown = " ".join(body.split())
    if ident in (None, "Stat"):
        _raise_shown_instead(shown, text)
    if ident not in (None, *WEIGHT_IDS):
        raise ProtocolError(
            f"balance: output {text!r} has the ID code {ident!r}, not a weight's ({', '.join(WEIGHT_IDS)})"
        )
    sign, number, gap, unit = body[0], body[1:10].lstrip(" "), body[10], body[11:].strip()
    if sign not in "+- " or gap != " " or not _NUMBER.fullmatch(number):
        raise ProtocolError(f"balance: malformed output {text!r}")
    if unit not in ("", "g"):
        raise ProtocolError(
            f"balance: output {text!r} is in {unit!r}: set the balance to g (a value printed "
            f"while unstable has no unit, and is read as grams)"
        )
    decimals = len(number.partition(".")[2])
    grams = float(number) * (-1.0 if sign == "-" else 1.0)
    return SbiOutput(grams * 1000.0, unit == "g", 1000.0 * 10.0**-decimals)


def _raise_shown_instead(shown: str, text: str) -> None:
    """InstrumentRefused when the line shows a status instead of a weight."""
    words = shown.split()
    if shown in _SHOWN_INSTEAD:
        code, meaning = _SHOWN_INSTEAD[shown]
        raise InstrumentRefused("balance", code, f"{meaning} (output {text!r})")
    if len(words) == 2 and words[0].upper() == "ERR" and words[1].isdigit():
        raise InstrumentRefused("balance", Refusal.NOT_ALLOWED, f"error {words[1]} (output {text!r})")


def parse_identity(reply: bytes, what: str) -> str:
    """The text of a reply to ESC x1_/x2_/x3_, without its surrounding spaces, or a ProtocolError."""
    text = _text(reply)
    if not text.endswith("\n") or not text.rstrip("\r\n").isprintable():
        raise ProtocolError(f"balance: {what} reply {text!r} is not one line of printable characters")
    return text.strip()


def identity_warnings(replies: dict[str, bytes]) -> list[str]:
    """What looks wrong in the identity replies (kept as given; these go with them to the record)."""
    identity = {name: parse_identity(reply, name) for name, reply in replies.items()}
    warnings = [f"{name} is empty" for name, text in identity.items() if not text]
    warnings += [
        f"{name} {text!r} is a weight output: a line of an auto print stream?"
        for name, text in identity.items()
        if text and _is_output(replies[name])
    ]
    if identity["model"] and identity["model"] == identity["serial"]:
        warnings.append(f"the model (ESC x1_) is the serial number {identity['serial']!r}")
    return warnings


def _is_output(line: bytes) -> bool:
    """A weight line, or one that shows a status instead (what an auto print stream sends)."""
    try:
        parse_output(line)
    except InstrumentRefused:
        return True
    except ProtocolError:
        return False
    return True


def _text(line: bytes) -> str:
    try:
        return line.decode("ascii")
    except UnicodeDecodeError:
        raise ProtocolError(f"balance: non-ASCII line {line[:40]!r}") from None


def _name(command: bytes) -> str:
    return command.replace(ESC, b"ESC ").decode("ascii")


class SartoriusSbiBalance:
    """A Sartorius laboratory balance speaking SBI over a serial line (registered as `sartorius-sbi`)."""

    device = DeviceKind.SCALE

    Options = SerialOptions  # 9600 baud: the Sartorius factory setting

    @classmethod
    def connect(cls, options: SerialOptions, rig: RigContext) -> "SartoriusSbiBalance":
        return cls(rig.port(options.port), rig.now, baudrate=options.baudrate, timeout_s=options.timeout_s)

    def __init__(self, port: str, now: Callable[[], float], *, baudrate: int = 9600, timeout_s: float = 2.0):
        self.line = SerialLine(port, baudrate=baudrate, timeout_s=timeout_s, name="balance")
        self.now = now
        # 10 bits a character (8N1), 16 characters a line: the most lines the link carries in one timeout.
        self._most_lines = int(baudrate / 10 / 16 * timeout_s) + 2

    def _send(self, command: bytes) -> None:
        """Send a command. Lines that arrived unasked before it are discarded and a rig fault (LineFault): a
        balance printing on request sends nothing unasked, so they are a duplicated or late line."""
        stale = self.line.pending_lines()
        if stale:
            raise LineFault(
                f"balance ({self.line.port}): {len(stale)} unasked-for line(s) before {_name(command)}, "
                f"discarded: {stale[:4]!r}: a duplicated or late reply"
            )
        self.line.write_line(command + b"\r\n")

    def _ask(self, command: bytes) -> bytes:
        self._send(command)
        return self.line.read_line()

    def read(self) -> Reading:
        """The display now (ESC P): stable or not."""
        output = parse_output(self._ask(PRINT))
        return Reading(self.now(), output.mass_mg, output.stable)

    def read_stable(self) -> Reading:
        """A stable reading (ESC P with a unit). InstrumentRefused BUSY for a value without unit: not stable,
        never returned."""
        reply = self._ask(PRINT)
        output = parse_output(reply)
        if not output.stable:
            raise InstrumentRefused(
                "balance", Refusal.BUSY, f"value without unit {reply!r} in reply to ESC P: not stable"
            )
        return Reading(self.now(), output.mass_mg, True)

    def _press(self, key: bytes, what: str) -> float:
        """Press a key that answers nothing (tare, zero) on a stable display, and see the display at zero
        after it; the net weight shown before it, mg."""
        before = self.read_stable()
        self._send(key)
        after = parse_output(self._ask(PRINT))
        if not after.stable:
            raise InstrumentRefused(
                "balance",
                Refusal.BUSY,
                f"{what} ({_name(key)}) not confirmed: not stable after it ({after.mass_mg:g} mg)",
            )
        if abs(after.mass_mg) > CONFIRM_DIGITS * after.digit_mg:
            raise InstrumentRefused(
                "balance",
                Refusal.NOT_ALLOWED,
                f"{what} ({_name(key)}) ignored: {after.mass_mg:g} mg after it, {before.mass_mg:g} mg before",
            )
        return before.mass_mg

    def tare(self) -> float:
        """Tare (ESC U); the stable net weight it took off the display, mg (the tare weight on a balance not
        tared before: SBI cannot read the tare memory)."""
        return self._press(TARE, "tare")

    def zero(self) -> None:
        """Zero (ESC V)."""
        self._press(ZERO, "zero")

    def reset(self) -> str:
        """Back to printing on request: discards the lines pending (an auto print stream's), asks the serial
        number (ESC x2_), passing over the weight lines a stream keeps sending; returns it. SBI has no command
        that stops a stream: auto print is a menu setting."""
        stale = self.line.pending_lines()
        if stale:
            log.info("balance at %s: %d line(s) discarded by reset: %r", self.line.port, len(stale), stale[:4])
        self.line.write_line(SERIAL + b"\r\n")
        for _ in range(self._most_lines):
            reply = self.line.read_line()
            if not _is_output(reply):
                return parse_identity(reply, "serial")
        raise ProtocolError(f"balance ({self.line.port}): no reply to ESC x2_ among the weight lines it kept sending")

    def identify(self) -> dict:
        """Model (ESC x1_), serial (ESC x2_) and software (ESC x3_) as the balance gave them, and "warnings"
        when they look wrong."""
        replies = {
            name: self._ask(command) for name, command in (("model", MODEL), ("serial", SERIAL), ("software", SOFTWARE))
        }
        identity: dict = {name: parse_identity(reply, name) for name, reply in replies.items()}
        warnings = identity_warnings(replies)
        for warning in warnings:
            log.warning("balance at %s: %s", self.line.port, warning)
        if warnings:
            identity["warnings"] = warnings
        return identity

    def close(self) -> None:
        self.line.close()
