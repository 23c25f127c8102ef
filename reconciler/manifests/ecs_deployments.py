"""ECS-native deployment settings in service.yaml: the combinations AWS refuses.

Fields keep AWS's names: `deploymentConfiguration.strategy`, `bakeTimeInMinutes`,
`linearConfiguration`, `canaryConfiguration`, `alarms`, `lifecycleHooks`, and
`loadBalancers[].advancedConfiguration`. botocore already checks their shapes and
enums (awsmodel.check_shape); this module checks what the shapes cannot say.
Sources (reference ecs-native-deployments.md; [BC] = botocore 1.43.11 ecs model,
[DG:x] = ECS developer guide page x):
- strategy, alarms and lifecycle hooks belong to the ECS deployment controller [BC CreateService,
  DeploymentAlarms];
- BLUE_GREEN needs bakeTimeInMinutes [BC DeploymentConfiguration.bakeTimeInMinutes];
- linearConfiguration only with LINEAR, canaryConfiguration only with CANARY; stepPercent
  3.0-100.0 and canaryPercent 0.1-100.0 in multiples of 0.1, step/canary bake 0-1440 minutes
  [BC LinearConfiguration, CanaryConfiguration];
- PAUSE hooks never at TEST_TRAFFIC_SHIFT or PRODUCTION_TRAFFIC_SHIFT; at most 10 pause and
  10 Lambda hooks; timeouts 1-20160 minutes (Lambda 1-1440) [DG:pause-lifecycle-hooks,
  DG:lambda-lifecycle-hooks]; Lambda hooks need hookTargetArn and roleArn [DG:lambda-lifecycle-hooks];
- traffic shifting with a load balancer needs advancedConfiguration with the alternate target
  group, the production listener rule and the role; LINEAR/CANARY need ALB/NLB or Service
  Connect [BC CreateService; DG:blue-green-deployment-implementation]; both target groups
  must differ (ECS fails the deployment otherwise, DG:migrate-code-deploy-to-ecs-blue-green).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from reconciler.manifests.issues import FileIssues

NATIVE = ("BLUE_GREEN", "LINEAR", "CANARY")
NO_PAUSE_STAGES = ("TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT")
MAX_HOOKS_PER_KIND = 10
MAX_PAUSE_TIMEOUT, MAX_LAMBDA_TIMEOUT = 20160, 1440
MAX_STEP_BAKE = 1440
#: (config key, strategy, percent field, low, bake field)
_STEP_CONFIGS = (("linearConfiguration", "LINEAR", "stepPercent", 3.0, "stepBakeTimeInMinutes"),
                 ("canaryConfiguration", "CANARY", "canaryPercent", 0.1, "canaryBakeTimeInMinutes"))
_ADVANCED_REQUIRED = ("alternateTargetGroupArn", "productionListenerRule", "roleArn")

#: [BC] LinearConfiguration / CanaryConfiguration defaults.
LINEAR_DEFAULTS = {"stepPercent": 10.0, "stepBakeTimeInMinutes": 6}
CANARY_DEFAULTS = {"canaryPercent": 5.0, "canaryBakeTimeInMinutes": 10}

Path = tuple[Any, ...]
DC: Path = ("deploymentConfiguration",)


def native_strategy(service: Mapping[str, Any]) -> str | None:
    """BLUE_GREEN / LINEAR / CANARY when the service uses ECS-native traffic shifting, else None."""
    config = service.get("deploymentConfiguration")
    strategy = config.get("strategy") if isinstance(config, Mapping) else None
    return strategy if strategy in NATIVE else None


def production_steps(config: Mapping[str, Any]) -> list[tuple[float, float]]:
    """[(percent of production traffic on green after the step, bake seconds after it)].

    LINEAR: equal stepPercent steps, stepBakeTimeInMinutes between them and none after the
    step reaching 100 % [DG:deployment-type-linear]; the step count is ceil(100/stepPercent)
    and the last step is capped at 100 % (inference from CloudFormation's step formula,
    reference §3.2). CANARY: canaryPercent, canaryBakeTimeInMinutes, then 100 %
    [DG:canary-deployment]. BLUE_GREEN: one step to 100 %.
    """
    strategy = config.get("strategy")
    if strategy == "CANARY":
        canary = {**CANARY_DEFAULTS, **dict(config.get("canaryConfiguration") or {})}
        pct = float(canary["canaryPercent"])
        return [(pct, float(canary["canaryBakeTimeInMinutes"]) * 60.0), (100.0, 0.0)] if pct < 100 else [(100.0, 0.0)]
    if strategy == "LINEAR":
        linear = {**LINEAR_DEFAULTS, **dict(config.get("linearConfiguration") or {})}
        step, bake = float(linear["stepPercent"]), float(linear["stepBakeTimeInMinutes"]) * 60.0
        count = max(1, math.ceil(round(100.0 / step, 6)))
        weights = [min(100.0, round(step * (i + 1), 1)) for i in range(count)]
        weights[-1] = 100.0
        return [(w, 0.0 if w >= 100.0 else bake) for w in weights]
    return [(100.0, 0.0)]


def check_ecs_deployments(service: Mapping[str, Any], sink: FileIssues) -> None:
    """Errors (file:line via `sink`) for native-deployment settings AWS refuses."""
    config = service.get("deploymentConfiguration")
    if not isinstance(config, Mapping):
        return
    controller = service.get("deploymentController")
    kind = controller.get("type", "ECS") if isinstance(controller, Mapping) else "ECS"
    strategy = config.get("strategy")
    if kind != "ECS":
        for key in ("strategy", "alarms", "lifecycleHooks", "bakeTimeInMinutes", "linearConfiguration",
                    "canaryConfiguration"):
            if key in config and not (key == "strategy" and strategy == "ROLLING"):
                sink.error((*DC, key), f"{key} needs the ECS deployment controller (deploymentController is {kind})")
        return
    if strategy == "BLUE_GREEN" and "bakeTimeInMinutes" not in config:
        sink.error((*DC,), "strategy BLUE_GREEN needs bakeTimeInMinutes (the minutes blue and green run side by "
                          "side after production traffic moved; 0 for none)")
    bake = config.get("bakeTimeInMinutes")
    if isinstance(bake, int) and bake < 0:
        sink.error((*DC, "bakeTimeInMinutes"), f"bakeTimeInMinutes {bake} must be 0 or more")
    for key, wanted, percent_key, low, bake_key in _STEP_CONFIGS:
        _check_steps(config, sink, key, wanted, percent_key, low, bake_key)
    _check_hooks(config.get("lifecycleHooks"), sink)
    if strategy in NATIVE:
        _check_traffic(service, str(strategy), sink)


def _check_steps(config: Mapping[str, Any], sink: FileIssues, key: str, wanted: str, percent_key: str,
                 low: float, bake_key: str) -> None:
    block = config.get(key)
    if block is None:
        return
    if config.get("strategy") != wanted:
        sink.error((*DC, key), f"{key} is only valid with strategy {wanted} (strategy is "
                               f"{config.get('strategy') or 'ROLLING'})")
    if not isinstance(block, Mapping):
        return
    percent = block.get(percent_key)
    if isinstance(percent, (int, float)) and not isinstance(percent, bool):
        tenths = round(percent * 10)
        if not low <= percent <= 100.0 or abs(percent * 10 - tenths) > 1e-6:
            sink.error((*DC, key, percent_key),
                       f"{percent_key} {percent} must be a multiple of 0.1 from {low} to 100.0")
    minutes = block.get(bake_key)
    if isinstance(minutes, int) and not 0 <= minutes <= MAX_STEP_BAKE:
        sink.error((*DC, key, bake_key), f"{bake_key} {minutes} must be from 0 to {MAX_STEP_BAKE}")


def _check_hooks(hooks: Any, sink: FileIssues) -> None:
    if not isinstance(hooks, list):
        return
    counts = {"PAUSE": 0, "AWS_LAMBDA": 0}
    for index, hook in enumerate(hooks):
        if not isinstance(hook, Mapping):
            continue
        where = (*DC, "lifecycleHooks", index)
        kind = hook.get("targetType") or "AWS_LAMBDA"
        counts[kind] = counts.get(kind, 0) + 1  # an unknown targetType is botocore's enum error
        stages = hook.get("lifecycleStages") if isinstance(hook.get("lifecycleStages"), list) else []
        if kind == "PAUSE":
            for pos, stage in enumerate(stages):
                if stage in NO_PAUSE_STAGES:
                    sink.error((*where, "lifecycleStages", pos),
                               f"a PAUSE hook cannot run at {stage}: that stage also runs during rollback, "
                               "so the rollback would wait for a second continue")
            for key in ("hookTargetArn", "roleArn"):
                if key in hook:
                    sink.warning((*where, key), f"{key} is not used by PAUSE hooks")
        elif kind == "AWS_LAMBDA":
            for key in ("hookTargetArn", "roleArn"):
                if not hook.get(key):
                    sink.error(where, f"a Lambda hook (targetType AWS_LAMBDA, the default) needs {key}")
        timeout = hook.get("timeoutConfiguration")
        minutes = timeout.get("timeoutInMinutes") if isinstance(timeout, Mapping) else None
        limit = MAX_PAUSE_TIMEOUT if kind == "PAUSE" else MAX_LAMBDA_TIMEOUT
        if isinstance(minutes, int) and not 1 <= minutes <= limit:
            sink.error((*where, "timeoutConfiguration", "timeoutInMinutes"),
                       f"timeoutInMinutes {minutes} must be from 1 to {limit} for a {kind} hook")
    for kind, count in counts.items():
        if count > MAX_HOOKS_PER_KIND:
            sink.error((*DC, "lifecycleHooks"), f"{count} {kind} hooks: at most {MAX_HOOKS_PER_KIND} per service")


def _check_traffic(service: Mapping[str, Any], strategy: str, sink: FileIssues) -> None:
    lbs = service.get("loadBalancers") if isinstance(service.get("loadBalancers"), list) else []
    shifting = False
    for index, lb in enumerate(lbs):
        if not isinstance(lb, Mapping):
            continue
        advanced = lb.get("advancedConfiguration")
        if not isinstance(advanced, Mapping):
            sink.error(("loadBalancers", index),
                       f"strategy {strategy} shifts traffic between two target groups: add advancedConfiguration "
                       "(alternateTargetGroupArn, productionListenerRule, roleArn)")
            continue
        shifting = True
        for key in _ADVANCED_REQUIRED:
            if not advanced.get(key):
                sink.error(("loadBalancers", index, "advancedConfiguration"), f"advancedConfiguration needs {key}")
        if advanced.get("alternateTargetGroupArn") and advanced.get("alternateTargetGroupArn") == lb.get("targetGroupArn"):
            sink.error(("loadBalancers", index, "advancedConfiguration", "alternateTargetGroupArn"),
                       "alternateTargetGroupArn must differ from targetGroupArn")
    if strategy in ("LINEAR", "CANARY") and not shifting and not service.get("serviceConnectConfiguration"):
        sink.error((*DC, "strategy"), f"strategy {strategy} needs a load balancer with advancedConfiguration "
                                      "or serviceConnectConfiguration to shift traffic in steps")
