"""The files CodePipeline deploy actions use, read from a service directory.

- `imagedefinitions.json` (ECS standard deploy action): `[{"name": container, "imageUri": uri}]`;
  each entry replaces the image of the container of that name ([cp-ug] file-reference
  "imagedefinitions.json file for Amazon ECS standard deployment actions").
- `imageDetail.json` (ECS blue/green action): `{"ImageURI": uri}`; fills the `<IMAGE1_NAME>`
  placeholder of the task definition ([cp-ug] file-reference "imageDetail.json file for
  Amazon ECS blue/green deployment actions"; the action's Image1ContainerName placeholder).
- `appspec.yaml` / `appspec.json` (CodeDeploy ECS AppSpec, [cd-ug] reference-appspec-file-
  structure-resources and -hooks): its Hooks go into the deployments the reconciler creates;
  `TaskDefinition: <TASK_DEFINITION>` is the placeholder CodePipeline fills, and the
  reconciler fills it the same way; container and port must agree with service.yaml.

Problems are Issues of the file they are in (`file:line: path: reason`), collected in the
service's own issue list so a bad pipeline file breaks only its service.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from reconciler.manifests.documents import read_document
from reconciler.manifests.issues import FileIssues
from reconciler.manifests.schema import schema
from reconciler.manifests.service import ServiceDoc
from reconciler.manifests.yamlsource import JsonPath

IMAGE_DEFINITIONS = "imagedefinitions.json"
IMAGE_DETAIL = "imageDetail.json"
APPSPEC_FILES = ("appspec.yaml", "appspec.yml", "appspec.json")
IMAGE_PLACEHOLDER = "<IMAGE1_NAME>"
TASK_DEFINITION_PLACEHOLDER = "<TASK_DEFINITION>"
#: AppSpec properties the reconciler takes from service.yaml instead (warned about, never used).
_FROM_SERVICE_YAML = ("PlatformVersion", "NetworkConfiguration", "CapacityProviderStrategy")

Rel = Callable[[Path], str]


def _read(path: Path, rel: Rel, root: Path, shared: FileIssues) -> tuple[Any, FileIssues]:
    """Parse a pipeline file (refused when it is a symlink out of `root`); its issues land in
    `shared`'s list (the service's)."""
    data, own = read_document(path, rel(path), root)
    shared.issues.extend(own.issues)
    return data, FileIssues(own.file, own.parsed, (), shared.issues)


def _containers(taskdef: Any) -> list[Any]:
    """containerDefinitions of a RegisterTaskDefinition input or a describe output."""
    if isinstance(taskdef, dict) and isinstance(taskdef.get("taskDefinition"), dict):
        taskdef = taskdef["taskDefinition"]
    inner = taskdef.get("containerDefinitions") if isinstance(taskdef, dict) else None
    return inner if isinstance(inner, list) else []


def apply_image_files(svc_dir: Path, rel: Rel, root: Path, taskdef: Any, taskdef_sink: FileIssues, taskdef_name: str) -> None:
    """Set images from imageDetail.json / imagedefinitions.json in place; report what is wrong."""
    named = [c for c in _containers(taskdef) if isinstance(c, dict)]
    detail = svc_dir / IMAGE_DETAIL
    filled = 0
    if detail.is_file():
        uri = _image_detail(detail, rel, root, taskdef_sink)
        for container in named:
            if container.get("image") == IMAGE_PLACEHOLDER and uri:
                container["image"] = uri
                filled += 1
        if uri and not filled:
            FileIssues(rel(detail), None, (), taskdef_sink.issues).warning(
                (), f"not used: no container image in {taskdef_name} is {IMAGE_PLACEHOLDER}")
    definitions = svc_dir / IMAGE_DEFINITIONS
    if definitions.is_file():
        by_name = {c.get("name"): c for c in named if isinstance(c.get("name"), str)}
        for name, uri, sink, path in _image_definitions(definitions, rel, root, taskdef_sink):
            if name not in by_name:
                sink.error(path, f"no container named {name!r} in {taskdef_name} "
                                 f"(containers: {', '.join(sorted(by_name)) or 'none'})")
            else:
                by_name[name]["image"] = uri
    # A placeholder left unfilled is reported by the task definition checks (images.placeholder_problem).


def _image_detail(path: Path, rel: Rel, root: Path, shared: FileIssues) -> str | None:
    data, sink = _read(path, rel, root, shared)
    if data is None:
        return None
    uri = data.get("ImageURI") if isinstance(data, dict) else None
    if not isinstance(uri, str) or not uri.strip():
        sink.error(("ImageURI",) if isinstance(data, dict) else (),
                   'expected {"ImageURI": "<registry>/<repository>:<tag or @digest>"}')
        return None
    return uri.strip()


def _image_definitions(path: Path, rel: Rel, root: Path, shared: FileIssues) -> list[tuple[str, str, FileIssues, JsonPath]]:
    data, sink = _read(path, rel, root, shared)
    if data is None:
        return []
    if not isinstance(data, list):
        sink.error((), 'expected a list like [{"name": "<container>", "imageUri": "<image>"}]')
        return []
    entries: list[tuple[str, str, FileIssues, JsonPath]] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(data):
        name = entry.get("name") if isinstance(entry, dict) else None
        uri = entry.get("imageUri") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not name:
            sink.error((index,), 'each entry needs "name": the container to set the image of')
        elif not isinstance(uri, str) or not uri.strip():
            sink.error((index, "imageUri") if isinstance(entry, dict) and "imageUri" in entry else (index,),
                       'each entry needs "imageUri": the image to run')
        elif name in seen:
            sink.error((index, "name"), f"container {name!r} is listed twice (also [{seen[name]}])")
        else:
            seen[name] = index
            entries.append((name, uri.strip(), sink, (index, "name")))
    return entries


# ----- appspec ----------------------------------------------------------------------------
def hook_names() -> tuple[str, ...]:
    """The ECS AppSpec hooks, in lifecycle order, as the published schema lists them."""
    return tuple(schema("codeDeploy")["$defs"]["codeDeploy"]["properties"]["hooks"]["properties"])


def find_appspec(svc_dir: Path) -> Path | None:
    return next((svc_dir / n for n in APPSPEC_FILES if (svc_dir / n).is_file()), None)


def read_appspec(path: Path, rel: Rel, root: Path, service_sink: FileIssues, *, blue_green: bool,
                 target: tuple[Any, Any]) -> dict[str, str] | None:
    """The hooks of an AppSpec file, after checking it against service.yaml.

    `target` is the (container name, container port) service.yaml deploys behind the
    load balancer. Returns None when the file is unusable or not for this service.
    """
    data, sink = _read(path, rel, root, service_sink)
    if data is None:
        return None
    if not blue_green:
        sink.warning((), "ignored: an AppSpec is used by blue-green (CODE_DEPLOY) services only")
        return None
    if not isinstance(data, dict):
        sink.error((), "expected an AppSpec mapping (version, Resources, Hooks)")
        return None
    _check_resources(data.get("Resources"), sink, target)
    return _hooks(data.get("Hooks"), sink)


def _check_resources(resources: Any, sink: FileIssues, target: tuple[Any, Any]) -> None:
    if resources is None:
        return
    if not isinstance(resources, list) or len(resources) != 1 or not isinstance(resources[0], dict):
        sink.error(("Resources",), "an ECS AppSpec has exactly one resource: [{TargetService: ...}]")
        return
    name, item = next(iter(resources[0].items()))
    base: JsonPath = ("Resources", 0, name)
    if not isinstance(item, dict) or item.get("Type", "AWS::ECS::Service") != "AWS::ECS::Service":
        sink.error((*base, "Type"), "the resource must be of Type AWS::ECS::Service")
        return
    props = item.get("Properties") if isinstance(item.get("Properties"), dict) else {}
    where = (*base, "Properties")
    td = props.get("TaskDefinition")
    if td is not None and td != TASK_DEFINITION_PLACEHOLDER:
        sink.error((*where, "TaskDefinition"), f"must be the {TASK_DEFINITION_PLACEHOLDER} placeholder: the "
                                               "reconciler deploys the revision it registers from the taskdef file")
    lb = props.get("LoadBalancerInfo") if isinstance(props.get("LoadBalancerInfo"), dict) else {}
    for key, expected, what in (("ContainerName", target[0], "containerName"),
                                ("ContainerPort", target[1], "containerPort")):
        if key in lb and str(lb[key]) != str(expected):
            sink.error((*where, "LoadBalancerInfo", key),
                       f"{lb[key]!r} contradicts service.yaml, which deploys {what} {expected!r} "
                       "(loadBalancers[0] or gitops.codeDeploy)")
    for key in _FROM_SERVICE_YAML:
        if key in props:
            sink.warning((*where, key), "ignored: the reconciler takes this from service.yaml")


def _hooks(hooks: Any, sink: FileIssues) -> dict[str, str]:
    if hooks is None:
        return {}
    known = hook_names()
    if not isinstance(hooks, list):
        sink.error(("Hooks",), "expected a list like [{BeforeInstall: <Lambda function name or ARN>}]")
        return {}
    found: dict[str, str] = {}
    for index, entry in enumerate(hooks):
        if not isinstance(entry, dict) or len(entry) != 1:
            sink.error(("Hooks", index), "each hook is one `<hook>: <Lambda function name or ARN>` entry")
            continue
        hook, function = next(iter(entry.items()))
        if hook not in known:
            sink.error(("Hooks", index, hook), f"unknown ECS hook {hook!r}; ECS hooks are {', '.join(known)}")
        elif not isinstance(function, str) or not function:
            sink.error(("Hooks", index, hook), "expected the Lambda function name or ARN")
        elif hook in found:
            sink.error(("Hooks", index, hook), f"hook {hook} is listed twice")
        else:
            found[hook] = function
    return found


def with_appspec(svc_dir: Path, rel: Rel, root: Path, doc: ServiceDoc, service_sink: FileIssues) -> ServiceDoc:
    """`doc` (a ServiceDoc) with the AppSpec's hooks in gitops.codeDeploy.hooks, if there is an AppSpec."""
    path = find_appspec(svc_dir)
    if path is None:
        return doc
    code_deploy = doc.gitops.get("codeDeploy") if isinstance(doc.gitops.get("codeDeploy"), dict) else {}
    lbs = doc.service.get("loadBalancers")
    first = lbs[0] if isinstance(lbs, list) and lbs and isinstance(lbs[0], dict) else {}
    target = (code_deploy.get("containerName", first.get("containerName")),
              code_deploy.get("containerPort", first.get("containerPort")))
    hooks = read_appspec(path, rel, root, service_sink, blue_green=doc.strategy == "blue-green", target=target)
    if not hooks:
        return doc
    declared = code_deploy.get("hooks") if isinstance(code_deploy.get("hooks"), dict) else {}
    for hook, function in hooks.items():
        if hook in declared and declared[hook] != function:
            service_sink.error(("gitops", "codeDeploy", "hooks", hook),
                               f"{declared[hook]!r} contradicts {rel(path)}, which runs {function!r}; keep one")
    merged = {h: {**hooks, **declared}[h] for h in hook_names() if h in hooks or h in declared}
    return replace(doc, gitops={**doc.gitops, "codeDeploy": {**code_deploy, "hooks": merged}})
