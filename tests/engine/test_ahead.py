"""Draws made ahead in blocks are the stream's own draws, handed out in order; a change of parameters drops the
rest of the block drawn for the old ones."""

from __future__ import annotations

import numpy as np

from reachsim.engine.ahead import DrawnAhead


def test_hands_out_the_streams_draws_in_order() -> None:
    ahead = DrawnAhead(np.random.default_rng(3).poisson, 8)
    assert [ahead.next(4.0) for _ in range(20)] == np.random.default_rng(3).poisson(4.0, 24)[:20].tolist()


def test_a_change_of_parameters_discards_the_block() -> None:
    ahead = DrawnAhead(np.random.default_rng(5).poisson, 8)
    first = [ahead.next(4.0) for _ in range(3)]
    later = [ahead.next(50.0) for _ in range(8)]
    reference = np.random.default_rng(5)
    assert first == reference.poisson(4.0, 8)[:3].tolist()
    assert later == reference.poisson(50.0, 8).tolist()  # drawn afresh at the new rate, none at the old
    assert min(later) > 20  # not the old rate's counts
