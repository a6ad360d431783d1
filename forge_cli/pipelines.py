"""`forge pipelines`: which pipelines are installed, and every setting each one takes.

The listing is read from the same config schemas that validate `forge run --set` and the web
form, so what it shows is what they accept. `--json` prints those schemas as JSON Schema, for
scripts and for building forms. Plugins that failed to load are listed with the reason, so a
missing pipeline is never a mystery.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from forge_cli.columns import align
from forge_learner.config import ConfigField, config_json_schema, describe_config
from forge_learner.registry import Discovery, PipelineClass, UnknownPipelineError, discover


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "pipelines",
        help="list the installed pipelines and their settings",
        description=(
            "List the installed pipelines (bundled apps and plugins registered under the "
            "'forge.pipelines' entry point group) with each setting's type, default, allowed "
            "values and help. Set them with `forge run PIPELINE --set KEY=VALUE`."
        ),
    )
    parser.add_argument("name", nargs="?", help="show this pipeline only")
    parser.add_argument(
        "--json", action="store_true", help="print each pipeline's config as JSON Schema"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    found = discover()
    pipelines = found.pipelines
    if args.name is not None:
        if args.name not in pipelines:
            print(f"forge pipelines: {UnknownPipelineError(args.name, found)}", file=sys.stderr)
            return 2
        pipelines = {args.name: pipelines[args.name]}
        found = Discovery(pipelines, {})
    if args.json:
        print(json.dumps(as_json(found), indent=2))
        return 0
    if pipelines:
        print("\n\n".join(describe(name, cls) for name, cls in sorted(pipelines.items())))
    else:
        print("No pipelines are installed: install one that registers under 'forge.pipelines'.")
    if found.broken:
        print("\nBroken plugins (installed, but they cannot be used):", file=sys.stderr)
        for name, reason in sorted(found.broken.items()):
            print(f"  {name}: {reason}", file=sys.stderr)
    return 0


def as_json(found: Discovery) -> dict[str, Any]:
    """``{"pipelines": {name: {"summary", "config_schema"}}, "broken": {name: reason}}``."""
    return {
        "pipelines": {
            name: {"summary": cls.summary, "config_schema": config_json_schema(cls.Config)}
            for name, cls in sorted(found.pipelines.items())
        },
        "broken": dict(sorted(found.broken.items())),
    }


def describe(name: str, cls: PipelineClass) -> str:
    """The pipeline's name and summary, then a table of its settings."""
    rows = [["setting", "type", "default", "allowed", "help"]]
    rows += [_row(field) for field in describe_config(cls.Config)]
    header = f"{name}  {cls.summary}".rstrip()
    return "\n".join([header, *("  " + line for line in align(rows))])


def _row(field: ConfigField) -> list[str]:
    default = "(required)" if field.required else _show(field.default)
    allowed = " | ".join(_show(c) for c in field.choices) if field.choices else field.bounds
    return [field.name, field.type, default, allowed, field.help]


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)
