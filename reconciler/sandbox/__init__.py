"""A local AWS sandbox: moto on 127.0.0.1 plus a fidelity layer for ECS and CodeDeploy.

The reconciler talks to it with boto3 over HTTP (`AWS_ENDPOINT_URL`), exactly as
to AWS. `Sandbox` is the context manager; `reconciler sandbox` runs one in the
foreground; `reconciler.sandbox.pytest_plugin` provides the `sandbox` and
`sandbox_factory` fixtures. Seed format: see `reconciler.sandbox.seed`.

Admin endpoint (same port; POST a JSON body; answers `{"ok": true, "now": <sandbox epoch>}`):

- `POST /_sandbox/throttle`      `{"action": "DescribeServices", "times": 3}`  next N calls get ThrottlingException
- `POST /_sandbox/latency`       `{"action": "UpdateService", "seconds": 0.5}` real delay before each call
- `POST /_sandbox/server-error`  `{"action": "RegisterTaskDefinition", "times": 1, "afterApply": true}` next N
                                  calls answer 500 InternalFailure, with `afterApply` after doing the work
- `POST /_sandbox/fail-image`    `{"image": "<exact image>"}`  tasks with that image fail (CannotPullContainerError)
- `POST /_sandbox/fire-alarm`    `{"name": "api-production-5xx"}`  fails and rolls back deployments watching it;
                                  answers `{"deployments": [ids]}`
- `POST /_sandbox/lambda-hook`   `{"functionArn": "arn:aws:lambda:…", "answers": [{"hookStatus": "IN_PROGRESS",
                                  "callBackDelay": 60}, {"hookStatus": "SUCCEEDED"}]}` what a deployment lifecycle
                                  hook Lambda answers, one per invocation (the last repeats); unset: SUCCEEDED
- `POST /_sandbox/advance`       `{"seconds": 60}`  moves the sandbox clock forward
- `POST /_sandbox/reset-faults`  `{}`
- `GET  /_sandbox/clock`         reads the sandbox clock

CloudWatch alarms move with moto's own `SetAlarmState` (cloudwatch client); an ECS-native
deployment watching one in ALARM rolls back.

Sandbox time = start + real elapsed × speed + advances; ECS scheduler passes run
every 15 sandbox seconds (see `ecs_engine.STEP_SECONDS`).
"""
from reconciler.sandbox.server import Sandbox

__all__ = ["Sandbox"]
