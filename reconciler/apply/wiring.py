"""Build an Applier and its collaborators from AWS clients: the one place that wires the real ones."""
from __future__ import annotations

from reconciler.apply.applier import Applier
from reconciler.apply.attempts import AttemptHistory
from reconciler.apply.bluegreen import BlueGreenDeployer
from reconciler.apply.clock import Clock, SystemClock
from reconciler.apply.continuation import keep_waiting
from reconciler.apply.deployments import build_deployments
from reconciler.apply.hooks import HookRunner
from reconciler.apply.native import NativeController, with_native
from reconciler.apply.progress import ProgressCallback
from reconciler.apply.rolling import RollingWaiter
from reconciler.aws.clients import AwsClients
from reconciler.aws.codedeploy import CodeDeploy
from reconciler.aws.ecs_write import EcsWriter
from reconciler.aws.live import LiveReader
from reconciler.aws.service_deployments import ServiceDeployments
from reconciler.aws.taskdefs import Pacer, TaskDefinitions
from reconciler.aws.tasks import TaskRunner
from reconciler.events import ReportSink
from reconciler.verify import Verifier


def build_applier(clients: AwsClients, reader: LiveReader, instance: str, sink: ReportSink, *,
                  max_parallel: int = 8, clock: Clock | None = None, poll_interval: float = 5.0,
                  on_progress: ProgressCallback | None = None,
                  register_bucket: Pacer | None = None, verifier: Verifier | None = None) -> Applier:
    clock = clock or SystemClock()
    ecs = EcsWriter(clients)
    codedeploy = CodeDeploy(clients)
    service_deployments = ServiceDeployments(clients)
    rolling = RollingWaiter(ecs, clock, poll_interval, keep_waiting=keep_waiting, history=service_deployments)
    bluegreen = BlueGreenDeployer(codedeploy, clock, poll_interval, keep_waiting=keep_waiting)
    native = NativeController(ecs, service_deployments, clock, poll_interval, keep_waiting=keep_waiting)
    taskdefs = TaskDefinitions(clients, reader, register_bucket)
    return Applier(instance, sink, ecs=ecs, codedeploy=codedeploy, taskdefs=taskdefs,
                   attempts=AttemptHistory(service_deployments, codedeploy, taskdefs),
                   deployments=with_native(build_deployments(ecs, codedeploy, rolling, bluegreen), native),
                   clock=clock,
                   max_parallel=max_parallel, on_progress=on_progress, verifier=verifier,
                   hooks=HookRunner(TaskRunner(clients), clock, poll_interval, keep_waiting=keep_waiting))
