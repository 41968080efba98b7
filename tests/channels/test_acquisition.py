"""The shared audience-acquisition component (reachsim.channels.acquisition), through the Messenger channel."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from reachsim.channels import topics
from reachsim.channels.acquisition import AHEAD, NeverJoined, distinct_integers
from reachsim.channels.messenger import MessengerChannel
from reachsim.engine.simulation import Simulation
from reachsim.model.bass import bass_daily_adoption_probability, daily_adoption_probability
from reachsim.scenario.errors import ScenarioError
from reachsim.scenario.load import scenario_from_dict
from reachsim.testing import check_channel

#: Significance of each distributional check (a false failure about once in 30,000 runs).
ALPHA = 3.2e-5


def messenger(**overrides):
    channel = {"type": "messenger", "engagement": {"probability": 0.0}}
    channel.update(overrides)
    return channel


def test_people_who_left_are_never_acquired_again(scenario_factory):
    # the whole market subscribes on day 0 and leaves at the first broadcast: no source finds anyone afterwards
    size = 2_000
    sc = scenario_factory(
        [
            messenger(
                initial_subscribers=size,
                acquisition={"organic_per_day": 50, "paid": {"budget_per_day": 100, "cost_per_subscriber": 1}},
                broadcasts={"every_days": 1},
                unsubscribe={"probability": 1.0},
            )
        ],
        size=size,
        horizon=10,
    )
    result = Simulation(sc, "s", 0).run()
    assert result.series["messenger", "joined"].sum() == size
    assert result.series["messenger", "left"].sum() == size
    assert result.series["messenger", "audience"][-1] == 0
    assert result.ledger_totals.get(("messenger", "acquisition"), 0) == 0  # nobody left to sell: nothing bought


def test_bus_opt_ins_and_daily_sources_share_one_record_of_who_joined(scenario_factory):
    size = 1_000
    sc = scenario_factory([messenger(acquisition={"organic_per_day": 40})], size=size, horizon=30)
    sim = Simulation(sc, "s", 0)
    channel = sim.channels[0]
    joins: list[tuple[np.ndarray, str]] = []  # every join the component reports, with its source
    subscribed: list[np.ndarray] = []  # everyone the channel subscribes, acquired or named
    real_join, real_batch = channel._join, channel._join_batch

    def spy(idx, t, source):
        assert idx.size and np.all(np.diff(idx) > 0)  # non-empty, ascending, distinct
        joins.append((idx.copy(), source))
        real_join(idx, t, source)

    def spy_batch(idx, times, counts):
        assert len(times) == len(counts) and sum(counts) == idx.size  # runs of people who joined at one time
        assert all(t <= sim.env.now for t in times)  # handed over, never early
        assert np.unique(idx).size == idx.size  # distinct, in any order
        subscribed.append(idx.copy())
        real_batch(idx, times, counts)

    # start() hands the component the callbacks, so these ones
    channel._join, channel._join_batch = spy, spy_batch  # type: ignore[method-assign]
    everyone = np.arange(size)
    sim.env.process(_publish_at(sim, 10.5, everyone))
    result = sim.run()
    joined = np.concatenate(subscribed)
    assert np.unique(joined).size == joined.size == size  # nobody subscribed twice; the opt-in filled the rest
    assert channel.acquisition.ever_joined == size and channel.acquisition.pool.size == 0
    bus = [idx for idx, source in joins if source == "page"]
    assert len(bus) == 1 and bus[0].size == size - result.series["messenger", "joined_organic"][:11].sum()
    assert result.series["messenger", "joined_organic"][11:].sum() == 0


@pytest.mark.parametrize("per_optin", [500, 1, 2, 3])
@pytest.mark.parametrize("paid", [False, True])
def test_a_bus_join_between_hand_overs_finds_the_pending_days_people_in_exact_proportion(
    scenario_factory, paid, per_optin
):
    """Days 0–3 draw K people as counts; an opt-in of a fixed set O at t = 3.5 comes before they are handed over.
    As if they had been named day by day, |O ∩ drawn| ~ Hypergeometric(K, N − K, |O|) (classes or not); the opt-in
    adds the rest of O; each of the K still joins with its own day; nobody joins twice. Named one person per
    opt-in (each claimed with probability k/L as it comes), or two or three (the scalar path: one uniform per class
    when their classes differ, a hypergeometric when they share one), the count has the same law."""
    # 500 people, in an order that mixes the segments when they are named a few at a time
    size, optin = 2_000, np.random.default_rng(7).permutation(np.arange(0, 2_000, 4))
    acquisition: dict = {"organic_per_day": 150}
    if paid:  # impressions: the pool is kept by segment × usable data, so the claim is drawn class by class
        acquisition["paid"] = {"budget_per_day": 10, "cpm": 10, "conversion_probability": 0.05, "target": "market"}
    segments = [{"name": "a", "share": 0.3, "engagement_multiplier": 2.0}, {"name": "b", "share": 0.7}]
    sc = scenario_factory([messenger(acquisition=acquisition, broadcasts={"every_days": 7, "first_day": 7})],
                          size=size, horizon=8, segments=segments)
    observed = mean = variance = 0.0
    for replication in range(12):
        sim = Simulation(sc, "s", replication)
        channel = sim.channels[0]
        handed: list[tuple[np.ndarray, np.ndarray]] = []
        real_batch = channel._handed_over  # the component's join_batch

        def spy(idx, days, counts, real_batch=real_batch, handed=handed):
            handed.append((idx.copy(), np.repeat(days, counts)))
            real_batch(idx, days, counts)

        channel._handed_over = spy  # type: ignore[method-assign]
        sim.env.process(_publish_at(sim, 3.5, optin, per_optin))
        series = sim.run().series
        acquired = series["messenger", "joined"] - series["messenger", "joined_page"]
        drawn = int(acquired[:4].sum())
        from_page = int(series["messenger", "joined_page"][3])
        overlap = optin.size - from_page
        observed += overlap
        mean += optin.size * drawn / size
        variance += optin.size * drawn / size * (size - drawn) / size * (size - optin.size) / (size - 1)
        first = handed[0]  # the hand-over at the day-7 broadcast: days 0–7, claimed people included
        assert np.unique(first[0]).size == first[0].size
        np.testing.assert_array_equal(np.bincount(first[1].astype(int), minlength=8), acquired)
        members = channel.cols.members
        assert np.unique(members).size == members.size == channel.acquisition.ever_joined
    assert abs(observed - mean) <= 4 * math.sqrt(variance), (observed, mean, math.sqrt(variance))
    assert mean > 10 * math.sqrt(variance)  # the overlap is large enough for the check to see it


@pytest.fixture(params=["vectorised", "one by one"])
def draw_path(request, monkeypatch):
    """Every draw by class takes one path: vectorised, or one person at a time (NeverJoined.FEW_DRAWN)."""
    monkeypatch.setattr(NeverJoined, "FEW_DRAWN", 0 if request.param == "vectorised" else 10**9)
    return request.param


def _publish_at(sim, t, idx, per_optin=None):
    """Publish opt-ins of ``idx`` at ``t``: all in one, or about ``per_optin`` people each."""
    yield sim.env.timeout(t)
    for part in np.array_split(idx, -(-idx.size // per_optin)) if per_optin else [idx]:
        sim.bus.publish(topics.MESSENGER_OPTIN, idx=part, t=t, source="page")


def _check_pool(pool: NeverJoined, klass: np.ndarray, gone: np.ndarray) -> None:
    """The pool holds exactly the consumers not gone, each in its class's live block, ``where`` its inverse."""
    live = np.concatenate([pool.rows[a : a + n] for a, n in zip(pool.start, pool.length, strict=True)])
    assert np.array_equal(np.sort(live), np.flatnonzero(~gone))
    assert pool.size == live.size
    assert np.array_equal(
        pool.where[live], np.concatenate([np.arange(a, a + n) for a, n in zip(pool.start, pool.length, strict=True)])
    )
    assert np.all(pool.where[gone] == -1)
    for c, (a, n) in enumerate(zip(pool.start, pool.length, strict=True)):
        assert np.all(klass[pool.rows[a : a + n]] == c)


