"""The moto internals the sandbox relies on, checked loudly at start-up.

The fidelity layer reads and writes moto's in-process backends, so it only works
with the moto version it was written against (pyproject pins moto==5.2.1).
"""
from __future__ import annotations

import contextlib
import importlib
import re
from collections.abc import Iterator
from typing import Any

EXPECTED_MOTO = "5.2.1"

#: (module, attribute path) pairs the sandbox touches.
REQUIRED: tuple[tuple[str, str], ...] = (
    ("moto.ecs.models", "ecs_backends"),
    ("moto.ecs.models", "EC2ContainerServiceBackend.register_task_definition"),
    ("moto.ecs.models", "EC2ContainerServiceBackend.deregister_task_definition"),
    ("moto.ecs.models", "EC2ContainerServiceBackend.create_service"),
    ("moto.ecs.models", "EC2ContainerServiceBackend.delete_service"),
    ("moto.ecs.models", "EC2ContainerServiceBackend.list_tags_for_resource"),
    ("moto.ecs.models", "EC2ContainerServiceBackend.describe_task_definition"),
    ("moto.ecs.models", "EC2ContainerServiceBackend._get_cluster"),
    ("moto.ecs.models", "EC2ContainerServiceBackend.list_task_definitions"),
    ("moto.ecs.models", "EC2ContainerServiceBackend._merge_tags"),
    ("moto.ecr.models", "ecr_backends"),
    ("moto.ecr.models", "Image.image_tags"),
    ("moto.elbv2.models", "elbv2_backends"),
    ("moto.secretsmanager.models", "secretsmanager_backends"),
    ("moto.logs.models", "logs_backends"),
    ("moto.codedeploy.models", "codedeploy_backends"),
    ("moto.cloudwatch.models", "cloudwatch_backends"),
    ("moto.elbv2.models", "ELBv2Backend.describe_rules"),
    ("moto.elbv2.models", "FakeListener.rules"),
    ("moto.codedeploy.models", "CodeDeployBackend.get_deployment_group"),
    ("moto.ec2.models.subnets", "random_subnet_id"),
    ("moto.ec2.models.security_groups", "random_security_group_id"),
    ("moto.moto_api._internal.models", "moto_api_backend"),
    ("moto.moto_server.werkzeug_app", "DomainDispatcherApplication"),
    ("moto.moto_server.werkzeug_app", "create_backend_app"),
)


class MotoIncompatible(RuntimeError):
    """moto changed under the fidelity layer: fix the layer before trusting the sandbox."""


def check_moto() -> None:
    import moto

    if moto.__version__ != EXPECTED_MOTO:
        raise MotoIncompatible(f"sandbox needs moto=={EXPECTED_MOTO}, found {moto.__version__}")
    for module_name, path in REQUIRED:
        obj: Any = importlib.import_module(module_name)
        for part in path.split("."):
            if part == "image_tags":
                # instance attribute: check it is set in Image.__init__
                import inspect

                if "self.image_tags" not in inspect.getsource(obj):
                    raise MotoIncompatible(f"{module_name}.{path} is gone")
                break
            if not hasattr(obj, part):
                raise MotoIncompatible(f"{module_name}.{path} is gone (moto internals changed)")
            obj = getattr(obj, part)


def ecs_backend(account: str, region: str) -> Any:
    from moto.ecs.models import ecs_backends

    return ecs_backends[account][region]


def _ecs_service(backend: Any, cluster: str, name: str, arn: str) -> Any:
    """moto's service found by its own key (`cluster:name`), or None: moto's tag actions find it by
    scanning every service and rendering each one's ARN, O(N) per call."""
    service = backend.services.get(f"{cluster}:{name}")
    return service if service is not None and service.arn == arn else None


def ecs_service_tags(account: str, region: str, cluster: str, name: str, arn: str) -> list[dict[str, str]]:
    """A service's tags without moto's scan (`list_tags_for_resource`: O(N²) per DescribeServices
    sweep of a large cluster, 64 % of the sandbox's time in a 1000-service no-op scan)."""
    backend = ecs_backend(account, region)
    service = _ecs_service(backend, cluster, name, arn)
    return service.tags if service is not None else backend.list_tags_for_resource(arn)


