"""The Page channel: parameters and their validation, engagement and audience dynamics through the engine, the
paid-to-owned flow into Messenger, and the shipped Page scenarios.

Statistical checks compare with the exact expectation given what the run did (e.g. the people actually exposed)
within 4 standard errors.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from reachsim.channels import registry, topics
from reachsim.channels.page import PageChannel, PageParams, Sightings, Uniforms
from reachsim.engine.simulation import RunResult, Simulation
from reachsim.model.exposure import (
    boost_impressions,
    organic_sightings,
    respond,
    uniform_impressions,
)
from reachsim.model.kernels import fatigue_stock_after
from reachsim.scenario.errors import ScenarioError
from reachsim.scenario.load import load_scenario, scenario_from_dict, with_overrides

ROOT = Path(__file__).resolve().parents[2]
Z = 4.0


def page(**fields: Any) -> dict[str, Any]:
    return {"type": "page", "organic_reach": 0.0, "engagement": {"probability": 0.0}, **fields}


def messenger(**fields: Any) -> dict[str, Any]:
    return {"type": "messenger", "engagement": {"probability": 0.1}, **fields}


def scenario(
    *channels: dict[str, Any],
    size: int = 20_000,
    horizon: int = 10,
    segments: list[dict[str, Any]] | None = None,
    timeline: list[dict[str, Any]] | None = None,
    strategies: dict[str, Any] | None = None,
) -> Any:
    market: dict[str, Any] = {"size": size} if segments is None else {"size": size, "segments": segments}
    return scenario_from_dict(
        {
            "name": "page",
            "horizon_days": horizon,
            "audience_value": {"run_out_days": 0},  # these tests read the state at the horizon
            "seed": 3,
            "market": market,
            "strategies": strategies or {"s": {"channels": list(channels), "timeline": timeline or []}},
        }
    )


def run(sc: Any, strategy: str = "s", replication: int = 0) -> tuple[RunResult, Simulation]:
    sim = Simulation(sc, strategy, replication)
    return sim.run(), sim


def assert_bernoulli_sum(observed: float, probabilities: np.ndarray | float, n: int = 1, what: str = "") -> None:
    """``observed`` is a sum of independent Bernoulli(p_i) (``n`` of each when p is a scalar): 4-SE check."""
    p = np.broadcast_to(np.asarray(probabilities, dtype=float), (n,) if np.ndim(probabilities) == 0 else
                        np.shape(probabilities))
    mean, sd = float(p.sum()), math.sqrt(float((p * (1 - p)).sum()))
    assert abs(observed - mean) <= Z * sd + 1e-9, f"{what}: observed {observed}, expected {mean:.6g} ± {Z * sd:.3g}"


def assert_positions_kept(channel: PageChannel) -> None:
    """Every record by row says where its fan is in the fan list (position + 1; 0 for non-fans and leavers)."""
    listed = channel._store.view(np.int32)[:, 2]
    expected = np.zeros_like(listed)
    expected[channel.fan_list[: channel.fans]] = np.arange(1, channel.fans + 1)
    np.testing.assert_array_equal(listed, expected)
    assert not np.any(channel.fan & (channel.left | channel.never_fan))


# -- registration and parameters --------------------------------------------------------------------------------


def test_registered_as_builtin() -> None:
    assert registry.get("page") is PageChannel
    assert registry.BUILTIN["page"] == "reachsim.channels.page:PageChannel"


def test_design_contract_keys() -> None:
    """The page entries of DESIGN.md's scenario contract, verbatim."""
    sc = scenario(
        strategies={
            "page_only": {
                "channels": [
                    {"type": "page", "initial_fans": 4000, "posts": {"every_days": 1}, "organic_reach": 0.06,
                     "boost": {"budget_per_post": 30, "cpm": 9.0, "target": "market"},
                     "engagement": {"probability": 0.02}, "follow_probability": 0.01}
                ],
                "timeline": [{"day": 5, "channel": "page", "set": {"organic_reach": 0.02}}],
            },
            "messenger_push": {
                "channels": [
                    {"type": "page", "initial_fans": 4000, "posts": {"every_days": 1}, "organic_reach": 0.06,
                     "engagement": {"probability": 0.02}, "messenger_optin_probability": 0.05},
                    messenger(broadcasts={"every_days": 7}),
                ]
            },
        }
    )
    for name in sc.strategies:
        result, _ = run(sc, name)
        assert result.series["page", "deliveries"].sum() > 0


def test_posts_schedule_needs_exactly_one_of_every_days_or_per_week() -> None:
    assert PageParams.model_validate(page(posts={"per_week": 3.5})).posts.interval_days == pytest.approx(2.0)
    for posts in ({}, {"every_days": 1, "per_week": 7}):
        with pytest.raises(ScenarioError, match="give exactly one of every_days"):
            scenario(page(posts=posts))