@pytest.mark.parametrize("classes", [1, 5])
def test_the_never_joined_pool_stays_consistent_under_draws_and_removals(classes, draw_path):
    rng = np.random.default_rng(7)
    n = 3_000
    klass = rng.integers(0, classes, size=n)
    klass[klass == 2] = 3  # an empty class in the middle
    pool = NeverJoined(n, klass if classes > 1 else None)
    gone = np.zeros(n, dtype=bool)
    for step in range(60):
        if step % 5 == 4:  # a targeted draw: so many from each class
            idx = pool.draw_by_class(rng, rng.integers(0, 40, size=pool.classes))
            assert np.unique(idx).size == idx.size and not gone[idx].any()
        elif step % 3 == 2:  # a bus opt-in: any consumers, some already gone
            idx = np.unique(rng.integers(0, n, size=rng.integers(1, 80)))
            if step % 2:  # take(): a few one by one, more at once; those gone are left out
                few = idx[: rng.integers(1, 2 * NeverJoined.FEW)]
                idx, taken = pool.take(few)
                assert np.array_equal(idx, few[~gone[few]]) and taken == klass[idx].tolist()
            else:
                idx = idx[pool.contains(idx)]
                assert not gone[idx].any()
                pool.remove(idx)
        else:
            idx = pool.draw(rng, int(rng.integers(0, 150)))
            assert np.unique(idx).size == idx.size and not gone[idx].any()
        gone[idx] = True
        _check_pool(pool, klass, gone)
    rest = pool.draw(rng, n)  # more than is left: everyone left, once
    assert np.array_equal(np.sort(rest), np.flatnonzero(~gone))
    assert pool.size == 0 and pool.draw(rng, 5).size == 0


