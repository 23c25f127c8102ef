"""`reconciler.aws.live` against the sandbox over HTTP: batching, caching, autoscaling, accounts."""
from __future__ import annotations

import pytest

from reconciler.aws.clients import AwsClients, CallCounter
from reconciler.aws.errors import AwsError
from reconciler.aws.live import LiveReader, check_account
from reconciler.model import DEFAULT_INSTANCE, ENV_TAG, OWNER_TAG, Environment, PackedDocument

pytestmark = pytest.mark.e2e
ACCOUNT = "123456789012"  # the sandbox's (moto's default) account


@pytest.fixture
def aws_env(sandbox_factory, monkeypatch):
    sandbox = sandbox_factory(seed={"clusters": ["bulk"]})
    for key, value in sandbox.env().items():
        monkeypatch.setenv(key, value)
    return sandbox


def make_services(sandbox, count: int, cluster: str = "bulk") -> list[str]:
    ecs = sandbox.client("ecs")
    arn = ecs.register_task_definition(
        family="bulk", containerDefinitions=[{"name": "app", "image": "busybox:1.36", "memory": 64}],
    )["taskDefinition"]["taskDefinitionArn"]
    names = [f"svc-{i:02d}" for i in range(count)]
    for name in names:
        ecs.create_service(cluster=cluster, serviceName=name, taskDefinition=arn, desiredCount=0,
                           tags=[{"key": OWNER_TAG, "value": DEFAULT_INSTANCE}, {"key": ENV_TAG, "value": "bulk"}])
    return names


def reader() -> tuple[LiveReader, CallCounter]:
    counter = CallCounter()
    return LiveReader(AwsClients(counter=counter), DEFAULT_INSTANCE), counter


def test_describe_services_is_batched_by_ten_and_task_definitions_are_cached(aws_env):
    names = make_services(aws_env, 25)
    live, counter = reader()
    env = Environment(name="bulk", cluster="bulk", region="eu-west-1")

    first = live.read_environment(env, names)
    assert first.error is None and sorted(first.services) == names
    assert counter.get("ecs", "DescribeServices") == 3  # ceil(25 / 10), AWS's per-call maximum
    assert counter.get("ecs", "DescribeTaskDefinition") == 1  # 25 services, one revision

    second = live.read_environment(env, names)
    assert sorted(second.services) == names
    assert counter.get("ecs", "DescribeServices") == 6
    assert counter.get("ecs", "DescribeTaskDefinition") == 1  # immutable revisions: served from the cache


def test_a_scan_keeps_services_compact_and_task_definitions_packed(aws_env):
    """What a scan holds for each service (memory at 10,000 services): the DescribeServices item
    without its events, short strings shared between services; the revision packed, read back
    whole, equal to what DescribeTaskDefinition answers."""
    names = make_services(aws_env, 2)
    ecs = aws_env.client("ecs")
    assert "events" in ecs.describe_services(cluster="bulk", services=names)["services"][0]  # AWS sends them
    live, _ = reader()
    result = live.read_environment(Environment(name="bulk", cluster="bulk", region="eu-west-1"), names)
    a, b = (result.services[n] for n in names)
    assert "events" not in a.service and a.service["serviceName"] == "svc-00"
    assert a.service["status"] is b.service["status"] == "ACTIVE"
    assert a.service["tags"][1]["value"] is b.service["tags"][1]["value"] == "bulk"
    assert isinstance(a.task_definition, PackedDocument)
    described = ecs.describe_task_definition(taskDefinition="bulk:1")["taskDefinition"]
    assert a.task_definition_arn == described["taskDefinitionArn"]
    assert a.task_definition_data() == described  # datetimes included


