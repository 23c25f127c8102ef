"""CloudFormation stacks whose resources behave like the ones created through the APIs.

CloudFormation creates a resource by calling the service's own API with the resource's
properties: AWS::ECS::TaskDefinition and AWS::ECS::Service properties are
RegisterTaskDefinition's and CreateService's in PascalCase, and AWS::DynamoDB::Table's
TimeToLiveSpecification is applied with UpdateTimeToLive ([cfn-ug] aws-resource-ecs-
taskdefinition, aws-resource-ecs-service, aws-resource-dynamodb-table). moto 5.2.1 instead
registers task definitions with only family, containers, volumes and memory, creates
services with only cluster, name, count and task definition, both outside the fidelity
layer (so the sandbox's Describe* calls never show them), ignores
TimeToLiveSpecification, and stores an AWS::IAM::Role's inline policies as Python text
instead of the JSON document PutRolePolicy takes. While a sandbox runs, these go through
the same paths as an API call. Updates and deletes of such stacks keep moto's behaviour (our choice:
`reconciler` never updates stacks; the install test only creates one).
"""
from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Iterator
from typing import Any

from reconciler.sandbox import ecs_api
from reconciler.sandbox.state import SandboxState
from reconciler.sandbox.wsgi import MotoCall

ECS_TARGET = "AmazonEC2ContainerServiceV20141113"
#: Properties that are maps of user keys (log driver options, labels): their keys stay as written.
_USER_KEYED = frozenset({"Options", "DockerLabels", "Labels", "DriverOpts"})
#: CreateService members whose CloudFormation value may arrive as a string (a Number parameter).
_INTEGERS = ("desiredCount", "healthCheckGracePeriodSeconds", "maximumPercent", "minimumHealthyPercent",
             "containerPort", "base", "weight")


def _camel(value: Any) -> Any:
    """PascalCase CloudFormation properties as the API's camelCase members.

    moto resolves `Ref: AWS::NoValue` to None; CloudFormation removes such a property or
    list element ([cfn-ug] pseudo-parameter-reference, AWS::NoValue), so None is dropped.
    """
    if isinstance(value, dict):
        return {(k[:1].lower() + k[1:]): _without_novalue(v) if k in _USER_KEYED else _camel(v)
                for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_camel(v) for v in value if v is not None]
    return value


def _without_novalue(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_novalue(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_novalue(v) for v in value if v is not None]
    return value


def _integers(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: int(v) if k in _INTEGERS and isinstance(v, str) and v.isdigit() else _integers(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_integers(v) for v in value]
    return value


def create_service_request(resource_name: str, properties: dict[str, Any]) -> dict[str, Any]:
    """The CreateService request CloudFormation sends for resolved AWS::ECS::Service properties."""
    props = dict(properties)
    cluster, task_definition = props.pop("Cluster", "default"), props.pop("TaskDefinition")
    body = _integers(_camel(props))
    body["cluster"] = getattr(cluster, "name", cluster)
    body["taskDefinition"] = getattr(task_definition, "arn", task_definition)
    body.setdefault("serviceName", resource_name)
    return body


def _ecs_environ(region: str, action: str) -> dict[str, Any]:
    """A signed-looking ECS JSON request, so moto routes it to the ECS backend of `region`."""
    return {
        "REQUEST_METHOD": "POST", "PATH_INFO": "/", "QUERY_STRING": "", "SERVER_NAME": "localhost",
        "SERVER_PORT": "80", "wsgi.url_scheme": "http", "HTTP_HOST": f"ecs.{region}.amazonaws.com",
        "CONTENT_TYPE": "application/x-amz-json-1.1", "HTTP_X_AMZ_TARGET": f"{ECS_TARGET}.{action}",
        "HTTP_AUTHORIZATION": f"AWS4-HMAC-SHA256 Credential=testing/20260101/{region}/ecs/aws4_request, "
                              "SignedHeaders=host, Signature=0",
    }


@contextlib.contextmanager
def stack_fidelity(state: SandboxState, moto_app: Any) -> Iterator[None]:
    """Route moto's CloudFormation creation of ECS services and DynamoDB tables through the layer."""
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.table import Table
    from moto.ecs.models import Service, TaskDefinition, ecs_backends
    from moto.iam.models import Role

    original_role = Role.__dict__["create_from_cloudformation_json"]
    original_taskdef = TaskDefinition.__dict__["create_from_cloudformation_json"]
    original_service = Service.__dict__["create_from_cloudformation_json"]
    original_table = Table.__dict__["create_from_cloudformation_json"]

    def register_task_definition(cls: Any, resource_name: str, cloudformation_json: Any, account_id: str,
                                 region_name: str, **kwargs: Any) -> Any:
        body = _camel(cloudformation_json["Properties"])
        call = MotoCall(moto_app, _ecs_environ(region_name, "RegisterTaskDefinition"))
        arn = ecs_api.register_task_definition(state, body, call)["taskDefinition"]["taskDefinitionArn"]
        return ecs_backends[account_id][region_name].describe_task_definition(arn)

    def create_service(cls: Any, resource_name: str, cloudformation_json: Any, account_id: str,
                       region_name: str, **kwargs: Any) -> Any:
        body = create_service_request(resource_name, cloudformation_json["Properties"])
        created = ecs_api.create_service(state, body, MotoCall(moto_app, _ecs_environ(region_name, "CreateService")))["service"]
        cluster = created["clusterArn"].rsplit("/", 1)[-1]
        return ecs_backends[account_id][region_name].services[f"{cluster}:{created['serviceName']}"]

    def create_table(cls: Any, resource_name: str, cloudformation_json: Any, account_id: str,
                     region_name: str, **kwargs: Any) -> Any:
        table = original_table.__func__(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        ttl = cloudformation_json["Properties"].get("TimeToLiveSpecification")
        if ttl:
            dynamodb_backends[account_id][region_name].update_time_to_live(table.name, ttl)
        return table

    def create_role(cls: Any, resource_name: str, cloudformation_json: Any, account_id: str,
                    region_name: str, **kwargs: Any) -> Any:
        resource = copy.deepcopy(cloudformation_json)
        for policy in resource["Properties"].get("Policies") or []:
            policy["PolicyDocument"] = json.dumps(_without_novalue(policy["PolicyDocument"]))  # PutRolePolicy's form
        return original_role.__func__(cls, resource_name, resource, account_id, region_name, **kwargs)

    Role.create_from_cloudformation_json = classmethod(create_role)
    TaskDefinition.create_from_cloudformation_json = classmethod(register_task_definition)
    Service.create_from_cloudformation_json = classmethod(create_service)
    Table.create_from_cloudformation_json = classmethod(create_table)
    try:
        yield
    finally:
        Role.create_from_cloudformation_json = original_role
        TaskDefinition.create_from_cloudformation_json = original_taskdef
        Service.create_from_cloudformation_json = original_service
        Table.create_from_cloudformation_json = original_table
