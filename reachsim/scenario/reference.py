"""The scenario reference, generated from the schema: docs/reference/scenario.md and scenario.schema.json.

Everything written about a field (type, default, bounds, description) comes from the JSON Schema that pydantic
derives from :func:`reachsim.scenario.schema.scenario_model`; nothing is written by hand here. The JSON file is the
schema for editors (:mod:`reachsim.scenario.editor_schema`: files as they are written, with partial channels in
strategies that extend another and distributions in place of numbers), the one ``reachsim schema`` prints. The reference
documents the channels that ship with reachsim (:data:`reachsim.channels.registry.BUILTIN`), whatever plugins
happen to be installed or registered, so that it is the same on every machine.

Regenerate both files from the repository root::

    python -m reachsim.scenario.reference

``--check`` writes nothing and exits 1 when either file is stale (the tests run the same check).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from reachsim.channels import registry
from reachsim.scenario.editor_schema import editor_schema, model_schema, reachable_defs

__all__ = ["REFERENCE_DIR", "main", "render_json_schema", "render_reference", "write_reference"]

#: Where the generated files live, relative to the repository root.
REFERENCE_DIR = Path("docs") / "reference"
MARKDOWN_NAME = "scenario.md"
SCHEMA_NAME = "scenario.schema.json"
REGENERATE = "python -m reachsim.scenario.reference"

_REF_PREFIX = "#/$defs/"
_ROOT = "__root__"


# -- the schema, restricted to the shipped channels -----------------------------------------------------------


def _shipped_types() -> list[str]:
    available = registry.available()
    return sorted(t for t in registry.BUILTIN if t in available)


def json_schema() -> dict[str, Any]:
    """The JSON Schema for editors of scenario files using the shipped channels (what ``reachsim schema`` prints,
    for these channels only): :func:`reachsim.scenario.editor_schema.editor_schema`."""
    return editor_schema(_shipped_types())


def render_json_schema() -> str:
    """docs/reference/scenario.schema.json: the JSON Schema for editors (shipped channels only)."""
    return json.dumps(json_schema(), indent=2) + "\n"


# -- Markdown ---------------------------------------------------------------------------------------------------


def _anchor(prefix: str, name: str) -> str:
    return f"{prefix}-{name}".lower().replace("_", "-").replace(".", "-")


class _Renderer:
    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        self.defs: dict[str, Any] = schema.get("$defs", {})
        self.anchors: dict[str, str] = {}  # definition name → anchor, for the section being rendered
        channels = self.defs.get("Strategy", {}).get("properties", {}).get("channels", {}).get("items", {})
        mapping = channels.get("discriminator", {}).get("mapping", {})
        self.channel_defs = {t: ref[len(_REF_PREFIX) :] for t, ref in mapping.items()}
        if not self.channel_defs and "$ref" in channels:  # a single channel type: a plain reference
            name = channels["$ref"][len(_REF_PREFIX) :]
            const = self.defs.get(name, {}).get("properties", {}).get("type", {}).get("const")
            if const is not None:
                self.channel_defs = {const: name}

    def title(self, name: str) -> str:
        return str(self.defs.get(name, {}).get("title", name))

    # -- types --------------------------------------------------------------------------------------------
    def type_of(self, prop: dict[str, Any]) -> str:
        if "$ref" in prop:
            name = prop["$ref"][len(_REF_PREFIX) :]
            if name in self.channel_defs.values():
                kind = next(t for t, d in self.channel_defs.items() if d == name)
                return f"[channel `{kind}`](#{_anchor('channel', kind)})"
            anchor = self.anchors.get(name)
            return f"[{self.title(name)}](#{anchor})" if anchor else self.title(name)
        if "const" in prop:
            return f"`{json.dumps(prop['const'])}`"
        if "enum" in prop:
            return " or ".join(f"`{json.dumps(v)}`" for v in prop["enum"])
        for key in ("anyOf", "oneOf"):
            if key in prop:
                members = [m for m in prop[key] if m.get("type") != "null"]
                text = " or ".join(self.type_of(m) for m in members)
                return f"{text} or null" if len(members) < len(prop[key]) else text
        kind = prop.get("type")
        if kind == "array":
            return f"list of {self.type_of(prop.get('items', {}))}"
        if kind == "object":
            values = prop.get("additionalProperties")
            if isinstance(values, dict):
                return f"mapping of name to {self.type_of(values)}"
            return "mapping"
        if isinstance(kind, list):
            return " or ".join(kind)
        return str(kind) if kind else "any"

    # -- bounds -------------------------------------------------------------------------------------------
    def bounds(self, prop: dict[str, Any]) -> str:
        parts: list[str] = []
        for key in ("anyOf", "oneOf"):
            for member in prop.get(key, ()):
                if member.get("type") != "null":
                    parts.extend(self._own_bounds(member))
        parts.extend(self._own_bounds(prop))
        return "; ".join(dict.fromkeys(parts))

    @staticmethod
    def _own_bounds(prop: dict[str, Any]) -> list[str]:
        out = []
        signs = {"minimum": "≥", "exclusiveMinimum": ">", "maximum": "≤", "exclusiveMaximum": "<"}
        for key, sign in signs.items():
            if key in prop:
                out.append(f"{sign} {_number(prop[key])}")
        if "minLength" in prop:
            out.append(f"at least {prop['minLength']} character{'s' if prop['minLength'] != 1 else ''}")
        if "maxLength" in prop:
            out.append(f"at most {prop['maxLength']} characters")
        if "minItems" in prop:
            out.append(f"at least {prop['minItems']} item{'s' if prop['minItems'] != 1 else ''}")
        if "maxItems" in prop:
            out.append(f"at most {prop['maxItems']} items")
        if "minProperties" in prop:
            n = prop["minProperties"]
            out.append(f"at least {n} entr{'ies' if n != 1 else 'y'}")
        if "pattern" in prop:
            out.append(f"matches `{prop['pattern']}`")
        return out

    # -- defaults -----------------------------------------------------------------------------------------
    def default(self, name: str, prop: dict[str, Any], required: set[str]) -> str:
        if name in required:
            return "**required**"
        if "default" in prop:
            return f"`{json.dumps(prop['default'], ensure_ascii=False)}`"
        if "$ref" in prop:
            return "optional (its fields' defaults)"
        return "optional"

    # -- sections -----------------------------------------------------------------------------------------
    def model(self, name: str, heading: str, anchor: str) -> list[str]:
        d = self.defs[name] if name != _ROOT else self.schema
        lines = [f'<a id="{anchor}"></a>', "", f"{heading} `{d.get('title', name)}`", ""]
        if d.get("description"):
            lines += [_cell(d["description"], table=False), ""]
        props: dict[str, Any] = d.get("properties", {})
        if not props:
            return lines
        required = set(d.get("required", ()))
        lines += ["| key | type | default | bounds | description |", "|---|---|---|---|---|"]
        for key, prop in props.items():
            row = (
                f"`{key}`",
                self.type_of(prop),
                self.default(key, prop, required),
                self.bounds(prop),
                _cell(prop.get("description", "")),
            )
            lines.append("| " + " | ".join(row) + " |")
        if d.get("additionalProperties") is not False:
            lines += ["", "Keys not listed here are accepted too."]
        lines.append("")
        return lines

    def render(self) -> str:
        out = [
            "# Scenario reference",
            "",
            "<!-- Generated by `" + REGENERATE + "` from the pydantic schema; do not edit by hand. -->",
            "",
            "Every key a scenario file (YAML, JSON or TOML) accepts, with its type, default, bounds and meaning. "
            'Keys marked **required** must be given; unknown keys are errors (with a "did you mean"). '
            "The same schema, as JSON Schema for editors, is [scenario.schema.json](scenario.schema.json) "
            "(`reachsim schema` prints it for the channels installed on your machine); it takes files as they are "
            "written: a distribution in place of a number, and partial channels (every key optional, "
            "`remove: true` allowed) in a strategy that `extends` another.",
            "",
            "Contents:",
            "",
        ]
        top = [_ROOT, *reachable_defs(self.schema, self.defs, stop=frozenset(self.channel_defs.values()))]
        for name in top:
            self.anchors[name] = _anchor("model", "scenario" if name == _ROOT else name)
        out += [
            f"- [{self.title(n) if n != _ROOT else self.schema.get('title', 'Scenario')}](#{self.anchors[n]})"
            for n in top
        ]
        out += [f"- [channel `{t}`](#{_anchor('channel', t)})" for t in sorted(self.channel_defs)]
        out += ["", "## The scenario", ""]
        for name in top:
            out += self.model(name, "###", self.anchors[name])
        out += [
            "## Channel types",
            "",
            "A strategy's `channels` list holds channel specifications; the `type` key selects the channel "
            "plugin and thereby which keys are allowed. Every channel accepts `type`, `name` and "
            "`relevance_uplift`; each type adds its own keys below. Channel plugins installed from other "
            "packages document their own keys.",
            "",
        ]
        for kind in sorted(self.channel_defs):
            root = self.channel_defs[kind]
            nested = reachable_defs(self.defs[root], self.defs)
            self.anchors = {name: _anchor(kind, name) for name in nested}
            self.anchors[root] = _anchor("channel", kind)
            out += self.model(root, f"### `{kind}`:", self.anchors[root])
            for name in nested:
                out += self.model(name, f"#### `{kind}`:", self.anchors[name])
        return "\n".join(out).rstrip("\n") + "\n"


def _number(x: Any) -> str:
    if isinstance(x, float) and x.is_integer():
        return str(int(x))
    if isinstance(x, int) and abs(x) >= 10_000:
        return f"{x:,}"
    return str(x)


def _cell(text: str, table: bool = True) -> str:
    text = " ".join(str(text).split())
    return text.replace("|", "\\|") if table else text


def render_reference() -> str:
    """docs/reference/scenario.md: every scenario field and each shipped channel type's parameters."""
    return _Renderer(model_schema(_shipped_types())).render()


