"""One home per rule: every user of a rule gives the same answer as the rule itself.

Each test feeds the same inputs through the rule's home and through each place that
uses it, so a copy that drifts from the home (or a new copy) fails here.
"""
from __future__ import annotations

import re
import threading
import typing
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from test_plan_build import INSTANCE, desired, live_env, live_from, spec

from reconciler.apply.fields import create_params, desired_tags, tag_changes
from reconciler.desired import desired_service, is_code_deploy
from reconciler.diff import normalize_service, normalize_task_definition
from reconciler.diff.taskdef import canonical_tags
from reconciler.events import EVENT_KINDS, EventKind
from reconciler.manifests.fargate import parse_cpu, parse_memory
from reconciler.manifests.issues import FileIssues
from reconciler.manifests.service import ServiceDoc, read_service
from reconciler.manifests.taskdef import read_task_definition
from reconciler.model import (
    ENV_TAG,
    OWNER_TAG,
    GitOpsSettings,
    LiveService,
    is_owned,
    is_unmanaged_tag,
    ownership_problem,
    runs_on_fargate,
    tag_dict,
    tag_list,
)
from reconciler.notify import NotifyConfigError, load_notify_config
from reconciler.notify.destinations import GenericWebhookDestination
from reconciler.notify.samples import event
from reconciler.plan import ServicePlan, build_plan
from reconciler.signing import sign
from reconciler.source.hooks import verify_github_signature

ROOT = Path(__file__).resolve().parents[2] / "reconciler"

# --- ownership --------------------------------------------------------------------------------
OWNERSHIP_CASES = [  # (tags, owned in staging)
    ({OWNER_TAG: INSTANCE, ENV_TAG: "staging"}, True),
    ({OWNER_TAG: INSTANCE}, True),                          # created before the environment tag existed
    ({OWNER_TAG: INSTANCE, ENV_TAG: "preview"}, False),     # another environment sharing the cluster
    ({OWNER_TAG: "other-install", ENV_TAG: "staging"}, False),
    ({}, False),
    ({ENV_TAG: "staging"}, False),
]


@pytest.mark.parametrize(("tags", "owned"), OWNERSHIP_CASES)
def test_plan_and_the_rule_agree_on_ownership(tags: dict[str, str], owned: bool) -> None:
    assert is_owned(tag_list(tags), INSTANCE, "staging") is owned
    assert (ownership_problem(tags, INSTANCE, "staging") is None) is owned

    declared = spec()
    live = live_from(declared)
    live = LiveService(environment="staging", name="web", arn=live.arn, task_definition=live.task_definition,
                       service={**live.service, "tags": tag_list(tags)})
    plan = build_plan(desired(declared), live_env(live), INSTANCE)           # declared in git
    assert (plan.services[0].action != "unowned") is owned
    orphan_plan = build_plan(desired(spec(name="other")), live_env(live), INSTANCE)  # gone from git
    assert ("staging/web" in {sp.key for sp in orphan_plan.services}) is owned


def test_ownership_tags_written_are_the_ones_read() -> None:
    params = create_params(spec(), "arn:td", INSTANCE)
    assert is_owned(params["tags"], INSTANCE, "staging")
    assert not is_owned(params["tags"], INSTANCE, "production")


# --- tags -------------------------------------------------------------------------------------
TAG_SHAPES = [
    [{"key": "team", "value": "web"}, {"key": "cost", "value": ""}],
    {"team": "web", "cost": None},                         # YAML map, null value
    [{"key": "team", "value": "web"}, {"key": "cost"}],    # value left out
]


@pytest.mark.parametrize("tags", TAG_SHAPES)
def test_every_reader_of_tags_agrees(tags) -> None:  # noqa: ANN001 - list or map, as users write them
    expected = {"team": "web", "cost": ""}
    assert tag_dict(tags) == expected
    assert tag_dict(tag_list(tag_dict(tags))) == expected                        # round trip
    assert canonical_tags(tags) == expected                                      # diff
    assert desired_tags(spec(service={**spec().service, "tags": tags})) == expected  # apply
    live = live_from(spec())
    assert LiveService("staging", "web", "arn", {"tags": tag_list(expected)}, None).tags == expected
    assert live.tags[OWNER_TAG] == INSTANCE


