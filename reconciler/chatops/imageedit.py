"""Change the image of containers in a task definition file, and nothing else. Pure.

The file (JSON or YAML; JSON is YAML) is composed with PyYAML, which records where every
scalar starts and ends; only the characters of each `image` value are replaced, in the
quoting style the file already uses. Comments, indentation, key order and every other byte
stay as they were, so the commit's diff is one line per container changed.
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

import yaml

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


class EditError(ValueError):
    """The file cannot be edited as asked; the message names the file and why."""


@dataclass(frozen=True)
class ImageRef:
    container: str
    image: str
    start: int
    end: int
    style: str | None


def _mapping_get(node: yaml.Node, key: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return v
    return None


def images(text: str, file: str = "taskdef") -> list[ImageRef]:
    """Every container's image with its position in `text`."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        raise EditError(f"{file}: not valid JSON/YAML: {exc}") from None
    containers = _mapping_get(root, "containerDefinitions") if root is not None else None
    if not isinstance(containers, yaml.SequenceNode):
        raise EditError(f"{file}: containerDefinitions: missing or not a list")
    out = []
    for i, cd in enumerate(containers.value):
        name, image = _mapping_get(cd, "name"), _mapping_get(cd, "image")
        if not isinstance(name, yaml.ScalarNode) or not isinstance(image, yaml.ScalarNode):
            raise EditError(f"{file}: containerDefinitions[{i}]: needs a name and an image")
        out.append(ImageRef(name.value, image.value, image.start_mark.index, image.end_mark.index, image.style))
    return out


def _quoted(value: str, style: str | None) -> str:
    if style == "'":
        return "'" + value.replace("'", "''") + "'"
    if style is None:
        try:
            plain_ok = yaml.safe_load(value) == value and "#" not in value and ": " not in value
        except yaml.YAMLError:
            plain_ok = False
        if plain_ok:
            return value
    return json.dumps(value)  # a JSON string is a valid YAML double-quoted scalar


def set_images(text: str, new: Mapping[str, str], file: str = "taskdef") -> str:
    """`text` with the image of each container named in `new` replaced (others untouched)."""
    refs = {r.container: r for r in images(text, file)}
    missing = sorted(set(new) - set(refs))
    if missing:
        raise EditError(f"{file}: no container named {', '.join(missing)} (containers: {', '.join(sorted(refs))})")
    for ref in sorted((refs[n] for n in new), key=lambda r: r.start, reverse=True):
        if ref.style in ("|", ">"):
            raise EditError(f"{file}: containerDefinitions {ref.container}: image is a block scalar; "
                            "write it on one line")
        text = text[:ref.start] + _quoted(new[ref.container], ref.style) + text[ref.end:]
    return text


def repository(image: str) -> str:
    """The image without its tag or digest: `host:5000/team/web:1.2@sha256:…` → `host:5000/team/web`."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)
    if ":" in last[-1]:
        name = name[: len(name) - len(last[-1])] + last[-1].split(":", 1)[0]
    return name


def with_tag(image: str, tag: str) -> str:
    """`image` pointing at `tag` (or at a `sha256:` digest)."""
    base = repository(image)
    return f"{base}@{tag}" if _DIGEST.match(tag) else f"{base}:{tag}"
