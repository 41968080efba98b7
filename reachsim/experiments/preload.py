"""What a fork server loads before it forks workers (reachsim.experiments.executors): the modules a run needs, and
the scenario schema's classes, which a worker would otherwise build on its first task (about a fifth of a second
each, for every worker of every pool)."""

from reachsim.experiments import runner  # noqa: F401 - a run's code, imported for the workers
from reachsim.scenario.schema import scenario_model

scenario_model()
