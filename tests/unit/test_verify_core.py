"""Pre-deploy verification core: references, findings, batching and the per-commit cache."""
from __future__ import annotations

from typing import Any

from reconciler.model import Environment, GitOpsSettings, ServiceSpec
from reconciler.verify import Verifier, VerifyCache
from reconciler.verify.findings import Fact, evaluate, trusted_services
from reconciler.verify.refs import (
    EcrImage,
    Role,
    S3Object,
    Secret,
    SsmParameter,
    parse_image,
    parse_secret_ref,
    references,
)

ENV = Environment(name="staging", cluster="staging", region="eu-west-1", account_id="123456789012")
ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:web/db-AbCdEf"


def spec(name: str, image: str, secrets: list[dict[str, str]] | None = None, **td: Any) -> ServiceSpec:
    container: dict[str, Any] = {"name": name, "image": image}
    if secrets:
        container["secrets"] = secrets
    return ServiceSpec(environment="staging", name=name, service={}, gitops=GitOpsSettings(),
                       task_definition={"family": name, "containerDefinitions": [container], **td},
                       service_file=f"{name}/service.yaml", taskdef_file=f"{name}/taskdef.json")


def test_ecr_images_are_recognised_other_registries_are_not() -> None:
    img = parse_image("210987654321.dkr.ecr.us-east-1.amazonaws.com/team/web:1.5.1")
    assert img == EcrImage("210987654321", "us-east-1", "team/web", "1.5.1", None, img.image if img else "")
    assert img is not None and img.image_id == {"imageTag": "1.5.1"}
    pinned = parse_image(f"{ECR}/web@sha256:" + "a" * 64)
    assert pinned is not None and pinned.image_id == {"imageDigest": "sha256:" + "a" * 64}
    assert parse_image("public.ecr.aws/docker/library/busybox:1.36") is None
    assert parse_image("nginx:1.25") is None


def test_secret_suffixes_and_ssm_names_and_arns() -> None:
    assert parse_secret_ref(SECRET + ":password:AWSPREVIOUS:", "eu-west-1") == Secret(
        "eu-west-1", SECRET, "password", "AWSPREVIOUS", "")
    assert parse_secret_ref(SECRET, "eu-west-1") == Secret("eu-west-1", SECRET)
    assert parse_secret_ref("/web/api-url", "eu-west-1") == SsmParameter("eu-west-1", "/web/api-url")
    arn = "arn:aws:ssm:us-east-1:123456789012:parameter/shared/url"
    assert parse_secret_ref(arn, "eu-west-1") == SsmParameter("us-east-1", arn)


def test_references_cover_roles_credentials_and_environment_files() -> None:
    td = {"executionRoleArn": "arn:aws:iam::123456789012:role/service-role/exec",
          "containerDefinitions": [{"name": "web", "image": "nginx:1.25",
                                    "repositoryCredentials": {"credentialsParameter": SECRET},
                                    "environmentFiles": [{"value": "arn:aws:s3:::cfg/web.env", "type": "s3"}]}]}
    refs = references(td, "eu-west-1")
    assert [(r.kind, r.target) for r in refs] == [
        ("role", Role("123456789012", "exec", "arn:aws:iam::123456789012:role/service-role/exec")),
        ("other-image", "nginx:1.25"),
        ("secret", Secret("eu-west-1", SECRET)),
        ("s3", S3Object("cfg", "web.env")),
    ]


def test_missing_image_gets_a_hint_and_other_registries_a_note() -> None:
    image = parse_image(f"{ECR}/web:1.5.1")
    refs = references({"containerDefinitions": [{"name": "web", "image": f"{ECR}/web:1.5.1"},
                                                {"name": "proxy", "image": "nginx:1.25"}]}, "eu-west-1")
    v = evaluate("staging", "web", refs, {image: Fact(exists=False, neighbours=("1.5.0", "0.1"))})
    assert not v.ok
    assert v.summary() == f"not deployed: image {ECR}/web:1.5.1 not found in ECR (similar tag: 1.5.0)"
    assert v.notes == ("container proxy: image: nginx:1.25 not checked (not a private ECR image)",)


def test_secret_stage_role_trust_and_unchecked() -> None:
    refs = references({"taskRoleArn": "arn:aws:iam::123456789012:role/app",
                       "containerDefinitions": [{"name": "web", "image": "nginx:1",
                                                 "secrets": [{"name": "A", "valueFrom": SECRET + "::AWSPENDING:"}]}]},
                      "eu-west-1")
    facts = {("secret", SECRET): Fact(exists=True, stages=("AWSCURRENT",)),
             Role("123456789012", "app", "arn:aws:iam::123456789012:role/app"): Fact(exists=True, trusted_by=("ec2.amazonaws.com",))}
    v = evaluate("staging", "web", refs, facts)
    assert [f.kind for f in v.findings] == ["role", "secret"]
    assert "trust policy does not name ecs-tasks.amazonaws.com" in v.findings[0].message
    assert "version stage 'AWSPENDING' not found" in v.findings[1].message
    unread = {Role("123456789012", "app", "arn:aws:iam::123456789012:role/app"): Fact(exists=None, note="iam:GetRole denied"),
              ("secret", SECRET): Fact(exists=True, stages=("AWSPENDING",))}
    v = evaluate("staging", "web", refs, unread)
    assert v.ok and v.notes[0] == "taskRoleArn: role arn:aws:iam::123456789012:role/app not checked: iam:GetRole denied"


