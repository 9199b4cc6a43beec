"""Occlusion-valve drivers: the relay board on a real pty with a small responder, the operator prompt on
a pipe."""

import os
import time

import pytest

from hil.drivers.occlusion_valve import OperatorPromptValve, RelayBoardValve
from hil.errors import ProtocolError, RigError
from tests.unit.pty_instrument import ScriptedInstrument


class FakeRelayBoard(ScriptedInstrument):
    """The relay protocol of docs/protocol.md §4, answering on the master side of a pty."""

    def __init__(self, reply=None):
        super().__init__(lambda command: [reply or "OK {} {}".format(*command.split()[1:])])


def test_relay_board_closes_and_opens_its_channel():
    board = FakeRelayBoard()
    valve = RelayBoardValve(board.path, 3, timeout_s=1.0)
    valve.close()
    valve.open()
    assert board.commands == ["SET 3 ON", "SET 3 OFF"]
    valve.line.close()
    board.close()


def test_relay_board_wrong_answer_is_a_protocol_error():
    board = FakeRelayBoard(reply="OK 9 ON")
    valve = RelayBoardValve(board.path, 3, timeout_s=1.0)
    with pytest.raises(ProtocolError, match="expected 'OK 3 ON'"):
        valve.close()
    valve.line.close()
    board.close()


def test_operator_prompt_keeps_question_answer_and_times(tmp_path):
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"done\n")
    asked = tmp_path / "asked.txt"
    with open(read_fd) as answers, open(asked, "w") as ask:
        valve = OperatorPromptValve(timeout_s=1.0, ask=ask, answers=answers, clock=time.time)
        valve.close()
    os.close(write_fd)
    (record,) = valve.records
    assert "CLOSE the occlusion stopcock" in record.question and record.answer == "done"
    assert record.answered_s >= record.asked_s and "CLOSE" in asked.read_text()


def test_operator_prompt_times_out_as_a_rig_error(tmp_path):
    read_fd, write_fd = os.pipe()
    with open(read_fd) as answers, open(tmp_path / "asked.txt", "w") as ask:
        valve = OperatorPromptValve(timeout_s=0.2, ask=ask, answers=answers)
        with pytest.raises(RigError, match="did not confirm"):
            valve.open()
    os.close(write_fd)
    assert valve.records[0].answer is None