def test_per_week_schedule_posts_every_7_over_n_days() -> None:
    result, _ = run(scenario(page(initial_fans=100, organic_reach=1.0, posts={"per_week": 3.5}), horizon=14))
    np.testing.assert_array_equal(result.series["page", "deliveries"], [100, 0] * 7)


def test_messenger_optin_needs_a_messenger_channel() -> None:
    with pytest.raises(ScenarioError) as info:
        scenario(page(messenger_optin_probability=0.05))
    assert str(info.value) == (
        "<scenario>: strategies.s.channels[0].messenger_optin_probability: engaged people can opt in to Messenger "
        "only if the strategy has a messenger channel; add one (type: messenger) or set messenger_optin_probability "
        "to 0"
    )
    scenario(page(messenger_optin_probability=0.05), messenger())  # fine with one


def test_timeline_cannot_switch_on_optins_without_messenger() -> None:
    with pytest.raises(ScenarioError, match=r"timeline\[0\].set.messenger_optin_probability: from day 2, "
                       "messenger_optin_probability: .*messenger channel"):
        scenario(page(posts={"every_days": 1}),
                 timeline=[{"day": 2, "channel": "page", "set": {"messenger_optin_probability": 0.1}}])


def test_boost_target_names_segments_with_did_you_mean() -> None:
    segments = [{"name": "loyal", "share": 0.2}, {"name": "casual", "share": 0.8}]
    with pytest.raises(ScenarioError) as info:
        scenario(page(boost={"budget_per_post": 1, "cpm": 5, "target": ["loyl"]}), segments=segments)
    assert "strategies.s.channels[0].boost.target: no segment named 'loyl' (did you mean 'loyal'?)" in str(info.value)
    with pytest.raises(ScenarioError, match="'fans' is a target of its own"):
        scenario(page(boost={"budget_per_post": 1, "cpm": 5, "target": ["loyal", "fans"]}), segments=segments)
    one = scenario(page(boost={"budget_per_post": 1, "cpm": 5, "target": "loyal"}), segments=segments)
    assert one.strategies["s"].channels[0].boost.target == ["loyal"]


def test_initial_fans_within_the_market() -> None:
    with pytest.raises(ScenarioError, match="initial_fans: 500 fans exceed the market size 100"):
        scenario(page(initial_fans=500), size=100)


# -- engagement: novelty, relevance, fatigue, unfollow ------------------------------------------------------


def test_novelty_of_initial_fans_by_their_age() -> None:
    fans, p, age, half_life, floor = 20_000, 0.3, 20.0, 10.0, 0.2
    sc = scenario(
        page(initial_fans=fans, initial_fan_age_days=age, organic_reach=1.0, posts={"every_days": 1},
             engagement={"probability": p, "novelty": {"half_life_days": half_life, "floor": floor}}),
        size=fans,
        horizon=3,
    )
    result, _ = run(sc)
    for day in range(3):
        novelty = floor + (1 - floor) * 2 ** (-(age + day) / half_life)
        assert_bernoulli_sum(result.series["page", "engagements"][day], p * novelty, fans, f"day {day}")


def test_relevance_uplift_only_where_data_is_available() -> None:
    segments = [
        {"name": "loyal", "share": 0.25, "engagement_multiplier": 2.0, "data_available": 0.5},
        {"name": "casual", "share": 0.75, "engagement_multiplier": 1.0, "data_available": 0.0},
    ]
    size, p, uplift = 40_000, 0.1, 1.5
    sc = scenario(
        page(initial_fans=size, organic_reach=1.0, posts={"every_days": 1}, relevance_uplift=uplift,
             engagement={"probability": p}),
        size=size,
        horizon=1,
        segments=segments,
    )
    result, sim = run(sc)
    multiplier = np.array([2.0, 1.0])[sim.population.segment]
    probability = p * multiplier * np.where(sim.population.has_data, 1 + uplift, 1.0)
    assert sim.population.has_data.sum() == 5_000
    assert_bernoulli_sum(result.series["page", "engagements"][0], probability, what="engagements with uplift")


def test_relevance_uplift_changed_by_timeline() -> None:
    """The multipliers kept per person (times the base probability) follow a timeline change of relevance_uplift,
    for fans and non-fans."""
    segments = [
        {"name": "loyal", "share": 0.25, "engagement_multiplier": 2.0, "data_available": 0.5},
        {"name": "casual", "share": 0.75, "engagement_multiplier": 1.0, "data_available": 0.0},
    ]
    size, fans, p, uplift = 40_000, 20_000, 0.1, 1.5
    sc = scenario(
        page(initial_fans=fans, organic_reach=1.0, posts={"every_days": 1}, engagement={"probability": p}),
        size=size,
        horizon=2,
        segments=segments,
        timeline=[{"day": 1, "channel": "page", "set": {"relevance_uplift": uplift}}],
    )
    result, sim = run(sc)
    channel = sim.channels[0]
    fan = channel.fan
    multiplier = np.array([2.0, 1.0])[sim.population.segment[fan]]
    has_data = sim.population.has_data[fan]
    engaged = result.series["page", "engagements"]
    assert_bernoulli_sum(engaged[0], p * multiplier, what="day 0, no uplift")
    expected = p * multiplier * np.where(has_data, 1 + uplift, 1.0)
    assert_bernoulli_sum(engaged[1], expected, what="day 1, uplift")
    stored = channel._column(1)  # every consumer's base × multiplier, fans' and others' records alike
    everyone = np.array([2.0, 1.0])[sim.population.segment] * np.where(sim.population.has_data, 1 + uplift, 1.0)
    np.testing.assert_allclose(stored, p * everyone, rtol=1e-6)