def test_owned_services_not_in_git_are_found_unowned_ones_ignored(aws_env):
    names = make_services(aws_env, 3)
    ecs = aws_env.client("ecs")
    ecs.create_service(cluster="bulk", serviceName="someone-elses",
                       taskDefinition="bulk:1", desiredCount=0, tags=[{"key": "team", "value": "x"}])
    live, _ = reader()
    env = Environment(name="bulk", cluster="bulk", region="eu-west-1")
    result = live.read_environment(env, ["svc-00"])
    assert sorted(result.services) == names  # svc-01/02 are ours though git no longer lists them


def test_autoscaled_desired_count_is_detected(aws_env):
    make_services(aws_env, 2)
    aws_env.client("application-autoscaling").register_scalable_target(
        ServiceNamespace="ecs", ResourceId="service/bulk/svc-01", ScalableDimension="ecs:service:DesiredCount",
        MinCapacity=1, MaxCapacity=4)
    live, _ = reader()
    result = live.read_environment(Environment(name="bulk", cluster="bulk", region="eu-west-1"), ["svc-00", "svc-01"])
    assert {n: s.autoscaled for n, s in result.services.items()} == {"svc-00": False, "svc-01": True}


def test_cross_account_role_is_assumed_through_sts(aws_env):
    make_services(aws_env, 1)
    live, counter = reader()
    env = Environment(name="bulk", cluster="bulk", region="eu-west-1", account_id=ACCOUNT,
                      role_arn=f"arn:aws:iam::{ACCOUNT}:role/ecs-reconciler", external_id="ext-1")
    result = live.read_environment(env, ["svc-00"])
    assert result.error is None and list(result.services) == ["svc-00"]
    assert counter.get("sts", "AssumeRole") == 1
    caller = live.clients.client("sts", env).get_caller_identity()
    assert ":assumed-role/ecs-reconciler/" in caller["Arn"]  # the role's credentials, not the base ones


def test_account_mismatch_is_refused(aws_env):
    make_services(aws_env, 1)
    live, counter = reader()
    env = Environment(name="bulk", cluster="bulk", region="eu-west-1", account_id="999999999999")
    with pytest.raises(AwsError, match="999999999999"):
        check_account(live.clients, env)
    result = live.read_environment(env, ["svc-00"])
    assert result.error and "refusing" in result.error and not result.services
    assert counter.get("ecs", "DescribeServices") == 0  # nothing read from the wrong account


def test_between_runs_between_read_calls_and_can_abandon_the_sweep(aws_env):
    """A drift scan's yield point: `between` runs between two DescribeServices calls (not before the
    first), and what it raises ends the sweep there, not reported as AWS unreadable."""
    names = make_services(aws_env, 25)
    live, counter = reader()
    env = Environment(name="bulk", cluster="bulk", region="eu-west-1")
    seen: list[int] = []
    live.read_environment(env, names, between=lambda: seen.append(counter.get("ecs", "DescribeServices")))
    assert seen[:2] == [1, 2] and counter.get("ecs", "DescribeServices") == 3

    class GiveWay(Exception):
        pass

    def give_way() -> None:
        raise GiveWay

    with pytest.raises(GiveWay):
        live.read_environment(env, names, between=give_way)
    assert counter.get("ecs", "DescribeServices") == 4  # one more call, then it gave way


def test_sessions_share_one_copy_of_the_api_models(aws_env):
    """An assumed-role session per environment account, and the single-attempt clients that register
    task definitions, read botocore's API models from one loader: one copy of the ECS model in memory
    however many accounts (about 10 MiB each otherwise)."""
    clients = AwsClients()
    roles = [Environment(name=f"e{i}", cluster="bulk", region="eu-west-1",
                         role_arn=f"arn:aws:iam::{ACCOUNT}:role/r{i}") for i in range(2)]
    once = AwsClients(counter=clients.counter, models_from=clients)
    made = [clients.client("ecs"), *(clients.client("ecs", env) for env in roles), once.client("ecs")]
    models = {id(c.meta.service_model._service_description) for c in made}  # noqa: SLF001
    assert len(models) == 1
    assert {id(AwsClients().client("ecs").meta.service_model._service_description)} != models  # noqa: SLF001
