"""The JSON Schema of scenario files, for editors: what ``reachsim schema`` prints and docs/reference/ publishes.

pydantic derives a schema from the scenario model, but the model describes a scenario once it is loaded: every
strategy resolved and every distribution moved into the ``uncertainty`` list. A file is written before that, and
may differ from the model in two ways, which this schema allows so that an editor accepts every file that
``reachsim validate`` accepts:

* a number may be a distribution written in its place (``{dist: uniform, low: 0.1, high: 0.2}``), wherever
  loading takes one: every number but the run's settings (``horizon_days``, ``seed``, ``replications``) and the
  distributions' own;
* a strategy that ``extends`` another one writes only what changes: it may have no channels, and each channel it
  gives is partial — every key optional at every depth, because mappings are merged key by key into the parent's
  channel of the same name — and may say ``remove: true``. Lists are replaced whole, so their items stay complete.

Everything else is the model's own: unknown keys are refused (``additionalProperties: false``) at every depth,
partial channels included, and so are values out of their bounds or of the wrong type. What only loading can
check (a parent that exists, shares that sum to 1, a distribution's range within the bounds) is left to
``reachsim validate``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator
from typing import Any

from reachsim.scenario.schema import scenario_model
from reachsim.scenario.uncertainty import STRUCTURAL

__all__ = ["DRAFT", "editor_schema", "model_schema", "reachable_defs"]

#: The JSON Schema dialect pydantic writes (``$defs``, ``const``, ``prefixItems``).
DRAFT = "https://json-schema.org/draft/2020-12/schema"
_REF = "#/$defs/"
#: The definition added for a distribution written in place of a number.
DISTRIBUTION = "Distribution"
#: Prefix of the definitions made for the partial channels (and their parts) of a strategy that extends another.
PARTIAL = "Partial"


def model_schema(types: Iterable[str] | None = None) -> dict[str, Any]:
    """The scenario model's JSON Schema with only the channel ``types`` given (all registered ones when None),
    definitions no longer reachable dropped."""
    schema = copy.deepcopy(scenario_model().model_json_schema())
    if types is None:
        return schema
    kept_types = set(types)
    defs: dict[str, Any] = schema.get("$defs", {})
    items = defs.get("Strategy", {}).get("properties", {}).get("channels", {}).get("items", {})
    mapping = items.get("discriminator", {}).get("mapping")
    if mapping is not None:
        kept = {t: ref for t, ref in mapping.items() if t in kept_types}
        items["discriminator"]["mapping"] = kept
        items["oneOf"] = [{"$ref": ref} for ref in kept.values()]
    reachable = set(reachable_defs(schema, defs))
    if "$defs" in schema:
        schema["$defs"] = {name: d for name, d in defs.items() if name in reachable}
    return schema


def editor_schema(types: Iterable[str] | None = None) -> dict[str, Any]:
    """The schema of scenario files as they are written (see the module docstring), for the channel ``types``
    given (all registered ones when None)."""
    schema = model_schema(types)
    defs: dict[str, Any] = schema.setdefault("$defs", {})
    uncertainty = schema["properties"]["uncertainty"]["items"]
    distributions = {ref[len(_REF):] for ref in _refs(uncertainty)}
    defs[DISTRIBUTION] = {
        **copy.deepcopy(uncertainty),
        "title": DISTRIBUTION,
        "description": "A distribution written in place of a number: the number is drawn from it once per "
        "replication (the same quantile in every strategy).",
    }
    for name, definition in list(defs.items()):
        if name not in distributions and name != DISTRIBUTION:
            _numbers_take_distributions(definition)
    for key, prop in schema["properties"].items():
        if (key,) not in STRUCTURAL:
            schema["properties"][key] = _number_or_distribution(prop)

    full = defs.pop("Strategy")
    channels = full["properties"]["channels"]
    members = channels["items"].get("oneOf") or [channels["items"]]
    partial_channels = [{"$ref": _REF + _partial(m["$ref"][len(_REF):], defs, channel=True)} for m in members]
    extending = copy.deepcopy(full)
    extending["properties"]["extends"] = {
        "type": "string",
        "description": full["properties"]["extends"].get("description", ""),
    }
    extending["required"] = ["extends"]
    extending["properties"]["channels"] = {
        "type": "array",
        "items": {"anyOf": partial_channels},
        "description": "Channels merged by name into the parent's (every key optional; `remove: true` drops "
        "the parent's channel of that name); channels the parent does not have are added.",
    }
    defs["BaseStrategy"] = {**full, "title": "Strategy"}
    defs["ExtendingStrategy"] = {**extending, "title": "Strategy that extends another"}
    defs["Strategy"] = {
        "title": "Strategy",
        "description": full.get("description", ""),
        "type": "object",
        "if": {"properties": {"extends": {"type": "string"}}, "required": ["extends"]},
        "then": {"$ref": _REF + "ExtendingStrategy"},
        "else": {"$ref": _REF + "BaseStrategy"},
    }
    return {"$schema": DRAFT, **schema}


# -- numbers or distributions --------------------------------------------------------------------------------------

_META = ("title", "description", "default")


def _number_or_distribution(node: Any) -> Any:
    """A property's schema where a number may also be a distribution (at any depth of lists and mappings)."""
    if not isinstance(node, dict):
        return node
    if node.get("type") in ("number", "integer"):
        meta = {key: node[key] for key in _META if key in node}
        return {**meta, "anyOf": [{k: v for k, v in node.items() if k not in meta}, {"$ref": _REF + DISTRIBUTION}]}
    out = dict(node)
    if isinstance(node.get("anyOf"), list):  # a number or null, say: the distribution joins the alternatives
        numeric = [isinstance(m, dict) and m.get("type") in ("number", "integer") for m in node["anyOf"]]
        members = [m if n else _number_or_distribution(m) for m, n in zip(node["anyOf"], numeric, strict=True)]
        out["anyOf"] = members + ([{"$ref": _REF + DISTRIBUTION}] if any(numeric) else [])
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            out[key] = _number_or_distribution(node[key])
    return out