def test_engagement_probability_changed_by_timeline() -> None:
    """The base probability kept in every record (times the multiplier) follows a timeline change, for fans and
    non-fans, and posts engage with the new one."""
    segments = [
        {"name": "loyal", "share": 0.25, "engagement_multiplier": 2.0},
        {"name": "casual", "share": 0.75, "engagement_multiplier": 1.0},
    ]
    size, fans, p, later = 40_000, 20_000, 0.1, 0.03
    sc = scenario(
        page(initial_fans=fans, organic_reach=1.0, posts={"every_days": 1}, engagement={"probability": p}),
        size=size,
        horizon=2,
        segments=segments,
        timeline=[{"day": 1, "channel": "page", "set": {"engagement.probability": later}}],
    )
    result, sim = run(sc)
    channel = sim.channels[0]
    multiplier = np.array([2.0, 1.0])[sim.population.segment]
    engaged = result.series["page", "engagements"]
    assert_bernoulli_sum(engaged[0], p * multiplier[channel.fan], what="day 0")
    assert_bernoulli_sum(engaged[1], later * multiplier[channel.fan], what="day 1")
    np.testing.assert_allclose(channel._column(1), later * multiplier, rtol=1e-6)


def test_fatigue_across_posts_and_unfollow_hazard() -> None:
    """Every fan sees every daily post: the k-th post sees the stock F_k = r + … + r^k for all remaining fans."""
    fans, p, s, h, u, fs, k = 40_000, 0.3, 0.5, 2.0, 0.01, 1.0, 8
    sc = scenario(
        page(initial_fans=fans, organic_reach=1.0, posts={"every_days": 1},
             engagement={"probability": p, "fatigue": {"half_life_days": h, "strength": s}},
             unfollow={"probability": u, "fatigue_strength": fs}),
        size=fans,
        horizon=k,
    )
    result, _ = run(sc)
    audience = result.series["page", "audience"]
    for day in range(k):
        alive = fans if day == 0 else int(audience[day - 1])
        stock = float(fatigue_stock_after(day, 1.0, h))
        assert result.series["page", "deliveries"][day] == alive
        assert_bernoulli_sum(result.series["page", "engagements"][day], p * math.exp(-s * stock), alive,
                             f"engagements, post {day}")
        assert_bernoulli_sum(result.series["page", "left"][day], u * (1 + fs * stock), alive, f"unfollows, post {day}")
    assert audience[-1] == fans - result.series["page", "left"].sum()


@pytest.mark.parametrize(("size", "boost_from", "whole_store"), [(40_000, None, False), (40_000, 60, True),
                                                                  (6_000, None, True)])
def test_rebase_of_held_stocks_as_of_the_whole_market(monkeypatch: pytest.MonkeyPatch, size: int,
                                                      boost_from: int | None, whole_store: bool) -> None:
    """Until a boost reaches non-fans only those who unfollowed hold a stock by population row, so a rebase passes
    over their rows alone; over the whole store once a boost (switched on here by the timeline) has reached others,
    or once they are an eighth of the market. Every stock, and every series, is what passes over the whole market
    give."""
    boost_on = {"day": boost_from, "channel": "page", "set": {"boost.budget_per_post": 5.0}}
    timeline = [] if boost_from is None else [boost_on]
    sc = scenario(
        page(initial_fans=3_000, organic_reach=1.0, posts={"every_days": 1},
             engagement={"probability": 0.1, "fatigue": {"half_life_days": 0.5, "strength": 0.5}},
             unfollow={"probability": 0.01, "fatigue_strength": 1.0},
             boost={"budget_per_post": 0.0, "cpm": 10.0, "target": "market"}),
        size=size,
        horizon=150,  # 300 half-lives: three rebases, and the first leavers' stocks fall to 0
        timeline=timeline,
    )
    result, sim = run(sc)
    page_channel = sim.channels[0]
    assert (page_channel._held_rows() is None) == whole_store  # the rows of those who left, or the market
    fatigue = page_channel.fatigue
    held = fatigue[page_channel.left]
    assert np.count_nonzero(held) > 100 and np.count_nonzero(held == 0) > 0

    start = PageChannel.start

    def start_as_if_boosted(channel: PageChannel) -> None:
        start(channel)
        channel._nonfans_exposed = True  # every rebase passes over the whole market

    monkeypatch.setattr(PageChannel, "start", start_as_if_boosted)
    whole, whole_sim = run(sc)
    np.testing.assert_array_equal(whole_sim.channels[0].fatigue, fatigue)
    for key, series in result.series.items():
        np.testing.assert_array_equal(whole.series[key], series, err_msg=str(key))


