"""Server-only fields come from botocore's model, once, for the loader and the diff alike.

The product's boto3 is unpinned: when AWS adds a member to DescribeTaskDefinition's or
DescribeServices' output, a newer botocore parses it and the live side carries it. It must
be ignored (never permanent drift) without anyone editing a list. The simulation runs the
real loader and diff in a subprocess whose botocore reads an ECS model with one extra
output-only member (botocore's AWS_DATA_PATH: models found there replace the bundled ones).
"""
from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import botocore

from reconciler.manifests.awsmodel import ecs_model, input_shape, service_server_fields, taskdef_server_fields

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "aws-samples"
MODEL = Path(botocore.__file__).parent / "data" / "ecs" / "2014-11-13" / "service-2.json.gz"


def test_server_only_fields_are_output_members_that_the_input_lacks() -> None:
    model = ecs_model()
    assert taskdef_server_fields() == frozenset(model.shape_for("TaskDefinition").members) - frozenset(
        input_shape("RegisterTaskDefinition").members)
    assert {"taskDefinitionArn", "revision", "status", "registeredAt", "compatibilities"} <= taskdef_server_fields()
    assert {"serviceArn", "deployments", "events", "runningCount", "taskSets"} <= service_server_fields()
    assert not {"family", "containerDefinitions", "cpu"} & taskdef_server_fields()
    assert not {"desiredCount", "loadBalancers", "deploymentConfiguration"} & service_server_fields()


SCRIPT = r"""
import json, sys
from reconciler.diff import diff_services, diff_task_definitions
from reconciler.manifests import load_task_definition

sample = json.load(open(sys.argv[1]))
live = {"taskDefinition": {**sample["taskDefinition"], "futureInsight": "computed-by-aws"}, "tags": []}
loaded = load_task_definition(sys.argv[2])
service = {"serviceName": "web", "desiredCount": 1, "launchType": "EC2"}
live_service = {**service, "serviceArn": "arn:aws:ecs:eu-west-1:1:service/c/web", "status": "ACTIVE",
                "futureHealthScore": 97}
print(json.dumps({
    "taskdef_drift": [c.path for c in diff_task_definitions(sample["taskDefinition"], live).changes],
    "service_drift": [c.path for c in diff_services(service, live_service).changes],
    "warnings": [i.path for i in loaded.issues if i.severity == "warning"],
    "kept": "futureInsight" in (loaded.data or {}),
}))
"""


def _run(tmp_path: Path, data_path: Path | None) -> dict:
    dropped_in = tmp_path / "taskdef.json"  # a describe output, as a user drops it into git
    sample = json.loads((SAMPLES / "sil-ecs-deploy_describe-task-definition_fargate.json").read_text())
    sample["taskDefinition"]["futureInsight"] = "computed-by-aws"
    dropped_in.write_text(json.dumps(sample, indent=2))
    env = {k: v for k, v in os.environ.items() if k != "AWS_DATA_PATH"}
    if data_path is not None:
        env["AWS_DATA_PATH"] = str(data_path)
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(SAMPLES / "sil-ecs-deploy_describe-task-definition_fargate.json"),
                          str(dropped_in)], capture_output=True, text=True, env=env, check=True, timeout=120)
    return json.loads(out.stdout)


def test_an_output_member_added_by_a_newer_botocore_is_never_drift(tmp_path: Path) -> None:
    model = json.loads(gzip.decompress(MODEL.read_bytes()))
    model["shapes"]["TaskDefinition"]["members"]["futureInsight"] = {"shape": "String"}
    model["shapes"]["Service"]["members"]["futureHealthScore"] = {"shape": "Integer"}
    newer = tmp_path / "models" / "ecs" / "2014-11-13"
    newer.mkdir(parents=True)
    (newer / "service-2.json").write_text(json.dumps(model))

    today = _run(tmp_path, None)      # the bundled model does not know the members: they are plain fields
    assert "taskDefinition/futureInsight" in today["taskdef_drift"]
    assert "service/futureHealthScore" in today["service_drift"]

    later = _run(tmp_path, tmp_path / "models")
    assert later["taskdef_drift"] == [] and later["service_drift"] == []
    assert "taskDefinition.futureInsight" in later["warnings"] and not later["kept"]  # loader: ignored, with a warning
