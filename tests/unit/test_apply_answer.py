"""Answering a paused deployment: the PAUSE hook awaiting action, or a CodeDeploy deployment at Ready."""
from __future__ import annotations

from typing import Any

from reconciler.apply.answer import Answerer
from reconciler.model import BlueGreen, Environment, GitOpsSettings, ServiceSpec

ENV = Environment("production", "production", "eu-west-1")


class FakeServiceDeployments:
    def __init__(self, deployments: list[dict[str, Any]]) -> None:
        self.deployments = deployments
        self.calls: list[tuple[str, str, str]] = []

    def ongoing(self, env: Environment, service: str) -> list[dict[str, Any]]:
        return [{"serviceDeploymentArn": d["serviceDeploymentArn"]} for d in self.deployments]

    def describe(self, env: Environment, arn: str) -> dict[str, Any] | None:
        return next(d for d in self.deployments if d["serviceDeploymentArn"] == arn)

    def continue_(self, env: Environment, arn: str, hook_id: str, action: str = "CONTINUE") -> None:
        self.calls.append((arn, hook_id, action))


class FakeCodeDeploy:
    def __init__(self, status: str | None) -> None:
        self.status = status
        self.calls: list[tuple[str, ...]] = []

    def active_deployment(self, env: Environment, application: str, group: str) -> str | None:
        return "d-1" if self.status else None

    def get_deployment(self, env: Environment, deployment_id: str) -> dict[str, Any]:
        return {"status": self.status}

    def continue_deployment(self, env: Environment, deployment_id: str, wait_type: str = "READY_WAIT") -> None:
        self.calls.append(("continue", deployment_id, wait_type))

    def stop_deployment(self, env: Environment, deployment_id: str, rollback: bool = True) -> dict[str, Any]:
        self.calls.append(("stop", deployment_id, str(rollback)))
        return {}


def paused(arn: str = "arn:sd/1") -> dict[str, Any]:
    return {"serviceDeploymentArn": arn, "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT",
            "lifecycleHookDetails": [{"hookId": "ecs-pause-1", "status": "SUCCEEDED"},
                                     {"hookId": "ecs-pause-2", "status": "AWAITING_ACTION"}]}


def code_deploy_spec() -> ServiceSpec:
    bg = BlueGreen(application="api", deployment_group="api-production", deployment_config="x", custom_config=None,
                   hooks={}, container_name="api", container_port=8080)
    return ServiceSpec(environment="production", name="api", service={}, task_definition={},
                       gitops=GitOpsSettings(strategy="blue-green", blue_green=bg), service_file="s.yaml",
                       taskdef_file="t.json")


def test_pause_hook_awaiting_action_is_answered() -> None:
    sds = FakeServiceDeployments([{"serviceDeploymentArn": "arn:sd/0", "lifecycleHookDetails": []}, paused()])
    answer = Answerer(sds, FakeCodeDeploy(None)).answer(ENV, "checkout", None, rollback=True)  # type: ignore[arg-type]
    assert answer.ok and answer.hook_id == "ecs-pause-2" and sds.calls == [("arn:sd/1", "ecs-pause-2", "ROLLBACK")]
    nothing = Answerer(FakeServiceDeployments([]), FakeCodeDeploy(None)).answer(  # type: ignore[arg-type]
        ENV, "checkout", None, rollback=False)
    assert not nothing.ok and "no deployment is waiting" in nothing.message


def test_code_deploy_ready_wait() -> None:
    cd = FakeCodeDeploy("Ready")
    answer = Answerer(FakeServiceDeployments([]), cd).answer(ENV, "api", code_deploy_spec(), rollback=False)  # type: ignore[arg-type]
    assert answer.ok and cd.calls == [("continue", "d-1", "READY_WAIT")]
    busy = FakeCodeDeploy("InProgress")
    answer = Answerer(FakeServiceDeployments([]), busy).answer(ENV, "api", code_deploy_spec(), rollback=False)  # type: ignore[arg-type]
    assert not answer.ok and busy.calls == []
    answer = Answerer(FakeServiceDeployments([]), busy).answer(ENV, "api", code_deploy_spec(), rollback=True)  # type: ignore[arg-type]
    assert answer.ok and busy.calls == [("stop", "d-1", "True")]