def test_fatigue_within_one_boost() -> None:
    """Impressions of one person at one instant see the stock 0, 1, 2, …: E = Σ_i Σ_(j < c_i) p·e^(−s·j)."""
    size, p, s = 20_000, 0.4, 0.7
    sc = scenario(
        page(posts={"every_days": 1}, boost={"budget_per_post": 400, "cpm": 10, "target": "market"},
             engagement={"probability": p, "fatigue": {"half_life_days": 3, "strength": s}}),
        size=size,
        horizon=1,
    )
    result, sim = run(sc)
    counts = sim.channels[0].exposures().astype(int)
    assert counts.sum() == 40_000 and counts.max() > 3
    probability = np.concatenate([np.full(np.count_nonzero(counts > j), p * math.exp(-s * j))
                                  for j in range(counts.max())])
    assert_bernoulli_sum(result.series["page", "engagements"][0], probability, what="engagements within a boost")
    np.testing.assert_allclose(sim.channels[0].fatigue, counts)  # F ← F + 1 per impression


def test_unfollows_within_one_boost() -> None:
    """A fan's impressions of one post see the stocks 0, 1, 2, … and each carries the unfollow hazard
    u·(1 + fs·j) independently: a fan with c impressions unfollows with 1 − Π_(j < c) (1 − u·(1 + fs·j))."""
    size, u, fs = 20_000, 0.01, 1.5
    sc = scenario(
        page(initial_fans=size, posts={"every_days": 1}, boost={"budget_per_post": 600, "cpm": 10, "target": "fans"},
             engagement={"probability": 0.2, "fatigue": {"half_life_days": 3, "strength": 0.4}},
             unfollow={"probability": u, "fatigue_strength": fs}),
        size=size,
        horizon=1,
    )
    result, sim = run(sc)
    counts = sim.channels[0].exposures().astype(int)
    assert counts.sum() == 60_000 and counts.max() > 4
    stay = np.cumprod([1 - u * (1 + fs * j) for j in range(counts.max())])
    probability = 1 - stay[counts[counts > 0] - 1]
    assert_bernoulli_sum(result.series["page", "left"][0], probability, what="unfollows within a boost")


@pytest.mark.parametrize("target", ["fans", "market"])
def test_fatigue_of_fans_both_sighted_and_boosted(target: str) -> None:
    """A fan sighted organically and boosted by the same post has one row with all its deliveries: the stocks
    0, 1, 2, … in turn, E = Σ_i Σ_(j < c_i) p·e^(−s·j) over everyone's exposures c_i (fans and non-fans alike)."""
    size, p, s = 20_000, 0.4, 0.7
    sc = scenario(
        page(initial_fans=6_000, organic_reach=0.5, posts={"every_days": 1},
             boost={"budget_per_post": 120, "cpm": 10, "target": target},
             engagement={"probability": p, "fatigue": {"half_life_days": 3, "strength": s}}),
        size=size,
        horizon=1,
    )
    result, sim = run(sc)
    channel = sim.channels[0]
    counts = channel.exposures().astype(int)
    fans = channel.fan_list[: channel.fans]
    assert counts.sum() == result.series["page", "deliveries"][0] and np.count_nonzero(counts[fans] > 2) > 100
    probability = np.concatenate([np.full(np.count_nonzero(counts > j), p * math.exp(-s * j))
                                  for j in range(counts.max())])
    assert_bernoulli_sum(result.series["page", "engagements"][0], probability, what="engagements of one post")
    np.testing.assert_allclose(channel.fatigue, counts)  # F ← F + 1 per delivery
    assert_positions_kept(channel)


# -- audience: follows, unfollows, organic growth, other channels -----------------------------------------------


def test_engaged_non_fans_follow() -> None:
    size, f = 50_000, 0.3
    sc = scenario(
        page(posts={"every_days": 1}, boost={"budget_per_post": 100, "cpm": 10, "target": "market"},
             engagement={"probability": 1.0}, follow_probability=f),
        size=size,
        horizon=1,
    )
    result, sim = run(sc)
    reached = int(result.series["page", "reached"][0])  # everyone reached engaged (p = 1)
    joined = result.series["page", "joined_boost"][0]
    assert_bernoulli_sum(joined, f, reached, "follows")
    assert result.series["page", "audience"][0] == joined == result.series["page", "joined"][0]
    assert np.all(sim.channels[0].exposures()[sim.channels[0].fan] > 0)


