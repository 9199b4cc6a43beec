"""The emulated balance's SBI front end in-process: one weighing model behind both protocols (the same readings
for a seed), its output lines as the manuals lay them out, tare and zero without a reply, silence for what it
does not know, the strict protocol option, and docs/protocol.md §2a in step with it."""

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from hil.drivers.mtsics import parse_weight
from hil.drivers.sartorius_sbi import parse_output
from hil.emulation.options import BalanceParams, EmulatorConfig
from hil.emulator.world import World
from hil.transport.frames import Frame

ROOT = Path(__file__).resolve().parents[2]
PRINT, TARE, ZERO = b"\x1bP", b"\x1bU", b"\x1bV"


def world(seed: int = 3, **balance) -> World:
    config = EmulatorConfig.model_validate({"seed": seed, "balance": {"protocol": "sbi", **balance}})
    return World(config, lambda kind, fields: None, lambda line: None)


def printed(w: World) -> str:
    [line] = w.balance.handle(PRINT)
    return line


def filling(w: World, read, steps: int = 60) -> list:
    """Readings while a 30 U/h basal fills the vessel (settled and settling ones)."""
    for word, *args in [("RESUME",), ("BASAL", "30.000")]:
        w.pump.handle(Frame("1", word, tuple(args)))
    out = []
    for _ in range(steps):
        w.advance(2.7)
        out.append(read(w))
    return out


def test_both_protocols_give_the_same_readings_for_a_seed():
    mtsics = World(EmulatorConfig(seed=3), lambda kind, fields: None, lambda line: None)
    by_mtsics = filling(mtsics, lambda w: parse_weight(w.balance.handle(b"SI")[0].encode(), "SI"))
    by_sbi = filling(world(3), lambda w: tuple(parse_output(printed(w).encode() + b"\r\n"))[:2])
    assert by_sbi == [(pytest.approx(mass, abs=1e-9), stable) for mass, stable in by_mtsics]
    assert {stable for _, stable in by_sbi} == {True, False}  # settled and settling readings were compared


def test_a_tare_and_a_zero_weigh_as_they_do_over_mtsics():
    """A key command draws one noise sample, as T and Z do: the readings after them stay the same."""
    mtsics, sbi = World(EmulatorConfig(seed=3), lambda kind, fields: None, lambda line: None), world(3)
    for mtsics_command, sbi_command in ((b"T", TARE), (b"Z", ZERO), (b"T", TARE)):
        mtsics.balance.handle(mtsics_command)
        sbi.balance.handle(sbi_command)
    assert (sbi.balance.model.zero_mg, sbi.balance.model.tare_mg) == (mtsics.balance.model.zero_mg,
                                                                      mtsics.balance.model.tare_mg)
    after = parse_weight(mtsics.balance.handle(b"SI")[0].encode(), "SI")
    assert parse_output(printed(sbi).encode() + b"\r\n")[:2] == after


def test_every_output_is_laid_out_as_the_manual_says():
    for line in filling(world(), printed):
        assert len(line) == 14 and line[0] in "+-" and line[10] == " " and line[11:] in ("g  ", "   ")
        assert re.fullmatch(r" *[0-9]+\.[0-9]{5}", line[1:10])  # 0.01 mg readability: 5 decimals of a gram


def test_over_and_underload_show_high_and_low():
    assert printed(world(capacity_g=30.0)) == "      High    "  # the 35 g vessel on a 30 g balance
    w = world()
    w.bench.vessel.display_mg = w.bench.vessel.indication_mg = -2300.0  # below −1 % of 220 g from the zero
    assert printed(w) == "      Low     "


