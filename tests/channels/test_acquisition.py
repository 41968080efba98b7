"""The shared audience-acquisition component (reachsim.channels.acquisition), through the Messenger channel."""

from __future__ import annotations

import numpy as np

from reachsim.channels import topics
from reachsim.engine.simulation import Simulation


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
    joins: list[tuple[np.ndarray, str]] = []
    real_join = channel._join

    def spy(idx, t, source):
        joins.append((idx.copy(), source))
        real_join(idx, t, source)

    channel._join = spy  # start() hands the component the callback, so this one  # type: ignore[method-assign]
    everyone = np.arange(size)
    sim.env.process(_publish_at(sim, 10.5, everyone))
    result = sim.run()
    joined = np.concatenate([idx for idx, _ in joins])
    assert all(idx.size and np.all(np.diff(idx) > 0) for idx, _ in joins)  # non-empty, ascending, distinct
    assert np.unique(joined).size == joined.size == size  # nobody handed over twice; the opt-in filled the rest
    assert channel.acquisition.ever_joined == size and not channel.acquisition.never.any()
    bus = [idx for idx, source in joins if source == "page"]
    assert len(bus) == 1 and bus[0].size == size - result.series["messenger", "joined_organic"][:11].sum()
    assert result.series["messenger", "joined_organic"][11:].sum() == 0


def _publish_at(sim, t, idx):
    yield sim.env.timeout(t)
    sim.bus.publish(topics.MESSENGER_OPTIN, idx=idx, t=t, source="page")