def test_who_unfollowed_never_follows_again() -> None:
    fans, size = 5_000, 10_000
    with pytest.raises(ScenarioError, match="'boost' is not set"):
        scenario(page(), timeline=[{"day": 1, "channel": "page", "set": {"boost.cpm": 1.0}}])
    sc = scenario(
        page(initial_fans=fans, organic_reach=1.0, posts={"every_days": 1}, unfollow={"probability": 1.0},
             boost={"budget_per_post": 0.0, "cpm": 1.0, "target": "market"}),
        size=size,
        horizon=3,
        timeline=[{"day": 1, "channel": "page", "set": {"organic_reach": 0.0, "engagement.probability": 1.0,
                                                           "follow_probability": 1.0, "boost.budget_per_post": 20.0,
                                                           "unfollow.probability": 0.0}}],
    )
    result, sim = run(sc)
    channel = sim.channels[0]
    assert result.series["page", "left"][0] == fans
    assert channel.left.sum() == fans
    assert not np.any(channel.fan & channel.left)
    assert result.series["page", "joined_boost"].sum() == channel.fan.sum() > 0


def test_organic_fan_growth_is_poisson() -> None:
    rate, days = 40.0, 50
    result, sim = run(scenario(page(organic_fans_per_day=rate), size=20_000, horizon=days))
    joined = result.series["page", "joined_organic"].sum()
    assert abs(joined - rate * days) <= Z * math.sqrt(rate * days)
    assert sim.channels[0].fans == joined == result.series["page", "audience"][-1]


def test_organic_fans_named_at_the_next_post_are_fans_since_their_own_day() -> None:
    """A day's organic fans are drawn as a count and named at the next post in one draw with the other days since:
    each is a fan since their own day (their novelty runs from it), the day-end audience counts them from their
    day on, and none of them was a fan before (those named are distinct never-fans)."""
    rate, days = 30.0, 40
    sc = scenario(page(organic_fans_per_day=rate, posts={"every_days": 3.5}), size=5_000, horizon=days)
    result, sim = run(sc)
    channel = sim.channels[0]
    joined = result.series["page", "joined_organic"]
    assert joined.sum() > 0 and np.unique(channel.fan_list[: channel.fans]).size == channel.fans == joined.sum()
    since = channel._fan_store[: channel.fans, 2]
    assert np.all(since == np.floor(since))
    np.testing.assert_array_equal(np.bincount(since.astype(np.int64), minlength=days), joined)
    np.testing.assert_array_equal(result.series["page", "audience"], np.cumsum(joined))


def test_organic_fans_do_not_depend_on_when_they_are_named() -> None:
    """Common random numbers: two strategies whose Pages differ only in how often they post (so in when the days'
    organic fans are named, a week's worth at once in one, over FEW_ROWS) name the same organic fans on the same
    days."""
    days = 60
    fans = []
    for every in (1.0, 7.0):
        sc = scenario(page(organic_fans_per_day=60.0, organic_reach=0.0, posts={"every_days": every}),
                      size=50_000, horizon=days)
        channel = run(sc)[1].channels[0]
        listed = channel.fan_list[: channel.fans]
        fans.append(dict(zip(listed.tolist(), channel._fan_store[: channel.fans, 2].tolist(), strict=True)))
    assert len(fans[0]) > 60 * (days - 7) and fans[0] == fans[1]


def test_an_organic_post_names_the_pending_fans_only_when_it_must(monkeypatch: pytest.MonkeyPatch) -> None:
    """A post without paid impressions names the pending organic fans only if it reaches one of them or a fan
    unfollows; the run is the one of a Page that names them at every post: the same series, fan list, positions,
    exposures and stocks. Both ways happen: posts that name them and posts that leave them pending."""
    sc = scenario(page(initial_fans=2_000, organic_fans_per_day=4.0, organic_reach=0.05, posts={"every_days": 1},
                       engagement={"probability": 0.05, "fatigue": {"half_life_days": 2, "strength": 0.1}},
                       unfollow={"probability": 0.0005, "fatigue_strength": 1.0}), size=20_000, horizon=120)
    post, pending_after = PageChannel._post, []

    def post_and_watch(self: PageChannel, t: float) -> None:
        post(self, t)
        pending_after.append(self._pending)

    def post_after_naming(self: PageChannel, t: float) -> None:
        self._hand_over()
        post(self, t)

    states = []
    for variant in (post_and_watch, post_after_naming):
        monkeypatch.setattr(PageChannel, "_post", variant)
        result, sim = run(sc)
        channel = sim.channels[0]
        series = np.array([values for (name, _), values in sorted(result.series.items()) if name == "page"])
        states.append((series, channel.fan_list[: channel.fans].copy(),
                       channel.fan_position.copy(), channel.exposures(), channel.fatigue))
        assert_positions_kept(channel)
    assert 0 < sum(1 for n in pending_after if n) < len(pending_after)
    for a, b in zip(*states, strict=True):
        np.testing.assert_array_equal(a, b)