def test_tare_and_zero_answer_nothing_and_act_on_a_settled_display_only_zero_near_the_power_on_zero():
    w = world()
    assert w.balance.handle(TARE) == [] and abs(parse_output(printed(w).encode() + b"\r\n").mass_mg) < 0.1
    w.bench.vessel.indication_mg += 5.0  # a drop landed: the display has not followed yet
    assert w.balance.handle(ZERO) == [] and w.balance.handle(TARE) == []
    assert w.balance.model.zero_mg == 0.0 and w.balance.model.tare_mg == pytest.approx(35000.0, abs=0.1)
    w.advance(60.0)
    w.balance.handle(ZERO)  # settled, but 35 g is beyond the zero-setting range (4 % of 220 g): not taken
    assert w.balance.model.zero_mg == 0.0 and w.balance.model.tare_mg == pytest.approx(35000.0, abs=0.1)
    w.bench.vessel.display_mg = w.bench.vessel.indication_mg = 5000.0  # 5 g: within it
    w.balance.handle(ZERO)
    assert w.balance.model.zero_mg == pytest.approx(5000.0, abs=0.1) and w.balance.model.tare_mg == 0.0


def test_identity_commands_print_the_configured_identity():
    w = world(model="MSE225S-EMU", serial="0031801165", software="00-39-21")
    assert [w.balance.handle(b"\x1bx%d_" % k) for k in (1, 2, 3)] == [["MSE225S-EMU"], ["0031801165"], ["00-39-21"]]


@pytest.mark.parametrize("line", [b"\x1bT", b"\x1bS", b"\x1bx4_", b"P", b"\x1bP ", b"", b"\xff\x1bP"])
def test_what_it_does_not_know_gets_no_reply(line):
    assert world().balance.handle(line) == []


def test_the_protocol_option_is_strict_and_per_balance():
    config = EmulatorConfig.model_validate({"balance": {"protocol": "sbi"}})
    assert (config.balance.protocol, config.lost_balance.protocol) == ("sbi", "mt-sics")
    for wrong in ("SBI", "xbpi", 1):
        with pytest.raises(ValidationError, match="protocol"):
            EmulatorConfig.model_validate({"balance": {"protocol": wrong}})
    assert "protocol" in BalanceParams.model_json_schema()["properties"]["protocol"]["description"]


def test_an_sbi_balance_must_show_its_capacity_in_the_nine_character_weight_field():
    BalanceParams(protocol="sbi", capacity_g=220.0, readability_mg=0.01)  # 224.40000
    BalanceParams(capacity_g=2000.0, readability_mg=0.01)  # MT-SICS has no such field
    with pytest.raises(ValidationError, match="needs 10 characters"):
        BalanceParams(protocol="sbi", capacity_g=2000.0, readability_mg=0.01)


def test_the_document_lists_exactly_the_sbi_commands_the_emulated_balance_knows():
    doc = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
    section = doc[doc.index("## 2a."):doc.index("## 3.")]
    documented = set(re.findall(r"^\| `ESC ([^`]+)` \|", section, flags=re.MULTILINE))
    known = set(re.findall(r'case b"\\x1b([^"]+)":', (ROOT / "hil" / "emulator" / "sbi_balance.py").read_text()))
    assert documented == known == {"P", "U", "V", "x1_", "x2_", "x3_"}


def test_mt_sics_zero_beyond_its_range_answers_z_plus_or_minus_and_changes_nothing():
    w = World(EmulatorConfig(seed=3), lambda kind, fields: None, lambda line: None)  # the 35 g vessel on the pan
    w.advance(60.0)
    assert w.balance.handle(b"Z") == ["Z +"] and w.balance.model.zero_mg == 0.0
    w.bench.vessel.display_mg = w.bench.vessel.indication_mg = -9000.0  # more than 4 % of 220 g below the zero
    assert w.balance.handle(b"Z") == ["Z -"]
    w.bench.vessel.display_mg = w.bench.vessel.indication_mg = 8000.0  # within it
    assert w.balance.handle(b"Z") == ["Z A"] and w.balance.model.zero_mg == pytest.approx(8000.0, abs=0.1)