def test_trusted_services_reads_both_policy_shapes() -> None:
    assert trusted_services({"Statement": {"Effect": "Allow", "Action": "sts:AssumeRole",
                                           "Principal": {"Service": "ecs-tasks.amazonaws.com"}}}) == ("ecs-tasks.amazonaws.com",)
    assert trusted_services({"Statement": [{"Effect": "Deny", "Action": "sts:AssumeRole",
                                            "Principal": {"Service": "ecs-tasks.amazonaws.com"}},
                                           {"Effect": "Allow", "Action": ["sts:TagSession"],
                                            "Principal": {"Service": ["ecs-tasks.amazonaws.com"]}}]}) == ()


class FakeReader:
    def __init__(self, tags: set[str], params: set[str], fail_ssm: bool = False) -> None:
        self.tags, self.params, self.fail_ssm = tags, params, fail_ssm
        self.calls: list[tuple[str, Any]] = []

    def images(self, env: Environment, images: list[EcrImage]) -> dict[EcrImage, Fact]:
        self.calls.append(("images", tuple(i.ref for i in images)))
        return {i: Fact(exists=i.ref in self.tags, digest="sha256:x" if i.ref in self.tags else None) for i in images}

    def ssm_parameters(self, env: Environment, region: str, names: list[str]) -> dict[str, Fact]:
        self.calls.append(("ssm", tuple(names)))
        if self.fail_ssm:
            raise RuntimeError("ssm:GetParameters ThrottlingException: Rate exceeded")
        return {n: Fact(exists=n in self.params) for n in names}

    def secret(self, env: Environment, secret: Secret) -> Fact:
        self.calls.append(("secret", secret.arn))
        return Fact(exists=True)

    def s3_object(self, env: Environment, obj: S3Object) -> Fact:
        raise AssertionError("not referenced")

    def role(self, env: Environment, role: Role) -> Fact:
        raise AssertionError("not referenced")


def test_lookups_are_batched_per_repository_and_region_and_shared_between_services() -> None:
    reader = FakeReader(tags={"1.0", "2.0"}, params={"/a"})
    specs = [spec("web", f"{ECR}/shared:1.0", [{"name": "A", "valueFrom": "/a"}, {"name": "S", "valueFrom": SECRET}]),
             spec("api", f"{ECR}/shared:2.0", [{"name": "A", "valueFrom": "/a"}, {"name": "B", "valueFrom": "/b"},
                                               {"name": "S", "valueFrom": SECRET + ":k::"}])]
    result = Verifier(reader).verify(ENV, specs)
    assert sorted(reader.calls) == [("images", ("1.0", "2.0")), ("secret", SECRET), ("ssm", ("/a", "/b"))]
    assert result["staging/web"].ok and result["staging/web"].digests == {f"{ECR}/shared:1.0": "sha256:x"}
    assert [f.message for f in result["staging/api"].findings] == ["SSM parameter /b not found in SSM Parameter Store"]


def test_cache_per_commit_no_calls_on_a_second_pass_and_failures_rechecked_later() -> None:
    now = [0.0]
    reader = FakeReader(tags={"1.0"}, params=set())
    verifier = Verifier(reader, VerifyCache(lambda: now[0], recheck_seconds=300))
    specs = [spec("web", f"{ECR}/web:1.0"), spec("api", f"{ECR}/api:9.9")]
    first = verifier.verify(ENV, specs, commit="abc")
    calls = len(reader.calls)
    assert first["staging/web"].ok and not first["staging/api"].ok
    assert verifier.verify(ENV, specs, commit="abc") == first and len(reader.calls) == calls
    now[0] = 301
    reader.tags.add("9.9")  # CI pushed the image meanwhile
    again = verifier.verify(ENV, specs, commit="abc")
    assert again["staging/api"].ok and reader.calls[calls:] == [("images", ("9.9",))]
    verifier.verify(ENV, specs, commit="def")
    assert len(reader.calls) == calls + 3  # a new commit is checked again


def test_an_aws_failure_fails_only_the_services_it_concerns_and_is_not_cached() -> None:
    reader = FakeReader(tags={"1.0"}, params=set(), fail_ssm=True)
    verifier = Verifier(reader, VerifyCache(lambda: 0.0))
    specs = [spec("web", f"{ECR}/web:1.0"), spec("api", f"{ECR}/web:1.0", [{"name": "A", "valueFrom": "/a"}])]
    result = verifier.verify(ENV, specs, commit="abc")
    assert result["staging/web"].ok
    assert result["staging/api"].error == "ssm:GetParameters ThrottlingException: Rate exceeded"
    assert result["staging/api"].summary().startswith("not deployed: verification could not run: ")
    calls = len(reader.calls)
    verifier.verify(ENV, specs, commit="abc")
    assert reader.calls[calls:] == [("images", ("1.0",)), ("ssm", ("/a",))]  # only api's references again
