"""The protocol document (docs/protocol.md) and the implementation in step, wherever a table can be compared:
the pump's commands and their reply fields, STATUS fields, error codes, alarm kinds and priorities, events and
their reasons, settings defaults, ranges and parameters, the low-glucose constants, the control channel's commands
and replies, the MT-SICS commands, and the CAN messages, ids, signals and enumerations of fixtures/can/pump.dbc.

A command, field, code, kind or message added on one side only fails here. The emulator is driven in-process
(unit tests of the emulator may import its internals); its source is read where a value only shows in the code.
"""

import os
import re
from pathlib import Path

import cantools
import pytest

import hil.emulator.glucose_suspend as glucose_suspend
from hil.emulation.options import EmulatorConfig, PumpParams
from hil.emulator.auto_mode import Zone
from hil.emulator.glucose_suspend import SuspendSettings
from hil.emulator.pump import EmulatedPump, Refused
from hil.emulator.world import World
from hil.transport import can_protocol
from hil.transport.frames import Frame

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "protocol.md"
EMULATOR = ROOT / "hil" / "emulator"
DBC = ROOT / "fixtures" / "can" / "pump.dbc"
PRIORITIES = {"HIGH", "MEDIUM", "LOW"}


# -- reading the document ------------------------------------------------------------------------------------
def section(heading: str) -> str:
    """The text under the first heading that starts with `heading` (e.g. "## 3." or "### Commands"), up to the
    next heading of the same or a higher level."""
    lines = DOC.read_text(encoding="utf-8").splitlines()
    level = len(heading) - len(heading.lstrip("#"))
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    out = []
    for line in lines[start + 1 :]:
        hashes = len(line) - len(line.lstrip("#"))
        if line.startswith("#") and hashes <= level and line[hashes:hashes + 1] == " ":
            break
        out.append(line)
    return "\n".join(out)


def tables(text: str) -> list[list[list[str]]]:
    """Every markdown table in `text`: rows of cells (header row first, the --- row dropped); `\\|` stays in a cell."""
    found, current = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            cells = [c.strip().replace("\0", "|") for c in line.replace("\\|", "\0").strip().strip("|").split("|")]
            if not all(set(c) <= set("-: ") for c in cells):
                current.append(cells)
        elif current:
            found.append(current)
            current = []
    return found


def table(text: str, *header: str) -> list[list[str]]:
    """The rows (without the header) of the one table in `text` whose header starts with these column names."""
    matches = [t[1:] for t in tables(text) if tuple(t[0][: len(header)]) == header]
    assert len(matches) == 1, f"expected one table with header {header} in the document, found {len(matches)}"
    return matches[0]


def ticks(cell: str) -> list[str]:
    return re.findall(r"`([^`]*)`", cell)


def word(cell: str) -> str:
    return ticks(cell)[0].split()[0]


def fields(cell: str) -> list[str]:
    """The field names a reply or event cell lists (its first code span), optional ones `[x]` included."""
    return [f.strip("[]") for f in ticks(cell)[0].split()]


def source(*names: str) -> str:
    return "\n".join((EMULATOR / name).read_text(encoding="utf-8") for name in names)


# -- driving the emulated pump in-process ----------------------------------------------------------------------
class Pump:
    def __init__(self):
        self.events: list[tuple[str, dict]] = []
        self.world = World(EmulatorConfig(), lambda kind, f: self.events.append((kind, dict(f))), lambda line: None)

    def __call__(self, command: str, *args: str) -> list[str]:
        return list(self.world.pump.handle(Frame("1", command, tuple(args))))

    def keys(self, command: str, *args: str) -> list[str]:
        return [a.split("=", 1)[0] for a in self(command, *args)]

    def advance(self, seconds: float) -> None:
        self.world.advance(seconds)


def command_rows() -> dict[str, list[str]]:
    return {word(row[0]): row for row in table(section("### Commands"), "request", "reply fields")}


