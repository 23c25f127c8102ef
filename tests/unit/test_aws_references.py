"""The reference reader's answers per describe call: found, missing, may not be read (fake clients, no AWS)."""
from __future__ import annotations

from typing import Any

import pytest

from reconciler.aws.errors import AwsAccessDenied, AwsNotFound
from reconciler.aws.references import AwsReferenceReader
from reconciler.model import Environment
from reconciler.verify.findings import Fact
from reconciler.verify.refs import Role, Secret

ENV = Environment("prod", "prod", "eu-west-1", account_id="123456789012")
SECRET = Secret("eu-west-1", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf")
ROLE = Role("123456789012", "app", "arn:aws:iam::123456789012:role/app")
TRUST = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                        "Action": "sts:AssumeRole"}]}


class Client:
    """Answers every call with `answer`, or raises it when it is an exception."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer

    def __getattr__(self, name: str) -> Any:
        def call(**_: Any) -> Any:
            if isinstance(self.answer, Exception):
                raise self.answer
            return self.answer
        return call


class Clients:
    def __init__(self, answer: Any) -> None:
        self.answer = answer

    def client(self, service: str, env: Environment, region: str | None = None) -> Client:
        return Client(self.answer)


@pytest.mark.parametrize("answer,secret,role", [
    (AwsNotFound("gone", code="ResourceNotFoundException"), Fact(exists=False), Fact(exists=False)),
    (AwsAccessDenied("no", code="AccessDeniedException"),
     Fact(exists=None, note="the reconciler may not read it (secretsmanager:DescribeSecret: AccessDeniedException)"),
     Fact(exists=None, note="the reconciler may not read it (iam:GetRole: AccessDeniedException)")),
])
def test_missing_and_unreadable_are_told_apart_per_permission(answer: Exception, secret: Fact, role: Fact) -> None:
    reader = AwsReferenceReader(Clients(answer))  # type: ignore[arg-type]
    assert reader.secret(ENV, SECRET) == secret
    assert reader.role(ENV, ROLE) == role


def test_found_answers_carry_what_the_checks_need() -> None:
    reader = AwsReferenceReader(Clients({"VersionIdsToStages": {"v2": ["AWSCURRENT"], "v1": ["AWSPREVIOUS"]},
                                         "Role": {"AssumeRolePolicyDocument": TRUST}}))  # type: ignore[arg-type]
    assert reader.secret(ENV, SECRET) == Fact(exists=True, stages=("AWSCURRENT", "AWSPREVIOUS"),
                                              version_ids=("v1", "v2"))
    assert reader.role(ENV, ROLE) == Fact(exists=True, trusted_by=("ecs-tasks.amazonaws.com",))
