"""The random streams of one seed, in the order the emulator has always drawn them: the reference pump's strokes,
the balance, the load cell, the lost-vessel balance and the pump's pressure sensor. The world (world.py) and the
reference firmware's own process (firmware_process.py) take them from here, so a seed gives the same pump in both."""

from typing import NamedTuple

import numpy as np


class Streams(NamedTuple):
    pump: np.random.Generator
    balance: np.random.Generator
    loadcell: np.random.Generator
    lost_balance: np.random.Generator
    sensor: np.random.Generator


def streams(seed: int) -> Streams:
    return Streams(*(np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(len(Streams._fields))))
