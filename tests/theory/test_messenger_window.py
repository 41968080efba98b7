"""Messenger's messaging window in continuous time, through the whole engine, against closed forms.

A delivery at ``t`` is in the window when the subscriber's latest action lies in ``(t − w, t]``. Inbound
conversations are a Poisson process per subscriber, so the in-window share is ``1 − exp(−c·w/8760)``
(:func:`reachsim.model.window.in_window_share`). Statistical tolerances are 4 standard errors of a binomial share
(deliveries more than ``w`` apart see disjoint intervals, so they are independent); the window's edges are checked
exactly, to the second.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from reachsim.channels import topics
from reachsim.engine.simulation import Simulation
from reachsim.model.window import in_window_share
from tests.conftest import build_scenario

Z = 4.0
SECOND = 1 / 86_400
GRID = 2.0**-20  # schedules are snapped to this grid (reachsim.engine.clock): times on it are kept exactly


def quiet_messenger(**overrides):
    """Subscribers who never engage, so only the actions under test open windows."""
    channel = {"type": "messenger", "engagement": {"probability": 0.0}}
    channel.update(overrides)
    return channel


def share_and_se(series, days):
    deliveries = series["messenger", "deliveries"][days].sum()
    in_window = series["messenger", "in_window"][days].sum()
    return in_window / deliveries, deliveries


@pytest.fixture(scope="module")
def weekly_shares():
    """In-window share of weekly broadcasts for windows of 24, 36 and 48 hours (and 6 hours, below)."""
    S, c, k = 40_000, 36.5, 10  # c/365 = 0.1 conversations a day per subscriber
    out = {}
    for hours in (6, 24, 36, 48):
        sc = build_scenario(
            [
                quiet_messenger(
                    initial_subscribers=S,
                    inbound_conversations_per_year=c,
                    broadcasts={"every_days": 7, "first_day": 7},  # every broadcast has more than w behind it
                    pricing={"window_hours": hours},
                )
            ],
            size=S,
            horizon=7 * (k + 1),
        )
        series = Simulation(sc, "s", 0).run().series
        days = np.flatnonzero(series["messenger", "deliveries"])
        assert days.tolist() == [7 * (i + 1) for i in range(k)]
        out[hours] = share_and_se(series, days)
    return c, out


def test_in_window_share_is_1_minus_exp_of_c_w_over_8760(weekly_shares):
    c, shares = weekly_shares
    expected = {w: float(in_window_share(c, w)) for w in (24, 36, 48)}
    for w, value in expected.items():
        share, n = shares[w]
        se = math.sqrt(value * (1 - value) / n)
        assert abs(share - value) < Z * se, (w, share, value, se)
        assert math.isclose(value, 1 - math.exp(-c * w / 8760))
    # the three windows are many standard errors apart, so the check tells them apart
    se = {w: math.sqrt(v * (1 - v) / shares[w][1]) for w, v in expected.items()}
    assert min(expected[36] - expected[24], expected[48] - expected[36]) > 30 * max(se.values())
    # and a whole-day model (a day's conversations stamped at its start, w = 24 counting that day's alone: a share
    # of c/365) would be visibly off even at 24 hours
    assert abs(expected[24] - c / 365) > 8 * se[24]


def test_conversations_after_the_broadcast_do_not_count(weekly_shares):
    """A 6-hour window at broadcasts at midnight sees only the 6 hours before: conversations later that day (had
    they been stamped at the day's start) would make the share about c/365, four times as much."""
    c, shares = weekly_shares
    share, n = shares[6]
    value = float(in_window_share(c, 6))
    se = math.sqrt(value * (1 - value) / n)
    assert abs(share - value) < Z * se, (share, value, se)
    assert c / 365 - value > 50 * se


def test_conversations_start_when_the_subscriber_joins(scenario_factory):
    """People who opt in at 12:00 have had 12 hours to write by a broadcast at midnight: with a 24-hour window
    their share is 1 − exp(−c·0.5/365), not the 1 − exp(−c/365) of subscribers who were there all day."""
    N, c, joined_at = 5_000, 730.0, 20.5
    sc = scenario_factory(
        [quiet_messenger(inbound_conversations_per_year=c, broadcasts={"every_days": 1}, pricing={"window_hours": 24})],
        size=N,
        horizon=22,
    )
    sim = Simulation(sc, "s", 0)

    def optin():  # type: ignore[no-untyped-def]
        yield sim.env.timeout(joined_at)
        sim.bus.publish(topics.MESSENGER_OPTIN, idx=np.arange(N), t=sim.env.now, source="page")

    sim.env.process(optin())
    series = sim.run().series
    assert series["messenger", "deliveries"][21] == N
    share = series["messenger", "in_window"][21] / N
    value = float(in_window_share(c, 24, since_days=21 - joined_at))
    se = math.sqrt(value * (1 - value) / N)
    assert abs(share - value) < Z * se, (share, value, se)
    assert float(in_window_share(c, 24)) - value > 20 * se


def test_acquired_subscribers_have_written_since_their_own_join_day(scenario_factory):
    """Subscribers acquired day by day are handed over at the broadcast, each with the conversations of its own
    time since joining: with a window of a week, one who joined on day d is in the window of the broadcast at
    day 7 with probability 1 − exp(−c·(7 − d)/365). Joins per day come from the run; the in-window count is a
    sum of independent Bernoulli trials with those chances."""
    c, rate, first = 73.0, 3_000.0, 7  # 0.2 conversations a day per subscriber
    sc = scenario_factory(
        [
            quiet_messenger(
                initial_subscribers=0,
                acquisition={"organic_per_day": rate},
                inbound_conversations_per_year=c,
                broadcasts={"every_days": 100, "first_day": first},  # one broadcast
                pricing={"window_hours": 24 * first},
            )
        ],
        size=200_000,
        horizon=first + 1,
    )
    expected = variance = 0.0
    observed = deliveries = 0
    for replication in range(3):
        series = Simulation(sc, "s", replication).run().series
        joined = series["messenger", "joined"][: first + 1]
        p = -np.expm1(-c / 365.0 * (first - np.arange(first + 1)))
        expected += float(joined @ p)
        variance += float(joined @ (p * (1 - p)))
        observed += int(series["messenger", "in_window"][first])
        deliveries += int(series["messenger", "deliveries"][first])
        assert series["messenger", "deliveries"][first] == joined.sum()
    assert abs(observed - expected) <= Z * math.sqrt(variance), (observed, expected, math.sqrt(variance))
    assert 0.2 * deliveries < observed < 0.8 * deliveries  # the test can tell a wrong join day from a right one


# -- actions published on the bus (a support chat): exact times -------------------------------------------------


def run_with_actions(scenario_factory, actions, broadcasts, *, window_hours=24.0, horizon=None, S=100):
    """Broadcasts at the given times (one strategy each) to S silent subscribers; ``actions`` are
    ``(published_at, dated, rows)``. Returns the in-window count of each broadcast."""
    horizon = horizon or math.ceil(max(broadcasts)) + 1
    strategies = {
        f"b{i}": [
            quiet_messenger(
                initial_subscribers=S,
                broadcasts={"every_days": horizon, "first_day": t},  # one broadcast
                pricing={"window_hours": window_hours},
            )
        ]
        for i, t in enumerate(broadcasts)
    }
    sc = scenario_factory(strategies, size=S, horizon=horizon)
    counts = []
    for i, t in enumerate(broadcasts):
        sim = Simulation(sc, f"b{i}", 0)

        def publish(sim=sim):  # type: ignore[no-untyped-def]
            for published_at, dated, rows in sorted(actions, key=lambda a: a[0]):
                yield sim.env.timeout(published_at - sim.env.now)  # before the channels' events at that time
                sim.bus.publish(topics.MESSENGER_USER_ACTION, idx=np.asarray(rows, dtype=np.int64), t=dated)

        sim.env.process(publish())
        series = sim.run().series
        assert series["messenger", "deliveries"][int(t)] == S, t
        counts.append(int(series["messenger", "in_window"][int(t)]))
    return counts


def test_a_support_chat_opens_the_window_from_its_exact_time(scenario_factory):
    """A chat at t_a opens (t_a, t_a + w] to the second, near day 1000 too (where a float32 time is only good to
    about 5 s): in at t_a itself and one second before the close, out at the close and one second after."""
    t_a = 1000 + (4915 * 64 + 29) * GRID  # ≈ 1000.3; t_a + 1 lies 29 grid steps (≈ 2.4 s) above a float32 value
    chat = [(t_a, t_a, range(10))]
    close = t_a + 1.0
    assert float(np.float32(close)) < close - SECOND  # what a float32 column would have cut the window to
    edges = [t_a, close - 12 * GRID, close, close + 12 * GRID]  # 12 grid steps ≈ 1 s
    assert run_with_actions(scenario_factory, chat, edges) == [10, 10, 0, 0]


def test_an_earlier_action_reported_late_does_not_shorten_the_window(scenario_factory):
    """A chat at 2.5, then one dated 2.3 that arrives at 2.6: the window runs from the latest action, 2.5."""
    actions = [(2.5, 2.5, range(10)), (2.6, 2.3, range(5))]
    assert run_with_actions(scenario_factory, actions, [3.25, 3.4, 3.5]) == [10, 10, 0]


def test_an_action_dated_after_the_broadcast_does_not_count_for_it(scenario_factory):
    """An action published at 5.0 but dated 5.5 opens the window at 5.5: not for a broadcast at 5.25, but for
    those in (5.5, 6.5]."""
    actions = [(5.0, 5.5, range(10))]
    assert run_with_actions(scenario_factory, actions, [5.25, 5.75, 6.4, 6.5]) == [0, 10, 10, 0]


# -- a day's actions published at once (a support channel's day): held until their times --------------------------


def in_window_with_events(events, *, size, broadcast_at, **messenger):
    """One broadcast at ``broadcast_at`` to a quiet Messenger channel; ``events`` are ``(at, topic, payload)``
    published on the bus at ``at`` (before the channels' events at that time). Returns (deliveries, in window)."""
    horizon = math.ceil(broadcast_at) + 1
    channel = quiet_messenger(broadcasts={"every_days": horizon, "first_day": broadcast_at}, **messenger)
    sim = Simulation(build_scenario([channel], size=size, horizon=horizon), "s", 0)

    def publish():  # type: ignore[no-untyped-def]
        for at, topic, payload in events:
            yield sim.env.timeout(at - sim.env.now)
            sim.bus.publish(topic, **payload)

    sim.env.process(publish())
    series = sim.run().series
    day = int(broadcast_at)
    return int(series["messenger", "deliveries"][day]), int(series["messenger", "in_window"][day])


def test_actions_published_ahead_count_from_their_own_times():
    """One batch published at 5.0 with one time per person: those dated before the broadcast at 5.75 open their
    window for it, those dated after it do not; a person with two actions keeps the latest before it."""
    rows = np.arange(100)
    times = np.where(rows < 60, 5.5, 5.9)
    rows, times = np.concatenate([rows, [70, 71]]), np.concatenate([times, [5.1, 5.6]])  # 70: 5.9 and 5.1
    events = [(5.0, topics.MESSENGER_USER_ACTION, {"idx": rows, "t": times})]
    deliveries, in_window = in_window_with_events(events, size=100, broadcast_at=5.75, initial_subscribers=100)
    assert (deliveries, in_window) == (100, 60 + 2)  # 70 by its 5.1, 71 by its 5.6 (its 5.9 comes later)
    # at 6.55 the 24-hour windows opened at 5.5 have closed, those opened later (held at 5.75) are open
    assert in_window_with_events(events, size=100, broadcast_at=6.55, initial_subscribers=100)[1] == 100 - 60


def test_a_held_action_counts_for_those_who_joined_before_it_and_no_one_else():
    """Opt-ins at 5.3 between a batch published at 5.0 and its actions: an action dated 5.2 finds its person not
    yet subscribed (no window), one dated 5.5 finds them subscribed (window open at 5.75)."""
    joiners = np.arange(50)
    events = [
        (5.0, topics.MESSENGER_USER_ACTION, {"idx": joiners, "t": np.where(joiners < 20, 5.2, 5.5)}),
        (5.3, topics.MESSENGER_OPTIN, {"idx": joiners, "t": 5.3, "source": "page"}),
    ]
    assert in_window_with_events(events, size=200, broadcast_at=5.75) == (50, 30)


def test_a_held_action_counts_for_those_acquired_before_it():
    """Everyone acts at 5.5 (published at 5.0, before the day's acquisition at 5.0): at 5.75 every subscriber, those
    acquired at 5.0 included, has the window open."""
    everyone = np.arange(2_000)
    events = [(5.0, topics.MESSENGER_USER_ACTION, {"idx": everyone, "t": np.full(everyone.size, 5.5)})]
    deliveries, in_window = in_window_with_events(
        events, size=2_000, broadcast_at=5.75, initial_subscribers=100, acquisition={"organic_per_day": 50}
    )
    assert deliveries > 300  # the initial base and six days of acquisition
    assert in_window == deliveries


def test_a_batch_dated_in_the_past_keeps_each_persons_latest_action():
    """Published at 5.95 with both actions past and the later one listed first: the window runs from 5.9, so a
    24-hour window at 6.5 holds it (from 5.1 it would have closed)."""
    events = [(5.95, topics.MESSENGER_USER_ACTION, {"idx": np.array([0, 0]), "t": np.array([5.9, 5.1])})]
    assert in_window_with_events(events, size=10, broadcast_at=6.5, initial_subscribers=10) == (10, 1)


def test_held_actions_are_applied_day_by_day_without_broadcasts_or_joins():
    """A channel with nothing but held actions keeps only those not yet due (none pile up over the days)."""
    horizon = 6
    sim = Simulation(build_scenario([quiet_messenger(initial_subscribers=10)], size=10, horizon=horizon), "s", 0)
    (channel,) = sim.channels

    def publish():  # type: ignore[no-untyped-def]
        for day in range(horizon):
            yield sim.env.timeout(day - sim.env.now)
            sim.bus.publish(topics.MESSENGER_USER_ACTION, idx=np.arange(10), t=day + np.linspace(0.1, 0.9, 10))

    sim.env.process(publish())
    sim.run()
    assert len(channel._later) == 1  # the last day's, after the last daily step


@pytest.mark.parametrize(
    ("every", "hours", "inside"), [(7, 24, False), (7, 8 * 24, True), (1, 48, True), (1, 12, False)]
)
def test_an_engagement_opens_the_window_for_the_next_broadcast_within_it(every, hours, inside):
    """Without conversations, only engagements stamp the window: everyone engages, so every broadcast after the
    first is all in the window when the window is longer than the gap between broadcasts, and none of it when
    shorter (a broadcast that skips counting because nothing is recent enough must not miss the stamps)."""
    S, k = 500, 6
    sc = build_scenario(
        [
            {
                "type": "messenger",
                "initial_subscribers": S,
                "engagement": {"probability": 1.0},
                "unsubscribe": {"probability": 0.0},
                "broadcasts": {"every_days": every, "first_day": every},
                "pricing": {"window_hours": hours},
            }
        ],
        size=S,
        horizon=every * (k + 1),
    )
    series = Simulation(sc, "s", 0).run().series
    days = np.flatnonzero(series["messenger", "deliveries"])
    assert days.size == k and (series["messenger", "deliveries"][days] == S).all()
    in_window = series["messenger", "in_window"][days]
    assert in_window[0] == 0
    assert (in_window[1:] == (S if inside else 0)).all(), in_window