@pytest.mark.parametrize("key", ["ecs-reconciler:spec-hash", "ecs-reconciler:anything", "aws:cloudformation:stack-name"])
def test_reserved_tags_are_never_drift_never_removed_never_sent_as_ours(key: str) -> None:
    assert is_unmanaged_tag(key)
    assert canonical_tags([{"key": key, "value": "x"}]) == {}                   # diff
    live = live_from(spec())
    live = LiveService("staging", "web", live.arn, {**live.service, "tags": [{"key": key, "value": "x"}]},
                       live.task_definition)
    plan = ServicePlan(environment="staging", name="web", action="update", spec=spec(), live=live)
    assert key not in tag_changes(plan)[1]                                       # apply never removes it
    sink = FileIssues("taskdef.json")
    td, _ = read_task_definition({**spec().task_definition, "tags": [{"key": key, "value": "x"}]}, sink)
    assert td is not None and "tags" not in td and sink.issues[0].severity == "warning"  # loader drops it
    assert not is_unmanaged_tag("team") and not is_unmanaged_tag("ecs-reconciler")


# --- Fargate, task sizes, controller ------------------------------------------------------------
SERVICES = [
    ({"launchType": "FARGATE"}, True),
    ({"capacityProviderStrategy": [{"capacityProvider": "FARGATE_SPOT", "weight": 1}]}, True),
    ({"capacityProviderStrategy": [{"capacityProvider": "my-asg-provider", "weight": 1}]}, False),
    ({"launchType": "EC2"}, False),
    ({}, False),
]


@pytest.mark.parametrize(("service", "fargate"), SERVICES)
def test_loader_and_normalizer_agree_on_fargate(service: dict, fargate: bool) -> None:
    assert runs_on_fargate(service) is fargate
    assert ServiceDoc("web", service, {}).runs_on_fargate() is fargate             # loader: Fargate size checks
    assert ("platformVersion" in normalize_service(service)) is fargate          # diff: LATEST by default


@pytest.mark.parametrize("cpu", ["256", "0.25 vCPU", "1 vcpu", "1vCPU", " 1024 ", "1 cpu", "0.1 vCPU", "", "lots"])
@pytest.mark.parametrize("memory", ["512", "0.5 GB", "1GB", "2 GiB", "2048 MiB", "1.5gb", ""])
def test_validation_and_normalizer_read_task_sizes_alike(cpu: object, memory: object) -> None:
    """A value validation accepts is one the normalizer turns into AWS's integer string, and the same integer."""
    td = {"family": "f", "cpu": cpu, "memory": memory,
          "containerDefinitions": [{"name": "a", "image": "a:1"}]}
    sink = FileIssues("taskdef.json")
    read_task_definition(td, sink)
    rejected = {i.path for i in sink.issues if i.severity == "error"}
    canonical = normalize_task_definition(td)
    for field, parse in (("cpu", parse_cpu), ("memory", parse_memory)):
        accepted = field not in rejected
        assert accepted == str(canonical.get(field, "x")).isdigit(), (field, canonical.get(field), sink.issues)
        if accepted:
            assert canonical[field] == str(parse(td[field]))


@pytest.mark.parametrize("strategy", ["rolling", "blue-green"])
@pytest.mark.parametrize("declared", [None, "ECS", "CODE_DEPLOY"])
def test_loader_desired_and_diff_agree_on_the_controller(strategy: str, declared: str | None) -> None:
    raw = {"launchType": "FARGATE"}
    if declared:
        raw["deploymentController"] = {"type": declared}
    if strategy == "blue-green":
        raw["loadBalancers"] = [{"targetGroupArn": "arn:tg", "containerName": "web", "containerPort": 8080}]
    gitops = {"strategy": strategy}
    if strategy == "blue-green":
        gitops["codeDeploy"] = {"application": "a", "deploymentGroup": "g"}
    sink = FileIssues("service.yaml")
    doc = read_service({**raw, "gitops": gitops}, sink, dir_name="web", cluster=None)
    valid = not sink.has_errors
    assert valid == ((declared or ("CODE_DEPLOY" if strategy == "blue-green" else "ECS")) ==
                     ("CODE_DEPLOY" if strategy == "blue-green" else "ECS")), sink.issues
    assert doc.service.get("deploymentController") == raw.get("deploymentController")  # the loader adds nothing
    if valid:
        s = spec(service={**doc.service, "networkConfiguration": spec().service["networkConfiguration"]},
                 gitops=GitOpsSettings(strategy=strategy))  # type: ignore[arg-type]
        sent = desired_service(s)
        expected = "CODE_DEPLOY" if strategy == "blue-green" else "ECS"
        assert sent.get("deploymentController", {"type": "ECS"})["type"] == expected
        assert normalize_service(sent)["deploymentController"] == {"type": expected}
        assert is_code_deploy(s) is (strategy == "blue-green")
        assert ("deploymentCircuitBreaker" in sent.get("deploymentConfiguration", {})) is (strategy == "rolling")


