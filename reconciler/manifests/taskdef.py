"""Task definition files: RegisterTaskDefinition input, or a describe output dropped in.

Accepting `aws ecs describe-task-definition` output unchanged (server-only
fields dropped with a warning) lets users start from what runs today.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.manifests.awsmodel import check_shape, taskdef_server_fields
from reconciler.manifests.documents import expect_mapping, read_document
from reconciler.manifests.fargate import fargate_size_problem, unreadable_size
from reconciler.manifests.images import image_problem, placeholder_problem
from reconciler.manifests.issues import FileIssues
from reconciler.manifests.paths import placeholders
from reconciler.model import Issue, is_unmanaged_tag, requires_fargate

REGISTER = "RegisterTaskDefinition"


@dataclass(frozen=True)
class TaskDefinitionFile:
    """A loaded task definition: clean RegisterTaskDefinition input plus what was wrong."""

    data: dict[str, Any] | None
    issues: tuple[Issue, ...]

    @property
    def ok(self) -> bool:
        return self.data is not None and not any(i.severity == "error" for i in self.issues)


def load_task_definition(path: str | Path, *, display: str | None = None) -> TaskDefinitionFile:
    """Load and check one task definition file (JSON or YAML) on its own.

    Image pinning is a repository policy (it depends on gitops.allowLatestTag) and
    is not checked here; `reconciler validate` and `load_repository` check it.
    """
    path = Path(path)
    data, sink = read_document(path, display or str(path))
    taskdef, _ = read_task_definition(data, sink)
    return TaskDefinitionFile(taskdef, tuple(sorted(sink.issues, key=lambda i: i.line or 0)))


def read_task_definition(data: Any, sink: FileIssues, *,
                         fargate: bool = False) -> tuple[dict[str, Any] | None, FileIssues]:
    """Unwrap, strip server-only fields and check one parsed task definition.

    Returns the clean input and the sink to use for further checks on it (its
    paths are prefixed with `taskDefinition` when the file was a describe output).
    """
    mapping = expect_mapping(data, sink, "a RegisterTaskDefinition input")
    if mapping is None:
        return None, sink
    taskdef, inner = _unwrap(mapping, sink)
    for field in sorted(set(taskdef) & taskdef_server_fields()):
        inner.warning((field,), "server-only field set by AWS; ignored")
        del taskdef[field]
    drop_reserved_tags(taskdef, inner)
    for path, text in placeholders(taskdef):
        inner.error(path, f"unresolved template placeholder {text!r}; manifests must be plain data")
    check_shape(taskdef, REGISTER, inner)
    check_containers(taskdef, inner)
    for field in ("cpu", "memory"):  # any launch type: AWS converts both to integers
        problem = unreadable_size(field, taskdef.get(field))
        if problem:
            inner.error((field,), problem)
    if fargate or requires_fargate(taskdef):
        check_fargate(taskdef, inner)
    else:
        check_ec2_memory(taskdef, inner)
    return taskdef, inner


def drop_reserved_tags(document: dict[str, Any], sink: FileIssues) -> None:
    """Tags under `ecs-reconciler:` or `aws:` are set by the reconciler or AWS (a describe output
    dropped in carries them): never sent as the user's own. AWS rejects user tags under `aws:`
    ("Tag keys ... with the aws: prefix are reserved for AWS use", [ecs-dg] ecs-using-tags)."""
    tags = document.get("tags")
    if not isinstance(tags, list):
        return
    kept = []
    for index, tag in enumerate(tags):
        key = tag.get("key") if isinstance(tag, dict) else None
        if isinstance(key, str) and is_unmanaged_tag(key):
            sink.warning(("tags", index, "key"), f"tag {key!r} is reserved (set by the reconciler or AWS); ignored")
        else:
            kept.append(tag)
    if kept:
        document["tags"] = kept
    else:
        del document["tags"]


def _unwrap(mapping: dict[str, Any], sink: FileIssues) -> tuple[dict[str, Any], FileIssues]:
    """`{"taskDefinition": {...}, "tags": [...]}` (describe output) -> the inner input, tags merged."""
    inner = mapping.get("taskDefinition")
    if not isinstance(inner, dict):
        return dict(mapping), sink
    taskdef = dict(inner)
    child = sink.child(("taskDefinition",))
    for key in sorted(set(mapping) - {"taskDefinition", "tags", "ResponseMetadata"}):
        sink.error((key,), f"unknown field {key!r} beside taskDefinition in a describe output")
    if mapping.get("tags") and not taskdef.get("tags"):
        taskdef["tags"] = mapping["tags"]
    return taskdef, child


def check_containers(taskdef: dict[str, Any], sink: FileIssues) -> None:
    containers = taskdef.get("containerDefinitions")
    if not isinstance(containers, list):
        return
    if not containers:
        sink.error(("containerDefinitions",), "a task definition needs at least one container")
        return
    seen: dict[str, int] = {}
    any_essential = False
    for index, container in enumerate(containers):
        if not isinstance(container, dict):
            continue
        _check_required_strings(container, index, sink)
        name = container.get("name")
        if isinstance(name, str):
            if name in seen:
                sink.error(("containerDefinitions", index, "name"),
                           f"duplicate container name {name!r} (also containerDefinitions[{seen[name]}])")
            seen.setdefault(name, index)
        if container.get("essential", True) is not False:  # AWS default: essential true
            any_essential = True
    if not any_essential:
        sink.error(("containerDefinitions",), "at least one container must be essential (essential defaults to true)")


def _check_required_strings(container: dict[str, Any], index: int, sink: FileIssues) -> None:
    """name and image: botocore marks neither required, AWS rejects both when missing."""
    for field in ("name", "image"):
        value = container.get(field)
        if value is None or value == "":
            # AWS: "Container.name should not be null or empty." / "Container.image should not be
            # null or empty." (ClientException from RegisterTaskDefinition)
            where = ("containerDefinitions", index, field) if field in container else ("containerDefinitions", index)
            sink.error(where, f"container {field} is missing or empty (AWS: Container.{field} should not be null or empty)")
    image = container.get("image")
    problem = placeholder_problem(image) if isinstance(image, str) else None
    if problem:
        sink.error(("containerDefinitions", index, "image"), problem)


def check_ec2_memory(taskdef: dict[str, Any], sink: FileIssues) -> None:
    """Outside Fargate, memory is set for the task or for every container ([ecs-dg]
    task_definition_parameters "memory": "you must specify either a task-level memory value
    or a container-level memory value")."""
    if taskdef.get("memory") not in (None, ""):
        return
    for index, container in enumerate(as_list(taskdef.get("containerDefinitions"))):
        if isinstance(container, dict) and container.get("memory") is None and container.get("memoryReservation") is None:
            # AWS: "Invalid setting for container 'web'. At least one of 'memory' or 'memoryReservation'
            # must be specified." (ClientException from RegisterTaskDefinition)
            name = container.get("name")
            sink.error(("containerDefinitions", index),
                       f"{f'container {name!r}' if name else 'this container'} needs memory or memoryReservation when the task "
                       "sets no memory (AWS: at least one of 'memory' or 'memoryReservation' must be specified)")


def check_fargate(taskdef: dict[str, Any], sink: FileIssues) -> None:
    """Fargate runs only awsvpc tasks of a listed cpu/memory size."""
    mode = taskdef.get("networkMode")
    if mode != "awsvpc":
        where = ("networkMode",) if "networkMode" in taskdef else ()
        sink.error(where, f"Fargate requires networkMode 'awsvpc' (got {mode!r})")
    problem = fargate_size_problem(taskdef.get("cpu"), taskdef.get("memory"))
    if problem and not (sink.has_error_at(("cpu",)) or sink.has_error_at(("memory",))):
        where = ("cpu",) if "cpu" in taskdef else ()
        sink.error(where, problem)


def check_images(taskdef: dict[str, Any], sink: FileIssues, *, allow_latest: bool) -> None:
    for index, container in enumerate(as_list(taskdef.get("containerDefinitions"))):
        image = as_dict(container).get("image")
        if isinstance(image, str) and image and "{{" not in image and placeholder_problem(image) is None:
            problem = image_problem(image, allow_latest=allow_latest)
            if problem and not sink.has_error_at(("containerDefinitions", index, "image")):  # one error per field
                sink.error(("containerDefinitions", index, "image"), problem)


def container_ports(taskdef: dict[str, Any]) -> dict[str, set[int]]:
    """Container name -> its containerPorts (for load balancer cross-checks)."""
    result: dict[str, set[int]] = {}
    for container in as_list(taskdef.get("containerDefinitions")):
        if isinstance(container, dict) and isinstance(container.get("name"), str):
            result[container["name"]] = {
                pm.get("containerPort") for pm in as_list(container.get("portMappings")) if isinstance(pm, dict)
                and isinstance(pm.get("containerPort"), (int, str))}
    return result


def as_list(value: Any) -> list[Any]:
    """`value` if it is a list, else [] (shape errors are reported by botocore, not here)."""
    return value if isinstance(value, list) else []


def as_dict(value: Any) -> dict[str, Any]:
    """`value` if it is a mapping, else {} (shape errors are reported by botocore, not here)."""
    return value if isinstance(value, dict) else {}
