"""The recorder's daily series, the ledger's money and the weak callbacks: what a run records, exactly."""

from __future__ import annotations

import weakref

import numpy as np
import pytest

from reachsim.core.metrics import flow, stock
from reachsim.engine.ledger import Ledger
from reachsim.engine.recorder import MoneyFlowError, Recorder, UndeclaredMetricError
from reachsim.engine.weak import weak_callable, weak_parts

HORIZON = 5


def _amounts(rng: np.random.Generator, n: int) -> list:
    """Amounts of every type a channel passes: Python and NumPy integers and floats, float32 included."""
    kinds = [int, float, np.int64, np.float64, np.float32]
    return [kinds[i % len(kinds)](v) for i, v in enumerate(rng.random(n) * 1000)]


def test_flows_are_the_float64_sums_a_numpy_series_gives_bit_for_bit() -> None:
    """Python floats while the run goes on, the same sums in the same order as NumPy elements would make."""
    rng = np.random.default_rng(4)
    times = np.sort(rng.uniform(-0.5, HORIZON + 2, 400))
    amounts = _amounts(rng, times.size)
    rec = Recorder(HORIZON)
    rec.declare("c", (flow("n", "contacts", "n", by_hour=True),))
    days, hours, after = np.zeros(HORIZON), np.zeros(24), None
    for t, amount in zip(times.tolist(), amounts, strict=True):
        rec.flow("c", "n", t, amount)
        day = int(t)
        if 0 <= day < HORIZON:
            days[day] += amount
            hours[min(int((t - day) * 24), 23)] += amount
        elif day >= HORIZON:
            after = (0.0 if after is None else after) + float(amount)  # the run-out total in float64 too
    assert rec.raw("c", "n").tobytes() == days.tobytes()
    assert rec.hours()["c", "n"].tobytes() == hours.tobytes()
    assert rec.after_horizon() == {("c", "n"): after} and type(after) is float


def test_totals_after_the_horizon_come_in_the_order_they_first_came() -> None:
    rec = Recorder(HORIZON)
    rec.declare("c", (flow("a", "people", "a"), flow("b", "people", "b"), flow("quiet", "people", "quiet")))
    rec.flow("c", "b", HORIZON + 0.5, 2)
    rec.flow("c", "a", 1.0, 7)
    rec.flow_at("c", "a", np.array([HORIZON + 1.0, 2.5]))
    assert list(rec.after_horizon().items()) == [(("c", "b"), 2), (("c", "a"), 1.0)]
    np.testing.assert_array_equal(rec.raw("c", "a"), [0, 7, 1, 0, 0])


def test_stocks_are_read_at_each_days_end_and_replace_sets_a_whole_series() -> None:
    rec = Recorder(HORIZON)
    rec.declare("c", (stock("audience", "people", "audience"), flow("n", "people", "n")))
    level = iter([3, np.int64(5), np.float32(6.5), 9.25, 10])
    rec.stock("c", "audience", lambda: next(level))
    for day in range(HORIZON):
        rec.end_of_day(day)
    np.testing.assert_array_equal(rec.raw("c", "audience"), [3, 5, 6.5, 9.25, 10])
    rec.replace("c", "n", np.arange(HORIZON))
    assert rec.series()["c", "n"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    rec.raw("c", "n")[:] = -1  # a copy: the recorded series stays
    assert rec.raw("c", "n").tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_a_channels_sink_holds_only_its_declared_flows_and_the_recorder_explains_the_rest() -> None:
    rec = Recorder(HORIZON)
    sink = rec.sink("c")  # before the declaration, as a context takes it
    rec.declare("c", (flow("n", "people", "n"), flow("cost", "currency", "cost")))
    assert set(sink) == {"n"} and sink["n"] is rec.sink("c")["n"]
    with pytest.raises(MoneyFlowError):
        rec.flow("c", "cost", 0.0, 1.0)
    with pytest.raises(UndeclaredMetricError, match="does not declare it"):
        rec.flow("c", "other", 0.0, 1.0)


def test_the_ledgers_daily_money_of_all_channels_in_one_pass_is_each_channels_own() -> None:
    rng = np.random.default_rng(7)
    ledger = Ledger(HORIZON, run_out_days=2)
    rows = []
    for t, channel, amount in zip(rng.uniform(0, HORIZON + 2, 300).tolist(), rng.choice(["a", "b", "c"], 300),
                                  (rng.random(300) * 100).tolist(), strict=True):
        book = ledger.cost if amount < 50 else ledger.value
        book(t, str(channel), "x", amount)
        rows.append((t, str(channel), -amount if amount < 50 else amount))
    dailies = ledger.dailies()
    for channel in (None, "a", "b", "c"):
        cost, value = np.zeros(HORIZON), np.zeros(HORIZON)
        for t, ch, signed in rows:
            if t < HORIZON and channel in (None, ch):
                if signed < 0:
                    cost[int(t)] -= signed
                else:
                    value[int(t)] += signed
        assert dailies[channel][0].tobytes() == cost.tobytes() and dailies[channel][1].tobytes() == value.tobytes()
        assert ledger.daily(channel)[0].tobytes() == cost.tobytes()
    assert ledger.daily("nobody")[0].tolist() == [0.0] * HORIZON
    totals: dict[tuple[str, str], float] = {}
    net = np.zeros(2)
    for t, ch, signed in rows:  # the totals and the run-out's net, one entry at a time, in booking order
        if t < HORIZON:
            totals[ch, "x"] = totals.get((ch, "x"), 0.0) + signed
        elif ch != "c":
            net[int(t) - HORIZON] += signed
    assert list(ledger.totals().items()) == list(totals.items())  # same sums, keys in the order first booked
    assert ledger.run_out_net(exclude=frozenset({"c"})).tobytes() == net.tobytes()
    assert ledger.entries() == [(t, ch, "x", signed) for t, ch, signed in rows if t < HORIZON]
    with pytest.raises(ValueError, match="outside the run"):
        ledger.cost(HORIZON + 2, "a", "x", 1.0)
    ledger.value(3.0, "a", "x", 0.0)  # nothing booked: no entry
    assert len(ledger) == 300


class _Owner:
    def twice(self, x: int) -> int:
        return 2 * x

    def other(self) -> str:
        return "other"


def test_weak_callbacks_call_through_and_keep_nothing_alive() -> None:
    owner, stranger = _Owner(), _Owner()
    call = weak_callable(owner.twice)
    assert call(4) == 8 and weak_callable(len) is len
    ref, parts = weak_parts(owner.twice, len, owner.other, stranger.other)
    assert ref() is owner
    assert parts[0] == (_Owner.twice, True) and parts[1] == (len, False) and parts[2] == (_Owner.other, True)
    assert parts[3][1] is False and parts[3][0]() == "other"  # another object's method: weakly, as it is
    watch = weakref.ref(owner)
    del owner, ref
    assert watch() is None
    with pytest.raises(ReferenceError, match=r"_Owner\.twice was called after its object was discarded"):
        call(1)