def test_the_applied_marker_does_not_depend_on_spelling_out_the_implied_controller() -> None:
    """Markers written when the loader still added the implied controller keep matching after upgrade."""
    from reconciler.apply.marker import applied_marker

    blue_green = GitOpsSettings(strategy="blue-green")
    implied = spec(gitops=blue_green)
    explicit = spec(service={**spec().service, "deploymentController": {"type": "CODE_DEPLOY"}}, gitops=blue_green)
    assert "deploymentController" not in implied.service
    assert applied_marker(implied) == applied_marker(explicit)
    assert applied_marker(spec()) != applied_marker(implied)


# --- event kinds ----------------------------------------------------------------------------------
def test_notify_routes_accept_exactly_the_event_kinds() -> None:
    assert frozenset(typing.get_args(EventKind)) == EVENT_KINDS
    config = {"destinations": {"out": {"type": "console"}},
              "routes": [{"kinds": sorted(EVENT_KINDS), "destinations": ["out"]}]}
    assert load_notify_config(config, env={}).routes[0].kinds == EVENT_KINDS
    with pytest.raises(NotifyConfigError, match="unknown kind"):
        load_notify_config({**config, "routes": [{"kinds": ["sync_exploded"], "destinations": ["out"]}]}, env={})


def test_apply_emits_and_notify_batches_sync_kinds_alike() -> None:
    from reconciler.apply.reports import FINAL_KINDS
    from reconciler.events import SYNC_KIND_OF_STATUS
    from reconciler.notify.batching import STATUS_OF_KIND

    assert set(SYNC_KIND_OF_STATUS.values()) == {k for k in EVENT_KINDS if k.startswith("sync_")}
    for status, kind in FINAL_KINDS.items():
        assert STATUS_OF_KIND[kind] == status          # what apply emits, notify reads back as the same status
    assert set(STATUS_OF_KIND) == set(FINAL_KINDS.values()) | {"sync_started"}


# --- the sha256= signature ----------------------------------------------------------------------
def test_a_signed_delivery_verifies_with_the_webhook_check() -> None:
    """What notify signs, the push receiver accepts: both ends use reconciler.signing."""
    received: dict[str, object] = {}

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            received["headers"] = dict(self.headers.items())
            received["body"] = self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        GenericWebhookDestination("hook", url, secret="s3cret").send(event("sync_failed"))
        thread.join(10)
    finally:
        server.server_close()
    headers, body = received["headers"], received["body"]
    assert isinstance(headers, dict) and isinstance(body, bytes)
    signature = headers["X-Signature-256"]
    assert signature == sign("s3cret", body) and signature.startswith("sha256=")
    assert verify_github_signature({"X-Hub-Signature-256": signature}, body, "s3cret")
    assert not verify_github_signature({"X-Hub-Signature-256": signature}, body, "other")


# --- no second copy ----------------------------------------------------------------------------------
COPIES = [  # (what a copy looks like, the one module allowed to hold it; None: nowhere)
    (r'"sha256="', "signing.py"),
    (r'startswith\("FARGATE"\)', "model.py"),
    (r'"FARGATE" in ', "model.py"),
    (r'\{"key": k, "value": v\}', "model.py"),
    (r'"ecs-reconciler:', "model.py"),
    (r'"aws:"', "model.py"),
    (r'\.get\(\(?(OWNER_TAG|ENV_TAG)', "model.py"),
    (r'"deploymentController"\) or \{\}\)\.get\("type"', None),   # read through model.deployment_controller
    (r'"sync_started", "sync_succeeded"', None),                    # events.EVENT_KINDS
    (r'"succeeded": "sync_succeeded"|"sync_succeeded": "succeeded"|\("failed", "sync_failed"\)', "events.py"),
]


@pytest.mark.parametrize(("pattern", "home"), COPIES)
def test_no_copy_of_a_rule_outside_its_home(pattern: str, home: str) -> None:
    """The product (not the sandbox, which imitates AWS on its own) holds each rule once."""
    holders = sorted(str(p.relative_to(ROOT)) for p in ROOT.rglob("*.py")
                     if "sandbox" not in p.parts and re.search(pattern, p.read_text(encoding="utf-8")))
    assert set(holders) <= {home}, f"{pattern!r} found in {holders}"