# -- files ------------------------------------------------------------------------------------------------------


def _outputs(folder: Path) -> dict[Path, str]:
    return {folder / MARKDOWN_NAME: render_reference(), folder / SCHEMA_NAME: render_json_schema()}


def stale_files(folder: str | Path = REFERENCE_DIR) -> list[Path]:
    """The generated files under ``folder`` that are missing or differ from what the schema gives now."""
    stale = []
    for path, text in _outputs(Path(folder)).items():
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(path)
    return stale


def write_reference(folder: str | Path = REFERENCE_DIR) -> list[Path]:
    """Write both generated files (atomically) and return their paths."""
    from reachsim.core.atomic import write_text

    written = []
    for path, text in _outputs(Path(folder)).items():
        write_text(path, text)
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m reachsim.scenario.reference",
        description="Write the scenario reference (Markdown and JSON Schema) generated from the schema.",
    )
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file is stale")
    parser.add_argument(
        "--dir", default=str(REFERENCE_DIR), metavar="DIR", help=f"output folder (default: {REFERENCE_DIR})"
    )
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files(args.dir)
        for path in stale:
            print(f"{path}: stale; regenerate it with `{REGENERATE}` from the repository root", file=sys.stderr)
        return 1 if stale else 0
    for path in write_reference(args.dir):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
