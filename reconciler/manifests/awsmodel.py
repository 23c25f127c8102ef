"""Shape checks against botocore's own ECS service model (no network call).

Using the model botocore ships means a manifest is accepted exactly when the AWS
API would accept its shape: field names, types, required members, min values.
botocore does not check enums client-side, so this module adds that from the
same model. Source: botocore `data/ecs/2014-11-13/service-2.json`,
operations RegisterTaskDefinition and CreateService.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import botocore.session
from botocore.model import ServiceModel, Shape
from botocore.validate import ParamValidator

from reconciler.manifests.issues import FileIssues
from reconciler.manifests.yamlsource import JsonPath
from reconciler.suggest import suggest

_NAME_TOKEN = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]")


@lru_cache(maxsize=1)
def ecs_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model("ecs")


def input_shape(operation: str) -> Shape:
    return ecs_model().operation_model(operation).input_shape


@lru_cache(maxsize=1)
def taskdef_server_fields() -> frozenset[str]:
    """Fields DescribeTaskDefinition returns that RegisterTaskDefinition does not take
    (taskDefinitionArn, revision, status, requiresAttributes, compatibilities, ...)."""
    model = ecs_model()
    return frozenset(model.shape_for("TaskDefinition").members) - frozenset(
        input_shape("RegisterTaskDefinition").members)


@lru_cache(maxsize=1)
def service_server_fields() -> frozenset[str]:
    """Fields DescribeServices returns that CreateService does not take
    (serviceArn, status, deployments, events, runningCount, roleArn, ...)."""
    model = ecs_model()
    return frozenset(model.shape_for("Service").members) - frozenset(
        input_shape("CreateService").members)


def member_names(operation: str) -> frozenset[str]:
    return frozenset(input_shape(operation).members)


def check_shape(data: dict[str, Any], operation: str, sink: FileIssues) -> None:
    """One Issue per botocore validation error, plus enum violations."""
    shape = input_shape(operation)
    report = ParamValidator().validate(data, shape)
    for error_type, name, extra in report._errors:  # noqa: SLF001 - the structured list behind generate_report()
        path = _parse_name(name)
        if error_type == "unknown field":
            field = extra["unknown_param"]
            sink.error((*path, field), f"unknown field {field!r} for {operation}"
                       f"{suggest(field, extra['valid_names'])}")
        elif error_type == "missing required field":
            sink.error(path, f"missing required field {extra['required_name']!r}")
        elif error_type == "invalid type":
            if sink.has_error_at(path):
                continue  # the JSON Schema already reported this value; one error per field
            sink.error(path, f"invalid type {type(extra['param']).__name__} "
                             f"(value {extra['param']!r}); expected {_types(extra['valid_types'])}")
        elif error_type in ("invalid range", "invalid length"):
            what = "value" if error_type == "invalid range" else "length"
            sink.error(path, f"{what} below the minimum {extra['min_allowed']} (value {extra['param']!r})")
        else:
            sink.error(path, f"{error_type}: {extra}")
    _check_enums(data, shape, (), sink)


def _check_enums(value: Any, shape: Shape, path: JsonPath, sink: FileIssues) -> None:
    if shape.type_name == "structure" and isinstance(value, dict):
        for key, item in value.items():
            member = shape.members.get(key)
            if member is not None:
                _check_enums(item, member, (*path, key), sink)
    elif shape.type_name == "list" and isinstance(value, list):
        for index, item in enumerate(value):
            _check_enums(item, shape.member, (*path, index), sink)  # type: ignore[attr-defined]
    elif shape.type_name == "map" and isinstance(value, dict):
        for key, item in value.items():
            _check_enums(item, shape.value, (*path, key), sink)  # type: ignore[attr-defined]
    elif shape.type_name == "string" and isinstance(value, str) and shape.enum:
        if value not in shape.enum:
            sink.error(path, f"{value!r} is not one of {', '.join(shape.enum)}")


def _parse_name(name: str) -> JsonPath:
    """botocore names look like `.containerDefinitions[0].portMappings[1].hostPort`."""
    return tuple(m.group(1) if m.group(1) is not None else int(m.group(2))
                 for m in _NAME_TOKEN.finditer(name))


def _types(valid: list[str]) -> str:
    names = [re.sub(r"<class '(\w+)'>", r"\1", t) for t in valid]
    return " or ".join(names)