def _numbers_take_distributions(definition: dict[str, Any]) -> None:
    for key, prop in definition.get("properties", {}).items():
        definition["properties"][key] = _number_or_distribution(prop)


# -- partial models --------------------------------------------------------------------------------------------------


def _partial(name: str, defs: dict[str, Any], *, channel: bool = False) -> str:
    """The name of the partial version of model ``name`` (made once): no key required, its mappings partial too;
    a channel also takes ``remove``."""
    made = PARTIAL + name
    if made in defs:
        return made
    definition = copy.deepcopy(defs[name])
    definition.pop("required", None)
    defs[made] = definition  # before its properties: a model may contain itself
    properties = definition.get("properties", {})
    for key, prop in properties.items():
        properties[key] = _partial_property(prop, defs)
    if channel:
        properties["remove"] = {
            "type": "boolean",
            "description": "true: the parent's channel of this name is dropped from this strategy.",
        }
    return made


def _partial_property(node: Any, defs: dict[str, Any]) -> Any:
    """A property of a partial model: the models it holds partial (mappings are merged key by key), lists and
    distributions whole (they replace the parent's value)."""
    if not isinstance(node, dict):
        return node
    out = dict(node)
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith(_REF):
        target = ref[len(_REF):]
        if target != DISTRIBUTION and "properties" in defs.get(target, {}):
            out["$ref"] = _REF + _partial(target, defs)
    for key in ("anyOf", "oneOf"):
        if isinstance(node.get(key), list):
            out.pop(key)
            out["anyOf"] = [_partial_property(member, defs) for member in node[key]]  # partial forms can overlap
            out.pop("discriminator", None)
    if isinstance(node.get("additionalProperties"), dict):
        out["additionalProperties"] = _partial_property(node["additionalProperties"], defs)
    return out


# -- references ----------------------------------------------------------------------------------------------------


def _refs(node: Any) -> Iterator[str]:
    """The ``$ref`` values anywhere under ``node`` (not inside ``$defs``), in document order."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_REF):
            yield ref
        for key, value in node.items():
            if key != "$defs":
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def reachable_defs(start: Any, defs: dict[str, Any], stop: frozenset[str] = frozenset()) -> list[str]:
    """Definitions reachable from ``start``, depth-first in order of first mention, not entering ``stop``."""
    seen: list[str] = []
    stack = [ref[len(_REF):] for ref in reversed(list(_refs(start)))]
    while stack:
        name = stack.pop()
        if name in seen or name in stop or name not in defs:
            continue
        seen.append(name)
        stack.extend(ref[len(_REF):] for ref in reversed(list(_refs(defs[name]))))
    return seen