def test_organic_fans_switched_on_by_the_timeline_arrive_from_that_day() -> None:
    rate, days, on = 40.0, 50, 20  # a page without organic fans keeps no daily activity until the timeline asks
    sc = scenario(page(organic_fans_per_day=0), size=20_000, horizon=days,
                  timeline=[{"day": on, "channel": "page", "set": {"organic_fans_per_day": rate}}])
    joined = run(sc)[0].series["page", "joined_organic"]
    assert not joined[:on].any()
    assert abs(joined[on:].sum() - rate * (days - on)) <= Z * math.sqrt(rate * (days - on))
    assert joined[on] > 0


def test_follows_from_other_channels_over_the_bus() -> None:
    _, sim = run(scenario(page(), size=1_000, horizon=2))
    channel = sim.channels[0]
    sim.bus.publish(topics.PAGE_FOLLOW, idx=np.array([3, 5, 5, 7]), t=1.0, source="app")
    assert channel.fans == 3 and channel.fan[[3, 5, 7]].all()


# -- paid media feeding owned media ---------------------------------------------------------------------------


def test_paid_reach_feeds_messenger_over_the_bus() -> None:
    size, m = 50_000, 0.2
    sc = scenario(
        page(posts={"every_days": 1}, boost={"budget_per_post": 100, "cpm": 10, "target": "market"},
             engagement={"probability": 1.0}, messenger_optin_probability=m),
        messenger(acquisition={"organic_per_day": 5, "paid": {"budget_per_day": 20, "cost_per_subscriber": 2.0}}),
        size=size,
        horizon=5,
    )
    sim = Simulation(sc, "s", 0)
    joined_from_page: list[np.ndarray] = []
    real_join = sim.channels[1]._join

    def spy(idx, t, source):
        if source == "page":
            joined_from_page.append(idx.copy())
        real_join(idx, t, source)

    sim.channels[1]._join = spy  # type: ignore[method-assign]  # start() hands the callback to acquisition
    result = sim.run()
    day0_reached = int(result.series["page", "reached"][0])
    optins = result.series["page", "messenger_optins"]
    assert_bernoulli_sum(optins[0], m, day0_reached, "opt-ins")
    joined_page = result.series["messenger", "joined_page"]
    assert joined_page[0] == optins[0]  # nobody had subscribed through the page yet
    assert 0 < joined_page.sum() <= optins.sum()
    sources = ("initial", "organic", "paid", "bass", "page", "other")
    np.testing.assert_array_equal(
        sum(result.series["messenger", f"joined_{s}"] for s in sources), result.series["messenger", "joined"]
    )
    assert result.series["messenger", "joined_paid"].sum() == 5 * 10
    # Every subscriber from the page engaged with a page post.
    page_subscribers = np.concatenate(joined_from_page)
    assert page_subscribers.size == joined_page.sum()
    assert np.all(sim.channels[0].exposures()[page_subscribers] > 0)


def test_common_random_numbers_between_strategies() -> None:
    """The same page in two strategies draws the same numbers, whatever else the strategy has."""
    the_page = page(initial_fans=3_000, organic_reach=0.1, posts={"every_days": 2},
                    boost={"budget_per_post": 20, "cpm": 8, "target": "market"},
                    engagement={"probability": 0.05}, follow_probability=0.2, unfollow={"probability": 0.01})
    sc = scenario(strategies={"a": {"channels": [the_page]},
                              "b": {"channels": [the_page, messenger(broadcasts={"every_days": 3})]}}, horizon=20)
    a, _ = run(sc, "a")
    b, _ = run(sc, "b")
    for metric in ("deliveries", "engagements", "joined", "left", "audience", "impressions_paid"):
        np.testing.assert_array_equal(a.series["page", metric], b.series["page", metric])
    again, _ = run(sc, "a")
    for key, series in a.series.items():
        np.testing.assert_array_equal(series, again.series[key])


# -- the exposure kernels ---------------------------------------------------------------------------------------


def test_organic_sightings_subset() -> None:
    rng = np.random.default_rng(0)
    audience = np.arange(10, 100_010, 10)
    seen = organic_sightings(rng, audience, 0.3)
    assert np.all(np.diff(seen) > 0) and np.isin(seen, audience).all()
    assert abs(seen.size - 3_000) <= Z * math.sqrt(10_000 * 0.21)
    assert organic_sightings(rng, audience, 0.0).size == 0
    np.testing.assert_array_equal(organic_sightings(rng, audience, 1.0), audience)