@pytest.mark.parametrize(("n", "k"), [(50, 3), (50, 40), (1_000, 1)])
def test_distinct_integers_are_a_uniform_subset_in_random_order(n, k):
    rng = np.random.default_rng(11)
    draws = 20_000
    hits = np.zeros(n)
    firsts = np.zeros(n)
    for _ in range(draws):
        x = distinct_integers(rng, n, k)
        assert x.size == k and np.unique(x).size == k and x.min() >= 0 and x.max() < n
        hits[x] += 1
        firsts[x[0]] += 1
    # each integer is in the subset with probability k/n, and first with probability 1/n
    assert stats.chisquare(hits, np.full(n, draws * k / n)).pvalue > ALPHA
    assert stats.chisquare(firsts).pvalue > ALPHA


@pytest.mark.parametrize("classes", [1, 3])
def test_a_draw_from_the_pool_is_uniform_over_everyone_left(classes):
    # 900 of 1,000 consumers left (in classes of unequal size): each is drawn with probability k/900
    n, k, draws = 1_000, 30, 6_000
    klass = np.repeat(np.arange(3), [100, 300, 600]) if classes > 1 else None
    counts = np.zeros(n)
    first = np.arange(0, n, 10)  # 100 consumers gone before the draw, from every class
    for r in range(draws):
        pool = NeverJoined(n, klass)
        pool.remove(first)
        counts[pool.draw(np.random.default_rng(r), k)] += 1
    assert counts[first].sum() == 0
    rest = np.delete(counts, first)
    assert stats.chisquare(rest, np.full(rest.size, draws * k / rest.size)).pvalue > ALPHA


def test_the_scalar_bass_probability_is_the_array_one():
    for p, q, a, m in [(0.03, 0.38, 0, 50_000), (0.3, 2.0, 12_345, 50_000), (0.0, 1.0, 7, 10), (0.5, 3.0, 3, 0)]:
        assert daily_adoption_probability(p, q, a, m) == bass_daily_adoption_probability(p, q, a, m)
    assert math.isclose(daily_adoption_probability(0.3, 2.0, 10, 100, 0.5), 1 - math.exp(-(0.3 + 0.2) / 365 / 2))


def test_a_draw_by_class_is_uniform_within_each_class(draw_path):
    n, draws = 600, 6_000
    klass = np.repeat(np.arange(3), [100, 200, 300])
    want = np.array([10, 0, 45])
    counts = np.zeros(n)
    for r in range(draws):
        pool = NeverJoined(n, klass)
        pool.remove(np.arange(0, n, 4))  # a quarter gone before the draw
        got = pool.draw_by_class(np.random.default_rng(r), want)
        assert np.array_equal(np.bincount(klass[got], minlength=3), want)
        counts[got] += 1
    for c, (a, b) in enumerate([(0, 100), (100, 300), (300, 600)]):
        left = [i for i in range(a, b) if i % 4]
        if want[c]:
            expected = np.full(len(left), draws * want[c] / len(left))
            assert stats.chisquare(counts[left], expected).pvalue > ALPHA
        assert counts[a:b:4].sum() == 0 and counts[left].sum() == draws * want[c]