# -- the pump protocol ------------------------------------------------------------------------------------------
def test_the_command_table_lists_exactly_the_commands_the_emulated_pump_accepts():
    implemented = {name[len("_cmd_"):].upper() for name in dir(EmulatedPump) if name.startswith("_cmd_")}
    assert set(command_rows()) == implemented


def test_every_command_replies_with_the_fields_the_document_lists():
    pump, rows, seen = Pump(), command_rows(), {}
    script = [("ID",), ("STATUS",), ("SET",), ("BASAL", "1.000"), ("TEMPBASAL", "0.500", "30"), ("RESUME",),
              ("BOLUS", "0.100"), ("CANCEL",), ("PRIME", "0.100"), ("CANCEL",), ("HISTORY", "0.000"),
              ("SET", "on_low=1"), ("CGM", "50", "0.0"), ("ACK", "1"), ("SUSPEND",), ("STOP",), ("AUTO",),
              ("LIMITS", "10.000", "2.000"), ("RESALERT", "15"), ("INJECT", "NONE"),
              ("SEGMENT", "0", "1", "00:00", "1.000"), ("TIME", "3600"), ("CALCSET", "12", "40", "110"),
              ("CALC", "55", "200")]
    for command, *args in script:
        seen[command] = pump.keys(command, *args)
    for command, keys in seen.items():
        assert keys == fields(rows[command][1]), command
    # ALARMS: one <id>=<kind>:<priority>:<t>:<acknowledged> field per alarm
    assert ticks(rows["ALARMS"][1])[0].split(":") == ["<id>=<kind>", "<priority>", "<t>", "<acknowledged>"]
    alarms = pump("ALARMS")
    assert alarms and all(re.fullmatch(r"\d+=[A-Z_]+:(HIGH|MEDIUM|LOW):\d+\.\d{3}:[01]", a) for a in alarms), alarms
    assert alarms[0].endswith(":1")  # acknowledged above
    seen["ALARMS"] = alarms
    assert set(seen) == set(rows), "a documented command the script above does not exercise (add it)"


def test_the_status_fields_table_matches_what_status_sends_with_its_decimals():
    rows = table(section("### Commands"), "field", "format", "meaning")
    pump = Pump()
    pump("CGM", "123")
    reply = dict(a.split("=", 1) for a in pump("STATUS"))
    assert [word(r[0]) for r in rows] == list(reply) == fields(command_rows()["STATUS"][1])
    for row in rows:
        decimals = re.search(r"(\d) decimal", row[1])
        if decimals:
            value = reply[word(row[0])]
            assert re.fullmatch(rf"-?\d+(\.\d{{{decimals[1]}}})?" if decimals[1] != "0" else r"-?\d+", value), (row, value)


def test_the_error_table_lists_exactly_the_codes_the_emulator_can_send():
    documented = {word(row[0]) for row in table(section("### Replies"), "code", "meaning")}
    code = source("pump.py", "server.py", "reference_serial.py", "can_endpoint.py", "glucose_suspend.py", "site_check.py")
    sent = set(re.findall(r'Refused\(\s*"([A-Z_]+)"', code)) | set(re.findall(r'"ERR",\s*"([A-Z_]+)"', code))
    assert documented == sent
    assert documented == set(can_protocol.RESULTS) - {"OK"}
    result = cantools.database.load_file(str(DBC)).get_message_by_name("PumpResponse").get_signal_by_name("result")
    assert documented == {str(name) for name in result.choices.values()} - {"OK"}


def implemented_alarms() -> dict[str, str]:
    """Alarm kind → priority, from the calls that raise alarms in the emulated firmware."""
    calls = re.findall(r'(?:_raise_alarm|_alarm|raise_alarm)\(\s*"([A-Z_]+)",\s*([^,)]+)', source("pump.py", "glucose_suspend.py", "site_check.py"))
    out = {}
    for kind, expression in calls:
        last = expression.split(" or ")[-1].strip()
        if last.strip('"') in PRIORITIES:
            out[kind] = last.strip('"')
        else:
            out[kind] = getattr(PumpParams(), re.fullmatch(r"self\.p\.(\w+)", last)[1])
    return out