_SERVICE_ARN = re.compile(r"^arn:aws:ecs:[^:]+:\d{12}:service/(?P<cluster>[^/]+)/(?P<name>[^/]+)$")


def retag_ecs_service(account: str, region: str, arn: str, add: list[dict[str, str]] | None,
                      remove: list[str] | None) -> bool:
    """TagResource / UntagResource on a service ARN, with moto's own semantics (`_merge_tags`: the new
    tags first, then the old keys not given; untag keeps the other keys) but without its scan of every
    service (the reconciler tags each service it applied: O(N²) over an environment-wide push).
    False when `arn` is not a service moto holds: the caller lets moto answer (and fail) as before."""
    match = _SERVICE_ARN.match(arn)
    backend = ecs_backend(account, region)
    service = _ecs_service(backend, match["cluster"], match["name"], arn) if match else None
    if service is None:
        return False
    if add is not None:
        service.tags = backend._merge_tags(service.tags or [], add)
    if remove is not None:
        service.tags = [tag for tag in service.tags if tag["key"] not in remove]
    return True


def family_task_definition_arns(account: str, region: str, family: str, status: str) -> list[str]:
    """moto's ListTaskDefinitions answer for one exact family, read from that family's revisions:
    moto's own walks every family's revisions, O(N) per call and O(N²) over the creation of N
    services (the reconciler lists the family's recent revisions before registering one)."""
    revisions = ecs_backend(account, region).task_definitions.get(family) or {}
    return [td.arn for td in revisions.values() if td.status == status]


def ecr_backend(account: str, region: str) -> Any:
    from moto.ecr.models import ecr_backends

    return ecr_backends[account][region]


def elbv2_backend(account: str, region: str) -> Any:
    from moto.elbv2.models import elbv2_backends

    return elbv2_backends[account][region]


def codedeploy_backend(account: str, region: str) -> Any:
    from moto.codedeploy.models import codedeploy_backends

    return codedeploy_backends[account][region]


def reset_moto() -> None:
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()


def _signing_scope(environ: dict[str, Any]) -> tuple[str, str] | None:
    """(region, service) from a SigV4 `Authorization` credential scope, or None."""
    auth = environ.get("HTTP_AUTHORIZATION") or ""
    try:
        _, _, region, service, _ = auth.split(",")[0].split()[1].split("/")
    except (IndexError, ValueError):
        return None
    return region, service.lower()


def moto_wsgi_app() -> Any:
    """moto's dispatcher, with the backend app cached per (host, region, signing service).

    moto resolves the backend on every request by listing its package directory and
    matching ~200 URL patterns under one global lock; for a signed request the answer
    only depends on the host and the credential scope, so it is looked up once.
    Unsigned, moto-api, metadata and path-routed services (bedrock*, execute-api) keep
    moto's own resolution.
    """
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    class CachedDispatcher(DomainDispatcherApplication):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__(create_backend_app)
            self._resolved: dict[tuple[str, str, str], Any] = {}

        def get_application(self, environ: dict[str, Any]) -> Any:
            scope = _signing_scope(environ)
            path = str(environ.get("PATH_INFO", ""))
            if scope is None or scope[1].startswith(("bedrock", "execute-api")) or \
                    path.startswith(("/moto-api", "/latest/", "/favicon.ico")):
                return super().get_application(environ)
            key = (str(environ.get("HTTP_HOST", "")), *scope)
            app = self._resolved.get(key)
            if app is None:
                app = self._resolved[key] = super().get_application(environ)
            return app

    return CachedDispatcher()


@contextlib.contextmanager
def exact_ec2_ids(subnets: list[str], security_groups: list[str]) -> Iterator[None]:
    """Make the next created subnets / security groups get these exact IDs (for the seed)."""
    import moto.ec2.models.security_groups as sg_mod
    import moto.ec2.models.subnets as subnet_mod

    subnet_queue, sg_queue = list(subnets), list(security_groups)
    orig_subnet, orig_sg = subnet_mod.random_subnet_id, sg_mod.random_security_group_id
    subnet_mod.random_subnet_id = lambda: subnet_queue.pop(0) if subnet_queue else orig_subnet()
    sg_mod.random_security_group_id = lambda: sg_queue.pop(0) if sg_queue else orig_sg()
    try:
        yield
    finally:
        subnet_mod.random_subnet_id, sg_mod.random_security_group_id = orig_subnet, orig_sg