@pytest.mark.parametrize("block", [1, 16, 4096])
def test_uniforms_handed_out_in_turn_are_the_streams_numbers(block: int) -> None:
    """Taking pieces of any sizes (0, under, across and over a block) gives the stream's numbers in order, as
    drawing each piece then would."""
    uniforms = Uniforms(np.random.default_rng(12), block)
    sizes = [0, 3, 1, 40, 16, 0, 100, 7, 2_000, 5]
    pieces = [uniforms.take(n) for n in sizes]
    assert [piece.size for piece in pieces] == sizes
    np.testing.assert_array_equal(np.concatenate(pieces), np.random.default_rng(12).random(sum(sizes)))
    fresh = np.random.default_rng(12)
    for n, piece in zip(sizes, pieces, strict=True):
        np.testing.assert_array_equal(piece, fresh.random(n))


class _FewGapsAtATime(Sightings):
    """Sightings drawn eight gaps at a time: a post spans several blocks, and most posts start a fresh one."""

    BLOCK = 8


@pytest.mark.parametrize("kind", [Sightings, _FewGapsAtATime])
def test_sightings_drawn_ahead_are_independent_within_and_across_posts(kind: type[Sightings]) -> None:
    """Posts to audiences of changing sizes from one stream of gaps: each watched position (first, middle, last)
    is seen with probability r, the first and last of a post together with r², and the last of a post and the first
    of the next together with r² (a gap that passed a post's audience is not reused), within 4 SE."""
    sightings = kind(np.random.default_rng(31))
    r, posts = 0.2, 20_000
    sizes = [7, 40, 300]
    hits = np.zeros((len(sizes), 3), dtype=np.int64)
    pair = across = 0
    last_seen = False
    for post in range(posts):
        n = sizes[post % len(sizes)]
        at = sightings.positions(n, r)
        assert np.all(np.diff(at) > 0) and (at.size == 0 or (at[0] >= 0 and at[-1] < n))
        got = set(at.tolist())
        seen = [0 in got, n // 2 in got, n - 1 in got]
        hits[post % len(sizes)] += seen
        pair += int(seen[0] and seen[2])
        across += int(last_seen and seen[0])
        last_seen = bool(seen[2])
    each = posts / len(sizes)
    assert np.all(np.abs(hits - each * r) <= Z * math.sqrt(each * r * (1 - r)))
    for observed, trials in ((pair, posts), (across, posts - 1)):
        assert abs(observed - trials * r * r) <= Z * math.sqrt(trials * r * r * (1 - r * r))
    r_low = Sightings.LOWEST_R / 2  # drawn post by post: the same law
    low = sum(sightings.positions(1_000, r_low).size for _ in range(2_000))
    assert abs(low - 2_000_000 * r_low) <= Z * math.sqrt(2_000_000 * r_low * (1 - r_low))


def test_uniform_impressions_and_merge() -> None:
    rng = np.random.default_rng(1)
    for target, impressions in ((1_000, 50), (1_000, 5_000)):  # sorting and counting paths
        positions, counts = uniform_impressions(rng, target, impressions)
        assert counts.sum() == impressions and np.all(np.diff(positions) > 0) and positions.max() < target
    for target, impressions in ((1_000, 120), (200_000, 2_098), (7, 1)):  # the sorting path is np.unique's count
        positions, counts = uniform_impressions(np.random.default_rng(2), target, impressions)
        hits = (np.random.default_rng(2).random(impressions) * target).astype(np.int64)  # ⌊U·T⌋
        expected, expected_counts = np.unique(hits, return_counts=True)
        np.testing.assert_array_equal(positions, expected)
        np.testing.assert_array_equal(counts, expected_counts)


@pytest.mark.parametrize("target", [7, 1_000, 200_000])
def test_uniform_impressions_land_uniformly_within_the_target(target: int) -> None:
    """Each impression lands on each position with probability 1/T: the impressions on the first, a middle and the
    last position, and on the lower half, are Binomial(N, share) within 4 standard errors; the largest uniform
    below 1 still gives a position below T."""
    n = 2_000_000
    positions, counts = uniform_impressions(np.random.default_rng(5), target, n)
    per_position = np.zeros(target, dtype=np.int64)
    per_position[positions] = counts
    half = per_position[: target // 2].sum()
    for observed, share in ((per_position[0], 1 / target), (per_position[target // 2], 1 / target),
                            (per_position[-1], 1 / target), (half, (target // 2) / target)):
        assert abs(observed - n * share) <= Z * math.sqrt(n * share * (1 - share)) + 1e-9
    for size in (target, 2**31 - 1, 2**40 + 1, 2**52 + 3):
        assert int(np.nextafter(1.0, 0.0) * size) == size - 1


def test_boost_impressions_carry_is_exact() -> None:
    credit, delivered = Fraction(0), 0
    for _ in range(1_000):
        whole, credit = boost_impressions(credit, 30.0, 9.0)
        delivered += whole
        assert 0 <= credit < 1
    assert delivered == 3_333_333


def test_respond_expected_engagements_and_optouts() -> None:
    rng = np.random.default_rng(2)
    n = 200_000
    counts = rng.integers(1, 4, size=n)
    stock = rng.random(n) * 2
    p, s, u, fs = 0.5, 0.4, 0.05, 2.0
    allowed = rng.random(n) < 0.5
    response = respond(rng, counts, stock, p, strength=s, optout=u, optout_fatigue_strength=fs, can_opt_out=allowed)
    per_delivery = np.concatenate([p * np.exp(-s * (stock[counts > j] + j)) for j in range(3)])
    assert_bernoulli_sum(response.engagements.sum(), per_delivery, what="engagements")
    stay = np.ones(n)
    for j in range(3):
        stay *= np.where(counts > j, 1 - np.minimum(1, u * (1 + fs * (stock + j))), 1.0)
    assert_bernoulli_sum(response.opted_out.sum(), np.where(allowed, 1 - stay, 0.0), what="opt-outs")
    assert not response.opted_out[~allowed].any()
    np.testing.assert_allclose(response.stock, stock + counts)


# -- shipped scenarios ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["page_reach_decline.yaml", "paid_to_owned.yaml"])
def test_shipped_scenario_loads_and_runs(name: str) -> None:
    sc = load_scenario(ROOT / "scenarios" / name)
    short = with_overrides(sc, horizon_days=40)
    for strategy in short.strategies:
        result, _ = run(short, strategy)
        assert result.series["page", "deliveries"].sum() > 0


def test_bernoulli_positions_survive_tiny_and_large_probabilities() -> None:
    from reachsim.model.exposure import bernoulli_positions

    rng = np.random.default_rng(3)
    for r in (5e-324, 1e-19, 1e-12):  # gaps beyond int64: nobody (or almost nobody) is drawn
        assert bernoulli_positions(rng, 1_000, r).size == 0
    n, r = 100_000, 0.999
    seen = bernoulli_positions(rng, n, r)
    assert np.all(np.diff(seen) > 0) and seen[-1] < n
    assert abs(seen.size - n * r) <= Z * math.sqrt(n * r * (1 - r))


def test_a_few_unfollows_make_the_moves_of_many(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unfollows done one by one in Python leave the fan list, positions and records the whole-array path leaves."""
    import reachsim.channels.page as page_module

    sc = scenario(page(initial_fans=3_000, organic_reach=0.5, posts={"every_days": 1},
                       engagement={"probability": 0.05, "fatigue": {"half_life_days": 2, "strength": 0.1}},
                       unfollow={"probability": 0.002, "fatigue_strength": 1.0}), size=5_000, horizon=60)
    states = []
    for few in (page_module.FEW_UNFOLLOWS, 0):
        monkeypatch.setattr(page_module, "FEW_UNFOLLOWS", few)
        result, sim = run(sc)
        channel = sim.channels[0]
        states.append((result.series["page", "left"].sum(), channel.fan_list[: channel.fans].copy(),
                       channel.fan_position.copy(), channel.exposures(), channel.fatigue))
        # every record by row says where its fan is (position + 1; 0 for non-fans and leavers)
        assert_positions_kept(channel)
    (left, *state), (left_again, *state_again) = states
    assert left == left_again > 20
    for a, b in zip(state, state_again, strict=True):
        np.testing.assert_array_equal(a, b)



def test_a_boosted_post_responds_with_the_parameters_in_force_that_day():
    """A timeline change of the engagement probability on a boosted post's day reaches everyone it boosts: the
    stores are rewritten before any record is read, so no boosted non-fan keeps (or responds with) the old one."""
    later = 0.03
    sc = scenario(
        page(initial_fans=1_000, organic_reach=0.0, posts={"every_days": 1}, engagement={"probability": 0.1},
             boost={"budget_per_post": 50, "cpm": 10, "target": "market"}),
        size=20_000, horizon=2,
        timeline=[{"day": 1, "channel": "page", "set": {"engagement.probability": later}}],
    )
    _, sim = run(sc)
    probability = sim.channels[0]._column(1)
    assert np.allclose(probability, later, rtol=1e-6)


@pytest.mark.parametrize("timeline", [None, [{"day": 5, "channel": "page",
                                               "set": {"engagement.fatigue.half_life_days": 100}}]])
def test_boosted_stocks_follow_a_rescaling_of_every_stock(timeline):
    """Stocks are stored scaled and brought to a new reference time now and then (every 96 half-lives, and when the
    half-life changes): a boosted non-fan's stock comes out of it like everyone's, never above its exposures."""
    sc = scenario(
        page(initial_fans=500, organic_reach=0.0, posts={"every_days": 1},
             engagement={"probability": 0.2, "fatigue": {"half_life_days": 0.25, "strength": 0.5}},
             boost={"budget_per_post": 30, "cpm": 10, "target": "market"}, follow_probability=0.5),
        size=5_000, horizon=30, timeline=timeline,
    )
    _, sim = run(sc)
    channel = sim.channels[0]
    assert (channel.fatigue <= channel.exposures() + 1e-3).all()
