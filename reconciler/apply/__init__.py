"""Apply a plan to AWS: task definitions without churn, rolling and CodeDeploy deployments that wait."""
from reconciler.apply.applier import Applier, needs_follow
from reconciler.apply.clock import Clock, SystemClock
from reconciler.apply.deployments import Controller, Deployments, DeployRequest
from reconciler.apply.recovery import needs_record
from reconciler.apply.result import ApplyResult, ServiceResult
from reconciler.apply.wiring import build_applier
from reconciler.model import PAUSED_TAG

__all__ = ["Applier", "ApplyResult", "Clock", "Controller", "DeployRequest", "Deployments", "PAUSED_TAG",
           "ServiceResult", "SystemClock", "build_applier", "needs_follow", "needs_record", "paused_at"]


def paused_at(tags: dict[str, str]) -> str | None:
    """The commit a manual rollback paused automated sync at (the daemon skips the service until git moves)."""
    return tags.get(PAUSED_TAG)