def test_the_alarm_table_lists_every_kind_with_its_priority():
    rows = table(section("### Alarms"), "kind", "priority")
    documented = {word(row[0]): row[1] for row in rows}
    assert documented == implemented_alarms()
    alarm = cantools.database.load_file(str(DBC)).get_message_by_name("PumpAlarm")
    assert set(documented) == {str(v) for v in alarm.get_signal_by_name("kind").choices.values()}
    assert {str(v) for v in alarm.get_signal_by_name("priority").choices.values()} == PRIORITIES


def test_every_event_and_its_fields_and_reasons_are_documented():
    rows = {word(row[0]): row for row in table(section("### Events"), "event", "fields")}
    code = source("pump.py", "glucose_suspend.py")
    emitted = set(re.findall(r'emit\(\s*"([A-Z_]+)"', code))
    emitted |= {f"{kind}_DONE" for kind in re.findall(r'_start_train\(\s*"([A-Z]+)"', code)} if 'f"{kind}_DONE"' in code else set()
    assert set(rows) == emitted

    pump = Pump()  # every event once, on the wire's field names
    for command in (("BASAL", "1.000"), ("RESUME",), ("BOLUS", "0.100")):
        pump(*command)
    pump.advance(60)
    pump("PRIME", "0.100")
    pump.advance(60)
    pump("SET", "on_low=1")
    pump("CGM", "50")
    pump.advance(25 * 60)  # no CGM value for 20 min: the suspension ends with CGM_LOST
    pump("ACK", "1"), pump("ACK", "2")
    pump("RESUME")
    pump.world.bench.valve_open = False  # an occlusion: ALARM with its pressure
    pump("BOLUS", "5.000")
    pump.advance(400)
    pump.world.bench.valve_open = True  # auto mode: its basal, a correction, and its exit when CGM is lost
    for alarm in pump("ALARMS"):
        pump("ACK", alarm.split("=")[0])
    pump("RESUME")
    pump.advance(3600)  # no automatic correction within 60 min of a user's bolus (here, its cancellation)
    pump("AUTO", "ON")
    pump("CGM", "400", "0", "0")  # high enough for a correction on top of what the occluded bolus left on board
    pump.advance(3 * 3600)
    for kind, f in pump.events:
        documented = fields(rows[kind][1])
        optional = {name.strip("[]") for name in ticks(rows[kind][1])[0].split() if name.startswith("[")}
        assert set(documented) - optional <= set(f) <= set(documented), (kind, f)
    assert {kind for kind, _ in pump.events} == set(rows)
    assert any("pressure" in f for kind, f in pump.events if kind == "ALARM")

    reasons = {e: {r for r in ticks(rows[e][1])[1:] if re.fullmatch(r"[A-Z_]+", r) and r != e}
               for e in ("SUSPEND", "RESUME", "AUTO_BASAL", "AUTO_EXIT")}
    begun = set(re.findall(r'kind = "([A-Z_]+)"', source("glucose_suspend.py")))
    ended = set(re.findall(r'_end\(\s*"([A-Z_]+)"', source("glucose_suspend.py"))) | set(re.findall(r'"reason": "([A-Z_]+)"', code))
    exits = set(re.findall(r'_exit_auto\(\s*"([A-Z_]+)"', code))
    zones = {str(z) for z in Zone}
    assert reasons == {"SUSPEND": begun, "RESUME": ended, "AUTO_BASAL": zones, "AUTO_EXIT": exits}
    reason = cantools.database.load_file(str(DBC)).get_message_by_name("PumpEvent").get_signal_by_name("reason")
    assert {str(v) for v in reason.choices.values()} - {"NONE"} == begun | ended | zones | exits


def test_the_settings_defaults_are_the_pumps():
    rows = {word(row[0]): row[1] for row in table(section("### Low-glucose suspend"), "setting", "default", "range")}
    reply = dict(a.split("=", 1) for a in Pump()("SET"))
    assert rows == reply
    settings = SuspendSettings()
    assert (int(rows["low_limit"]), rows["before_low"], rows["on_low"]) == (
        settings.low_limit, str(int(settings.before_low)), str(int(settings.on_low)))
    assert list(rows) == fields(command_rows()["SET"][1])


