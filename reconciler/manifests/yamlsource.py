"""Safe YAML/JSON loading that remembers the line of every key and list item.

`yaml.safe_load` forgets where values came from; validation must say `file:line`.
JSON is parsed through the same loader (JSON is YAML 1.2 flow style), so
`taskdef.json` errors get lines too.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

import yaml

from reconciler.model import shared_string

PathToken = str | int
JsonPath = tuple[PathToken, ...]

_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
# Bounds against alias bombs ("billion laughs": 700 bytes expanding to gigabytes). Our choice:
# a hand-written manifest needs a few dozen aliases and a few thousand values at most.
MAX_ALIASES = 200
MAX_NODES = 200_000   # values after alias expansion
MAX_DEPTH = 100
_PLAIN_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")


class LineLoader(yaml.SafeLoader):
    """SafeLoader that builds plain dicts/lists plus a `{json path: line}` map.

    Timestamps stay strings: AWS fields are strings or epoch numbers, never YAML
    dates, and a tag value like `2024-01-01` must not become a `date` object.
    """

    yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag != _TIMESTAMP_TAG]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.lines: dict[JsonPath, int] = {}
        self.duplicates: list[tuple[JsonPath, int]] = []
        self._aliases = 0
        self._nodes = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise yaml.composer.ComposerError(None, None, f"more than {MAX_ALIASES} aliases (*name)",
                                                  self.peek_event().start_mark)
        return super().compose_node(parent, index)

    def load_with_lines(self) -> Any:
        try:
            node = self.get_single_node()
            return None if node is None else self._build(node, ())
        finally:
            self.dispose()

    def _build(self, node: yaml.Node, path: JsonPath) -> Any:
        self._nodes += 1
        if self._nodes > MAX_NODES or len(path) > MAX_DEPTH:
            what = f"nested deeper than {MAX_DEPTH} levels" if len(path) > MAX_DEPTH else \
                f"more than {MAX_NODES} values once aliases are expanded"
            raise yaml.composer.ComposerError(None, None, what, node.start_mark)
        if path:  # the root has no line of its own: root-level issues name just the file
            self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and node.tag not in _PLAIN_TAGS:
            # Same refusal as SafeLoader: no python/object or other custom tags.
            raise yaml.constructor.ConstructorError(
                None, None, f"could not determine a constructor for the tag {node.tag!r}", node.start_mark)
        if isinstance(node, yaml.MappingNode):
            self.flatten_mapping(node)  # resolves YAML merge keys (<<)
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self.construct_object(key_node, deep=True)
                if not isinstance(key, (str, int, float, bool)) or key is None:
                    raise yaml.constructor.ConstructorError(
                        None, None, "mapping keys must be scalars", key_node.start_mark)
                # Keys interned: every service repeats the same field names, kept once (memory at 10,000 services).
                name = sys.intern(str(key))
                child = (*path, name)
                line = key_node.start_mark.line + 1
                if name in result:
                    self.duplicates.append((child, line))
                self.lines[child] = line
                result[name] = self._build(value_node, child)
            return result
        if isinstance(node, yaml.SequenceNode):
            items = []
            for index, item in enumerate(node.value):
                child = (*path, index)
                self.lines[child] = item.start_mark.line + 1
                items.append(self._build(item, child))
            return items
        value = self.construct_object(node, deep=True)
        # Short values shared like the keys: image registries, log options, ports repeat in every service.
        return shared_string(value) if isinstance(value, str) else value


@dataclass(frozen=True)
class Parsed:
    """A parsed file: its data, the line of every path, and load problems."""

    data: Any
    lines: dict[JsonPath, int] = field(default_factory=dict)
    duplicates: tuple[tuple[JsonPath, int], ...] = ()

    def line_of(self, path: JsonPath) -> int | None:
        """Line of `path`, or of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return None


class ParseFailure(Exception):
    def __init__(self, line: int | None, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.reason = reason


def parse_text(text: str, *, is_json: bool = False) -> Parsed:
    """Parse YAML or JSON text; raises ParseFailure with the offending line."""
    if is_json:
        # Tabs are legal JSON whitespace but not YAML indentation; a raw tab inside a
        # JSON string is invalid JSON anyway, so replacing them keeps meaning and lines.
        text = text.replace("\t", " ")
    loader = LineLoader(text)
    try:
        data = loader.load_with_lines()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        reason = " ".join(p for p in (exc.context, exc.problem) if p) or str(exc)
        raise ParseFailure(line, f"cannot parse {'JSON' if is_json else 'YAML'}: {reason}") from exc
    except yaml.YAMLError as exc:
        raise ParseFailure(None, f"cannot parse: {exc}") from exc
    return Parsed(data, loader.lines, tuple(loader.duplicates))


def render_path(path: JsonPath) -> str:
    """`("containerDefinitions", 0, "image")` -> `containerDefinitions[0].image`."""
    out = ""
    for token in path:
        if isinstance(token, int):
            out += f"[{token}]"
        elif token.replace("_", "a").replace("-", "a").isalnum():
            out += f".{token}" if out else token
        else:
            out += f"[{token!r}]"
    return out
