"""The published JSON Schema (draft 2020-12) of environment.yaml and service.yaml.

Shipped as package data so editors can use it via yaml-language-server, and used
by `reconciler validate` so editor and CI agree on what is valid.
"""
from __future__ import annotations

import copy
import json
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator

from reconciler.manifests.issues import FileIssues
from reconciler.suggest import suggest

DEFINITIONS = ("environment", "service", "gitops", "syncPolicy", "codeDeploy")


@lru_cache(maxsize=1)
def _document() -> dict[str, Any]:
    text = resources.files("reconciler.manifests").joinpath("schema/manifests.schema.json").read_text("utf-8")
    return json.loads(text)


def schema(definition: str | None = None) -> dict[str, Any]:
    """The whole schema document, or one `$defs` entry as a standalone schema."""
    document = copy.deepcopy(_document())
    if definition is None:
        return document
    if definition not in document["$defs"]:
        raise KeyError(f"unknown schema definition {definition!r}; one of {', '.join(DEFINITIONS)}")
    return {
        "$schema": document["$schema"],
        "$id": document["$id"].replace(".schema.json", f".{definition}.schema.json"),
        "$ref": f"#/$defs/{definition}",
        "$defs": document["$defs"],
    }


@cache
def _validator(definition: str) -> Draft202012Validator:
    return Draft202012Validator(schema(definition))


def check_schema(data: Any, definition: str, sink: FileIssues) -> None:
    """One Issue per schema violation, at the deepest path that failed."""
    for error in sorted(_validator(definition).iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        leaves = _leaf_errors(error)
        for leaf in leaves:
            path = tuple(leaf.absolute_path)
            if leaf.validator == "additionalProperties":
                known = sorted(leaf.schema.get("properties", {}))
                for key in sorted(set(leaf.instance) - set(known)):
                    sink.error((*path, key), f"unknown field {key!r}{suggest(str(key), known)}")
            else:
                sink.error(path, _reason(leaf))


def _leaf_errors(error: Any) -> list[Any]:
    """For oneOf/anyOf, report the most specific branch errors instead of 'not valid under any'."""
    if error.context:
        best = [e for e in error.context if e.validator not in ("type",)] or list(error.context)
        return [best[0]]
    return [error]


def _description(error: Any) -> str | None:
    """The nearest schema description above a failed check: says what a valid value looks like."""
    node = error
    while node is not None:
        if isinstance(node.schema, dict) and node.schema.get("description"):
            return str(node.schema["description"])
        node = node.parent
    return None


def _reason(error: Any) -> str:
    if error.validator == "pattern":
        description = _description(error)
        if description:
            return f"{error.instance!r} is not valid: {description}"
    if error.validator == "not" and error.validator_value == {"required": ["canary", "linear"]}:
        return "set either canary or linear, not both"
    if error.validator == "dependentRequired":
        return error.message.replace("is a dependency of", "is required with")
    return error.message