def test_the_parameter_table_gives_the_emulators_defaults():
    rows = table(section("### Ranges, increments and speeds"), "quantity", "value", "emulator parameter")
    params = PumpParams()
    for quantity, value, parameter in rows:
        name = re.fullmatch(r"`pump\.(\w+)`", parameter)[1]
        assert float(re.match(r"[\d.]+", value)[0]) == pytest.approx(getattr(params, name)), quantity
    documented = {re.fullmatch(r"`pump\.(\w+)`", row[2])[1] for row in rows}
    ranges = {"stroke_U", "increment_U", "basal_min_U_per_h", "basal_max_U_per_h", "bolus_min_U", "bolus_max_U",
              "bolus_speed_U_per_min", "quick_bolus_speed_U_per_min", "prime_speed_U_per_min"}
    assert ranges <= documented


def test_the_low_glucose_constants_are_the_firmwares():
    rows = table(section("### Low-glucose suspend"), "constant", "value")
    unit_s = {"min": 60.0, "h": 3600.0}
    for _, value, constant in rows:
        name = ticks(constant)[0]
        number, unit = re.search(r"(\d+(?:\.\d+)?)\s*(min|h)\b", value).groups()
        expected = float(number) * (unit_s[unit] if name.endswith("_S") else unit_s[unit] / 60.0)
        assert getattr(glucose_suspend, name) == pytest.approx(expected), name
    constants = {n for n in dir(glucose_suspend) if n.isupper() and isinstance(getattr(glucose_suspend, n), float)}
    assert constants == {ticks(row[2])[0] for row in rows}


# -- the emulator control channel -----------------------------------------------------------------------------------
@pytest.fixture
def server():
    from hil.emulator.server import EmulatorServer

    s = EmulatorServer(EmulatorConfig())
    yield s
    for channel in (s.pump_ch, s.balance_ch, s.lost_balance_ch, s.control_ch, s.can_ch):
        os.close(channel.master)
        os.close(channel.slave_fd)


def test_the_control_table_lists_exactly_the_control_commands_and_their_replies(server):
    rows = {}
    for row in table(section("## 3."), "request", "reply", "effect"):
        request = ticks(row[0])[0].split()
        rows[" ".join(request[:2]) if request[1:2] == ["CLEAR"] else request[0]] = row
    implemented = set(re.findall(r'frame\.word\s*[!=]=\s*"([A-Z]+)"', source("server.py")))
    assert {name.split()[0] for name in rows} == implemented

    def keys(*request):
        return [a.split("=", 1)[0] for a in server._control(Frame("1", request[0], request[1:]))]

    def reply(*request):
        return dict(a.split("=", 1) for a in server._control(Frame("1", request[0], request[1:])))

    for request in (("ADV", "1"), ("NOW",), ("RESET", "7"), ("VALVE", "CLOSE"), ("SITE", "NORMAL"), ("INSPECT",),
                    ("FAULT", "pump", "drop")):
        assert keys(*request) == fields(rows[request[0]][1]), request
    assert keys("FAULT", "CLEAR") == fields(rows["FAULT CLEAR"][1])
    # the reply values the document states
    assert reply("VALVE", "OPEN")["valve"] == "OPEN" and reply("VALVE", "CLOSE")["valve"] == "CLOSE"
    assert {k: reply("SITE", *a)[k] for a, k in ((("NORMAL",), "kink"),)} == {"kink": "1"}
    assert (reply("SITE", "KINK", "FULL")["kink"], reply("SITE", "LEAK", "0.5")["leak"], reply("SITE", "DISLODGE")["leak"]) == ("inf", "0.5", "1")
    assert reply("SITE", "NORMAL") | {"t": ""} == {"kink": "1", "leak": "0", "t": ""}
    with pytest.raises(Refused) as refused:
        server._control(Frame("1", "NOPE", ()))
    assert refused.value.code == "UNKNOWN_COMMAND"


