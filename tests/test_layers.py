"""The layers are a checked fact: import-linter's contracts (pyproject.toml), no import cycles, cheap imports."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import grimp
import pytest
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[1]


def test_the_import_contracts_hold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.syspath_prepend(str(ROOT))
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True) == 0


def test_a_violating_import_is_caught(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check can fail: a lower layer importing a higher one breaks a layers contract."""
    package = tmp_path / "layered_fixture"
    (package / "low").mkdir(parents=True)
    (package / "high").mkdir()
    (package / "__init__.py").write_text("")
    (package / "high" / "__init__.py").write_text("")
    (package / "low" / "__init__.py").write_text("from layered_fixture import high  # the wrong way\n")
    config = tmp_path / "contracts.toml"
    config.write_text(
        textwrap.dedent(
            """
            [tool.importlinter]
            root_package = "layered_fixture"

            [[tool.importlinter.contracts]]
            name = "fixture layers"
            type = "layers"
            layers = ["layered_fixture.high", "layered_fixture.low"]
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    assert lint_imports(config_filename=str(config), no_cache=True) == 1


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_module_imports_in_a_circle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT))
    graph = grimp.build_graph("reachsim", exclude_type_checking_imports=True)
    edges = {
        module: {n for n in graph.find_modules_directly_imported_by(module) if n.startswith("reachsim")}
        for module in graph.modules
    }
    assert _cycles(edges) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _loaded_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys; print(' '.join(sorted(sys.modules)))"],
        capture_output=True, text=True, check=True, cwd=ROOT,
    ).stdout
    return {name.split(".")[0] for name in out.split()}


@pytest.mark.parametrize("code", ["import reachsim", "from reachsim.cli import main; main(['--version'])"])
def test_importing_reachsim_and_asking_its_version_load_no_simulation(code: str) -> None:
    assert not _loaded_after(code) & {"simpy", "scipy", "matplotlib", "dask", "numpy"}


def test_validating_a_scenario_loads_no_matplotlib() -> None:
    loaded = _loaded_after("from reachsim import load_scenario; load_scenario('scenarios/messenger_push.yaml')")
    assert "matplotlib" not in loaded


def test_every_built_in_channel_is_in_the_independence_contract() -> None:
    import tomllib

    from reachsim.channels import registry

    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    independent = next(c for c in contracts["contracts"] if c["type"] == "independence")["modules"]
    assert sorted(independent) == sorted(ref.partition(":")[0] for ref in registry.BUILTIN.values())