def rekey_target_group(account: str, region: str, old_arn: str, new_arn: str) -> None:
    """Give a moto target group the exact ARN the manifests use (moto randomises the suffix)."""
    backend = elbv2_backend(account, region)
    tg = backend.target_groups.pop(old_arn)
    tg.arn = new_arn
    backend.target_groups[new_arn] = tg


def image_tag_exists(account: str, region: str, repository: str, tag: str) -> bool:
    repo = ecr_backend(account, region).repositories.get(repository)
    return bool(repo) and any(tag in image.image_tags for image in repo.images)


def pin_secret_arn(account: str, region: str, name: str, arn: str) -> None:
    """Give a moto secret the exact ARN the manifests use (moto randomises the 6-character suffix)."""
    from moto.secretsmanager.models import secretsmanager_backends

    secretsmanager_backends[account][region].secrets[name].arn = arn


def write_log_events(account: str, region: str, group: str, stream: str, events: list[dict[str, Any]]) -> None:
    """What the awslogs driver does for a container: group (created when missing), stream, events."""
    from moto.logs.models import logs_backends

    backend = logs_backends[account][region]
    if group not in backend.groups:
        backend.create_log_group(group, {})
    log_group = backend.groups[group]
    if stream not in log_group.streams:
        log_group.create_log_stream(stream)
    log_group.put_log_events(stream, events)


def alarm_state(account: str, region: str, name: str) -> str | None:
    """StateValue of a CloudWatch alarm (as set by PutMetricAlarm / SetAlarmState), or None."""
    from moto.cloudwatch.models import cloudwatch_backends

    alarm = cloudwatch_backends[account][region].alarms.get(name)
    return alarm.state_value if alarm is not None else None


def _forward_actions(account: str, region: str, arn: str) -> list[Any]:
    """The actions of a listener rule (ALB: rule ARN) or a listener's default actions (NLB: listener ARN)."""
    backend = elbv2_backend(account, region)
    for lb in backend.load_balancers.values():
        for listener in lb.listeners.values():
            if listener.arn == arn:
                return list(listener.default_actions)
            for rule in listener.rules.values():
                if rule.arn == arn:
                    return list(rule.actions)
    return []


def set_forward_weights(account: str, region: str, arn: str, weights: dict[str, int]) -> None:
    """Set the weights of the target groups a forward action names, in place (moto renders `data`)."""
    for action in _forward_actions(account, region, arn):
        for group in ((action.data.get("ForwardConfig") or {}).get("TargetGroups") or []):
            if group.get("TargetGroupArn") in weights:
                group["Weight"] = int(weights[group["TargetGroupArn"]])


def forward_weights(account: str, region: str, arn: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for action in _forward_actions(account, region, arn):
        for group in ((action.data.get("ForwardConfig") or {}).get("TargetGroups") or []):
            out[group["TargetGroupArn"]] = int(group.get("Weight", 1))
    return out


def rekey_listener(account: str, region: str, old_arn: str, new_arn: str) -> None:
    """Give a moto listener the exact ARN a manifest uses."""
    backend = elbv2_backend(account, region)
    for lb in backend.load_balancers.values():
        if old_arn in lb.listeners:
            listener = lb.listeners.pop(old_arn)
            listener.arn = new_arn
            for rule in listener.rules.values():
                rule.listener_arn = new_arn
            lb.listeners[new_arn] = listener


def rekey_rule(account: str, region: str, listener_arn: str, old_arn: str, new_arn: str) -> None:
    """Give a moto listener rule the exact ARN a manifest uses."""
    backend = elbv2_backend(account, region)
    for lb in backend.load_balancers.values():
        listener = lb.listeners.get(listener_arn)
        if listener is not None and old_arn in listener._non_default_rules:
            rule = listener._non_default_rules.pop(old_arn)
            rule.arn = new_arn
            listener._non_default_rules[new_arn] = rule
