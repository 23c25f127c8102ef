"""AWS errors are translated at one boundary: the clients AwsClients hands out (clients.py)."""
from __future__ import annotations

import ast
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    DataNotFoundError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
    ReadTimeoutError,
    SSLError,
)
from botocore.stub import Stubber

from reconciler.aws.clients import AwsClients, AwsSettings, translating
from reconciler.aws.errors import (
    AwsAccessDenied,
    AwsConflict,
    AwsError,
    AwsInvalidRequest,
    AwsNotFound,
    AwsServerError,
    AwsThrottled,
    AwsUnreachable,
    translate,
)

PACKAGE = Path(__file__).resolve().parents[2] / "reconciler"
URL = "https://ecs.eu-west-1.amazonaws.com"


def client_error(code: str, status: int = 400) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"{code} happened"},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, "DescribeServices")


@pytest.mark.parametrize("exc,expected", [
    (client_error("ThrottlingException"), AwsThrottled),
    (client_error("ProvisionedThroughputExceededException"), AwsThrottled),
    (client_error("AccessDeniedException"), AwsAccessDenied),
    (client_error("ExpiredTokenException"), AwsAccessDenied),
    (client_error("AuthorizationError", 403), AwsAccessDenied),
    (client_error("ServiceNotFoundException"), AwsNotFound),
    (client_error("ParameterNotFound"), AwsNotFound),
    (client_error("ConditionalCheckFailedException"), AwsConflict),
    (client_error("DeploymentLimitExceededException"), AwsConflict),
    (client_error("InvalidParameterException"), AwsInvalidRequest),
    (client_error("ClientException"), AwsInvalidRequest),
    (client_error("InternalFailure", 500), AwsServerError),
    (client_error("SomethingNew", 503), AwsServerError),
    (EndpointConnectionError(endpoint_url=URL), AwsUnreachable),
    (ConnectTimeoutError(endpoint_url=URL), AwsUnreachable),
    (ReadTimeoutError(endpoint_url=URL), AwsUnreachable),
    (ConnectionClosedError(endpoint_url=URL), AwsUnreachable),
    (SSLError(endpoint_url=URL, error="bad certificate"), AwsUnreachable),
    (NoCredentialsError(), AwsAccessDenied),
    (PartialCredentialsError(provider="env", cred_var="AWS_SECRET_ACCESS_KEY"), AwsAccessDenied),
    (CredentialRetrievalError(provider="assume-role", error_msg="denied"), AwsAccessDenied),
    (ParamValidationError(report="Missing required parameter in input: \"cluster\""), AwsInvalidRequest),
])
def test_each_botocore_error_maps_to_ours(exc: Exception, expected: type[AwsError]) -> None:
    mapped = translate(exc, "ecs", "DescribeServices")
    assert type(mapped) is expected
    assert mapped.service == "ecs" and mapped.action == "DescribeServices"
    assert mapped.retryable is (expected in (AwsThrottled, AwsUnreachable, AwsServerError))


def test_an_unknown_code_or_botocore_error_is_a_plain_aws_error_and_the_rest_passes_through() -> None:
    assert type(translate(client_error("SomethingNew"))) is AwsError
    assert type(translate(DataNotFoundError(data_path="x"))) is AwsError
    bug = KeyError("x")
    assert translate(bug) is bug


def test_a_client_error_keeps_code_action_and_message() -> None:
    mapped = translate(client_error("ClusterNotFoundException"), "ecs")
    assert (mapped.code, mapped.action) == ("ClusterNotFoundException", "DescribeServices")
    assert str(mapped) == "ecs:DescribeServices ClusterNotFoundException: ClusterNotFoundException happened"


def _stubbed_ecs() -> tuple[object, Stubber]:
    raw = boto3.client("ecs", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="y")
    return translating(raw, "ecs"), Stubber(raw)


def test_calls_through_the_client_raise_our_errors_with_the_botocore_cause() -> None:
    ecs, stub = _stubbed_ecs()
    with stub:
        stub.add_client_error("describe_services", service_error_code="ClusterNotFoundException",
                              service_message="Cluster not found.", http_status_code=400)
        with pytest.raises(AwsNotFound) as info:
            ecs.describe_services(cluster="c", services=["web"])  # type: ignore[attr-defined]
    assert info.value.action == "DescribeServices" and isinstance(info.value.__cause__, ClientError)
    with pytest.raises(AwsInvalidRequest):  # botocore's own parameter check, before anything is sent
        ecs.describe_services(services=["web"], bogus=1)  # type: ignore[attr-defined]


def test_paginated_calls_are_translated_too() -> None:
    ecs, stub = _stubbed_ecs()
    with stub:
        stub.add_response("list_services", {"serviceArns": ["arn:a"], "nextToken": "t"})
        stub.add_client_error("list_services", service_error_code="ThrottlingException", http_status_code=400)
        pages = ecs.get_paginator("list_services").paginate(cluster="c")  # type: ignore[attr-defined]
        seen = []
        with pytest.raises(AwsThrottled) as info:
            for page in pages:
                seen.extend(page["serviceArns"])
    assert seen == ["arn:a"] and info.value.action == "ListServices"


def test_clients_from_aws_clients_translate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # closed loopback port
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    clients = AwsClients(AwsSettings(retry_mode="standard", max_attempts=1, connect_timeout=1.0))
    with pytest.raises(AwsUnreachable):
        clients.client("ecs", region="eu-west-1").list_clusters()
    with pytest.raises(AwsUnreachable):
        clients.account_id()


def test_no_other_module_handles_botocore_exceptions() -> None:
    """The boundary stays one: nothing else imports botocore.exceptions or catches ClientError."""
    allowed = {PACKAGE / "aws" / "errors.py", PACKAGE / "aws" / "clients.py"}
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path in allowed or "sandbox" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "botocore.exceptions":
                offenders.append(f"{path.name}: imports botocore.exceptions")
            if isinstance(node, ast.Attribute) and node.attr in ("ClientError", "BotoCoreError"):
                offenders.append(f"{path.name}: {node.attr}")
    assert not offenders
