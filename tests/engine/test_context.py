"""What a channel's context computes for it from the population: engagement weights."""

from __future__ import annotations

import numpy as np
import pytest
import simpy

from reachsim.engine.bus import EventBus
from reachsim.engine.context import ChannelContext, SegmentTable
from reachsim.engine.ledger import Ledger
from reachsim.engine.population import Population
from reachsim.engine.recorder import Recorder
from reachsim.engine.streams import Streams


@pytest.mark.parametrize(
    ("shares", "data"), [((1.0,), (0.5,)), ((0.2, 0.8), (0.6, 0.5)), ((0.1, 0.0, 0.3, 0.6), (0, 1, 0.4, 1))]
)
def test_engagement_weights_of_ascending_rows_are_those_looked_up_row_by_row(shares, data) -> None:
    """Many ascending rows are weighted class by class (runs of the layout): the same float32 values, to the bit,
    as each row's segment multiplier looked up and uplifted where its data may be used."""
    population = Population(100_003, shares, data)
    starts = [0] + [end for *_, end in population.classes[:-1]]
    for start, (code, usable, end) in zip(starts, population.classes, strict=True):
        assert np.all(population.segment[start:end] == code) and np.all(population.has_data[start:end] == usable)
    multipliers = np.linspace(0.5, 2.0, len(shares))
    segments = SegmentTable(tuple(map(str, range(len(shares)))), multipliers, np.zeros(len(shares)))
    ctx = ChannelContext("c", 0, simpy.Environment(), population, segments, Streams(0, 0), EventBus(), Ledger(1),
                         Recorder(1), horizon_days=1)
    rng = np.random.default_rng(7)
    rows = rng.integers(0, population.size, 9_000)
    for idx in (np.arange(population.size), np.arange(5_000, 70_000), np.sort(rows), rows, np.arange(10)):
        for uplift in (0.0, 0.25):
            expected = segments.multiplier32[population.segment[idx]]
            if uplift:
                np.multiply(expected, np.float32(1.0 + uplift), out=expected, where=population.has_data[idx])
            weights = ctx.engagement_weights(idx, uplift)
            assert weights.dtype == np.float32 and weights.tobytes() == expected.tobytes()
    assert ctx.engagement_weights(list(range(5_000)), 0.0).tobytes() == ctx.engagement_weights(
        np.arange(5_000), 0.0).tobytes()  # a list of rows, as before
    with pytest.raises(IndexError):  # rows past the market are an error, not dropped
        ctx.engagement_weights(np.arange(population.size - 4_000, population.size + 100), 0.0)