def test_a_draw_by_class_with_repeats_redrawn_is_a_uniform_subset_in_random_order(draw_path):
    """Small classes, so that most draws repeat a position and redraw it: every member of a class is in the draw
    with probability k/L, and each place in the class's returned order holds any member with probability 1/L."""
    n, draws = 60, 6_000
    klass = np.repeat(np.arange(2), [20, 40])
    want = [6, 15]
    hits, first, last = np.zeros(n), np.zeros(n), np.zeros(n)
    rng = np.random.default_rng(3)
    for _ in range(draws):
        got = NeverJoined(n, klass).draw_by_class(rng, want)
        assert np.array_equal(np.bincount(klass[got], minlength=2), want) and np.unique(got).size == got.size
        hits[got] += 1
        first[got[[0, 6]]] += 1  # the first of each class
        last[got[[5, 20]]] += 1  # the last of each class
    for a, b, k in [(0, 20, 6), (20, 60, 15)]:
        assert stats.chisquare(hits[a:b], np.full(b - a, draws * k / (b - a))).pvalue > ALPHA
        assert stats.chisquare(first[a:b]).pvalue > ALPHA and stats.chisquare(last[a:b]).pvalue > ALPHA



def test_a_draw_by_class_with_repeats_gives_every_ordered_choice_equally_often(draw_path):
    """Two of 4 and two of 5 (each at most half its class, so drawn with repeats redrawn in place, a repeat one
    time in four or five): each of the 12 and 20 ordered pairs of distinct members comes up equally often. Odds of
    single members cannot tell a wrong redraw that keeps them (a repeat moved to the next member, say) from this."""
    klass = np.repeat(np.arange(2), [4, 5])
    draws = 12_000
    pairs: list[dict[tuple[int, int], int]] = [{}, {}]
    rng = np.random.default_rng(8)
    for _ in range(draws):
        got = NeverJoined(9, klass).draw_by_class(rng, np.array([2, 2])).tolist()
        for c, pair in enumerate((tuple(got[:2]), tuple(got[2:]))):
            pairs[c][pair] = pairs[c].get(pair, 0) + 1
    for c, size in enumerate((4, 5)):
        assert len(pairs[c]) == size * (size - 1)  # every ordered pair of distinct members, and nothing else
        assert all(a != b and klass[a] == klass[b] == c for a, b in pairs[c])
        assert stats.chisquare(list(pairs[c].values())).pvalue > ALPHA


def test_a_draw_by_class_takes_at_most_everyone_left_in_a_class(draw_path):
    pool = NeverJoined(10, np.array([0] * 4 + [1] * 6))
    got = pool.draw_by_class(np.random.default_rng(0), np.array([9, 2]))
    assert np.array_equal(np.sort(got[got < 4]), np.arange(4)) and np.count_nonzero(got >= 4) == 2
    assert list(pool.length) == [0, 4] and pool.size == 4


def _paid(paid, segments=None):
    market = {"size": 1_000}
    if segments:
        market["segments"] = segments
    return {
        "name": "t",
        "horizon_days": 5,
        "market": market,
        "strategies": {
            "s": {
                "channels": [{"type": "messenger", "engagement": {"probability": 0.1}, "acquisition": {"paid": paid}}]
            }
        },
    }


