"""Walk botocore's ECS input shapes: member order and required members at a path.

Used to write manifests the way AWS documents them (`aws ecs register-task-definition
--generate-cli-skeleton` lists members in this order) and never to leave out a
member the API requires. Source: botocore `data/ecs/2014-11-13/service-2.json`.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from botocore.model import Shape

from reconciler.manifests.awsmodel import input_shape


def shape_at(operation: str, path: Sequence[str | int]) -> Shape | None:
    """The shape of the value at `path` (keys and list indexes) in `operation`'s input."""
    shape: Shape | None = input_shape(operation)
    for segment in path:
        if shape is None:
            return None
        if shape.type_name == "structure" and isinstance(segment, str):
            shape = shape.members.get(segment)  # type: ignore[attr-defined]
        elif shape.type_name == "list" and isinstance(segment, int):
            shape = shape.member  # type: ignore[attr-defined]
        elif shape.type_name == "map" and isinstance(segment, str):
            shape = shape.value  # type: ignore[attr-defined]
        else:
            return None
    return shape


def required_members(operation: str, path: Sequence[str | int]) -> frozenset[str]:
    """Members the API requires in the structure at `path` (none when it is not a structure)."""
    shape = shape_at(operation, path)
    if shape is None or shape.type_name != "structure":
        return frozenset()
    return frozenset(shape.required_members)  # type: ignore[attr-defined]


def in_shape_order(value: Any, shape: Shape | None) -> Any:
    """`value` with the keys of every structure in the model's member order (unknown keys last, sorted)."""
    if isinstance(value, Mapping):
        if shape is not None and shape.type_name == "structure":
            members = list(shape.members)  # type: ignore[attr-defined]
            order = {name: i for i, name in enumerate(members)}
            keys = sorted(value, key=lambda k: (order.get(k, len(members)), str(k)))
            return {k: in_shape_order(value[k], shape.members.get(k)) for k in keys}  # type: ignore[attr-defined]
        inner = shape.value if shape is not None and shape.type_name == "map" else None  # type: ignore[attr-defined]
        return {k: in_shape_order(v, inner) for k, v in value.items()}
    if isinstance(value, list):
        inner = shape.member if shape is not None and shape.type_name == "list" else None  # type: ignore[attr-defined]
        return [in_shape_order(v, inner) for v in value]
    return value


def ordered_like(operation: str, document: Mapping[str, Any]) -> dict[str, Any]:
    """A request document with its keys in the order `operation`'s input shape lists them."""
    return dict(in_shape_order(document, input_shape(operation)))
