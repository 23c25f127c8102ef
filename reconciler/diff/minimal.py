"""The normalizer used the other way: the smallest manifest that still compares in sync.

`reconciler import` starts from what AWS returns (every default filled in, server-only
fields, empty lists) and removes, one field at a time, whatever the diff cannot tell
apart from its absence. Nothing here lists a default: the drift functions of this
package are the only judge, so import and plan can never disagree about a field.
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from reconciler.desired import desired_service
from reconciler.diff.canonical import JSONDict
from reconciler.diff.drift import diff_services, diff_task_definitions
from reconciler.model import Drift, GitOpsSettings, ServiceSpec, Strategy

Path = tuple[str | int, ...]
Required = Callable[[Path], frozenset[str]]


def _nothing_required(_path: Path) -> frozenset[str]:
    return frozenset()


def minimal_document(doc: Mapping[str, Any], drift_of: Callable[[JSONDict], Drift],
                     required: Required = _nothing_required) -> JSONDict:
    """`doc` without every field whose removal leaves `drift_of` unchanged.

    Whole fields are tried before their parts; a nested object is never emptied (an
    object kept because removing it changes the drift keeps at least one member), and
    members `required(path)` names are kept (the API would reject the file otherwise).
    """
    current = copy.deepcopy(dict(doc))
    baseline = drift_of(current).changes

    def unchanged() -> bool:
        return drift_of(current).changes == baseline

    def walk(obj: JSONDict, path: Path) -> None:
        keep = required(path)
        for key in list(obj):
            value = obj[key]
            if key not in keep and (len(obj) > 1 or not path):
                del obj[key]
                if unchanged():
                    continue
                obj[key] = value
            descend(value, (*path, key))

    def descend(value: Any, path: Path) -> None:
        if isinstance(value, dict):
            walk(value, path)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, dict):
                    walk(item, (*path, index))

    walk(current, ())
    return current


def minimal_task_definition(candidate: Mapping[str, Any], live_td: Mapping[str, Any],
                            live_tags: Sequence[Mapping[str, Any]], required: Required = _nothing_required) -> JSONDict:
    """A RegisterTaskDefinition input no larger than needed to compare in sync with `live_td`."""
    live = {"taskDefinition": dict(live_td), "tags": list(live_tags)}
    return minimal_document(candidate, lambda doc: diff_task_definitions(doc, live), required)


def minimal_service(candidate: Mapping[str, Any], live: Mapping[str, Any], *, strategy: Strategy,
                    compare_desired_count: bool, required: Required = _nothing_required) -> JSONDict:
    """CreateService fields no larger than needed to compare in sync with `live`, counting
    the reconciler's own additions (desired_service: the circuit breaker it turns on)."""
    gitops = GitOpsSettings(strategy=strategy)

    def drift_of(doc: JSONDict) -> Drift:
        spec = ServiceSpec(environment="", name=str(live.get("serviceName", "")), service=doc, task_definition={},
                           gitops=gitops, service_file="", taskdef_file="")
        return diff_services(desired_service(spec), live, compare_desired_count=compare_desired_count)

    return minimal_document(candidate, drift_of, required)