def test_reset_does_not_restart_the_event_numbers(server):
    server.world.pump.handle(Frame("1", "SET", ("on_low=1",)))
    server.world.pump.handle(Frame("1", "RESUME", ()))
    server.world.pump.handle(Frame("1", "CGM", ("50",)))
    before = server._event_no
    assert before > 0
    server._control(Frame("1", "RESET", ("2",)))
    assert server._event_no == before  # E<n> counts on (§1 Framing, §3 After RESET)
    assert "(nor on the emulator's `RESET`)" in section("### Framing")


# -- the balance ----------------------------------------------------------------------------------------------
def test_the_mtsics_table_lists_exactly_the_commands_the_emulated_balance_knows():
    rows = table(section("## 2."), "command", "reply", "driver (`hil/drivers/mtsics.py`)")
    documented = {t for row in rows for t in ticks(row[0])}
    known = re.search(r"command in \(([^)]*)\) and rest", source("balance.py"))[1]
    assert documented == set(re.findall(r'"([^"]+)"', known))


# -- CAN ------------------------------------------------------------------------------------------------------
def test_the_can_tables_match_the_dbc_messages_ids_and_signals():
    db = cantools.database.load_file(str(DBC))
    can = section("## 5.")
    signals = {word(row[1]): (int(row[0], 16), sorted(ticks(row[2]))) for row in table(can, "id", "message", "signals")}
    assert signals == {m.name: (m.frame_id, sorted(s.name for s in m.signals)) for m in db.messages}
    overview = table(can, "id", "message", "from → to", "content")
    named = {}
    for row in overview:
        ids = [int(i, 16) for i in re.findall(r"0x[0-9A-Fa-f]+", row[0])]
        names = ticks(row[1])
        if "-" in row[0]:  # a range: PumpStatus1-5
            first, last = ids
            ids = list(range(first, last + 1))
            stem = names[0].rstrip("0123456789")
            names = [f"{stem}{k}" for k in range(1, len(ids) + 1)]
        named.update(zip(names, ids))
    assert named == {m.name: m.frame_id for m in db.messages}


def numbered(cell: str) -> set[tuple[int, str]]:
    return {(int(n), name) for n, name in re.findall(r"\b(\d+) ([A-Z][A-Z_]+)\b", cell)}


def choices(db, message: str, *names: str) -> set[tuple[int, str]]:
    return {(int(k), str(v)) for n in names for k, v in db.get_message_by_name(message).get_signal_by_name(n).choices.items()}


def test_the_can_enumerations_match_the_dbc():
    db = cantools.database.load_file(str(DBC))
    rows = {ticks(row[1])[0]: row[3] for row in table(section("## 5."), "id", "message", "from → to", "content")}
    assert numbered(rows["PumpRequest"]) - {(0, "STANDARD"), (1, "QUICK")} == choices(
        db, "PumpRequest", "opcode", "auto_switch", "fault")
    assert numbered(rows["PumpResponse"]) == choices(db, "PumpResponse", "result", "auto_zone")
    assert numbered(rows["PumpAlarm"]) == choices(db, "PumpAlarm", "kind", "priority")
    assert numbered(rows["PumpEvent"]) == choices(db, "PumpEvent", "kind", "reason")
    assert numbered(rows["PumpHeartbeat"]) == choices(db, "PumpHeartbeat", "state") == choices(db, "PumpStatus1", "state")
    # every CAN opcode is a serial command; the serial commands without one are the ones the document names
    opcodes = {name for _, name in choices(db, "PumpRequest", "opcode")}
    assert set(command_rows()) - opcodes == {"ALARMS", "CGM"}
    assert "`ALARMS` and `CGM` commands have no opcode" in section("## 5.")
    # the heartbeat period the document gives is the emulator's
    assert re.search(r"emulator: (\d+) s, `emulator\.can_heartbeat_s`", rows["PumpHeartbeat"])[1] == f"{EmulatorConfig().can_heartbeat_s:g}"