@pytest.mark.parametrize(
    ("paid", "messages"),
    [
        ({"budget_per_day": 10}, ["paid.cost_per_subscriber: required key is missing"]),
        ({"budget_per_day": 10, "cpm": 5}, ["paid.conversion_probability: required key is missing"]),
        (
            {"budget_per_day": 10, "cost_per_subscriber": 1, "cpm": 5},
            ["paid.cpm: unknown key 'cpm' (allowed: budget_per_day, cost_per_subscriber)"],
        ),
        (
            {"budget_per_day": 10, "cpm": 5, "conversion_probability": 0.1, "target": ["loyl"]},
            ["paid.target: no segment named 'loyl' (did you mean 'loyal'?); segments: loyal, casual; or use 'market'"],
        ),
        (
            {"budget_per_day": 10, "cpm": 5, "conversion_probability": 0.1, "target": ["loyal", "market"]},
            ["paid.target: 'market' is a target of its own, not a segment: use target: market"],
        ),
        (
            {"budget_per_day": 10, "cpm": 5, "conversion_probability": 1.5},
            ["paid.conversion_probability: Input should be less than or equal to 1 (got 1.5)"],
        ),
    ],
)
def test_the_two_paid_forms_are_told_apart_by_their_keys(paid, messages):
    segments = [{"name": "loyal", "share": 0.3}, {"name": "casual", "share": 0.7}]
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(_paid(paid, segments))
    got = [str(p).split("acquisition.", 1)[1] for p in info.value.problems]
    assert len(got) == len(messages)
    for line, message in zip(got, messages, strict=True):
        assert line.startswith(message), (line, message)


def test_the_impression_form_meets_the_channel_contract():
    check_channel(
        MessengerChannel,
        {
            "initial_subscribers": 200,
            "acquisition": {
                "organic_per_day": 3,
                "paid": {"budget_per_day": 5, "cpm": 8.0, "conversion_probability": 0.05},
            },
            "broadcasts": {"every_days": 3},
            "engagement": {"probability": 0.2},
            "relevance_uplift": 0.3,
        },
    )


def test_flat_paid_acquisition_costs_its_price_per_member(scenario_factory):
    sc = scenario_factory(
        [messenger(acquisition={"paid": {"budget_per_day": 30, "cost_per_subscriber": 1.5}})], size=1_000, horizon=60
    )
    result = Simulation(sc, "s", 0).run()
    joined = result.series["messenger", "joined_paid"]
    assert joined.sum() == 1_000  # 20 a day until the market runs out on day 50
    assert np.array_equal(result.series["messenger", "paid_spend"], joined * 1.5)
    assert result.series["messenger", "paid_impressions"].sum() == 0


def test_a_large_hand_over_is_subscribed_in_pieces_that_keep_each_person_s_day():
    from reachsim.channels.messenger import _in_pieces

    idx = np.arange(100, 123)
    times, counts = [1.0, 2.0, 3.0, 4.0], [5, 0, 11, 7]
    pieces = list(_in_pieces(idx, times, counts, 4))
    assert all(part.size <= 4 and sum(n) == part.size for part, _, n in pieces)
    np.testing.assert_array_equal(np.concatenate([part for part, _, _ in pieces]), idx)
    np.testing.assert_array_equal(np.concatenate([np.repeat(t, n) for _, t, n in pieces]), np.repeat(times, counts))
    (whole,) = _in_pieces(idx, times, counts, idx.size)  # small enough: as it is
    assert whole[0] is idx and whole[1] is times


def test_organic_sign_ups_drawn_ahead_are_poisson_each_day_and_follow_a_timeline_change(scenario_factory):
    # The days' organic counts are drawn ahead in blocks (reachsim.channels.acquisition.AHEAD); a change of the
    # rate on day 300 must apply from that day, not from the end of a block drawn at the old rate.
    days, change, low, high = 600, 300, 6.0, 25.0
    sc = scenario_factory(
        [messenger(acquisition={"organic_per_day": low})],
        size=200_000,
        horizon=days,
        timeline=[{"day": change, "channel": "messenger", "set": {"acquisition.organic_per_day": high}}],
    )
    joined = Simulation(sc, "s", 0).run().series["messenger", "joined_organic"]
    z = stats.norm.isf(ALPHA / 2)
    for counts, rate in ((joined[:change], low), (joined[change:], high)):
        n = counts.size
        assert abs(counts.mean() - rate) < z * math.sqrt(rate / n)
        # the sample variance of a Poisson count: Var(s²) ≈ (λ + 2λ²)/n
        assert abs(counts.var(ddof=1) - rate) < z * math.sqrt((rate + 2 * rate**2) / n)
    first = joined[change : change + AHEAD]  # the new rate from its day on, not once a block at the old one is used
    assert abs(first.mean() - high) < z * math.sqrt(high / AHEAD)
