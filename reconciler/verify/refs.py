"""Find what a service's task definition references outside ECS. Pure.

Formats (ECS developer guide):
- images: `<account>.dkr.ecr.<region>.amazonaws.com/<repository>[:tag|@digest]` is a private
  ECR image (ecr-using-images / private registry URI); anything else is another registry;
- `secrets[].valueFrom` and `repositoryCredentials.credentialsParameter`: a Secrets Manager ARN
  (`arn:aws:secretsmanager:region:account:secret:name[:json-key:version-stage:version-id]`,
  specifying-sensitive-data-tutorial / secrets-envvar-secrets-manager) or an SSM parameter name
  or ARN (`arn:aws:ssm:region:account:parameter/name`, secrets-envvar-ssm-paramstore);
- `environmentFiles[].value`: an S3 object ARN `arn:aws:s3:::bucket/key` (use-environment-file);
- `taskRoleArn` / `executionRoleArn`: IAM role ARNs (`arn:aws:iam::account:role[/path]/name`).
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

_ECR = re.compile(r"^(?P<registry>\d{12})\.dkr\.ecr(?:-fips|)\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
                  r"(?P<repository>[a-z0-9][a-z0-9._/-]*?)(?::(?P<tag>[\w][\w.-]{0,127}))?(?:@(?P<digest>[\w+.-]+:[0-9a-fA-F]+))?$")
_SECRET_ARN = re.compile(r"^arn:aws[a-z-]*:secretsmanager:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):secret:(?P<rest>.+)$")
_SSM_ARN = re.compile(r"^arn:aws[a-z-]*:ssm:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):parameter(?P<name>/.+)$")
_S3_ARN = re.compile(r"^arn:aws[a-z-]*:s3:::(?P<bucket>[^/]+)/(?P<key>.+)$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(?P<account>\d{12}):role/(?:.*/)?(?P<name>[\w+=,.@-]+)$")


@dataclass(frozen=True, order=True)
class EcrImage:
    registry: str      # account id of the registry (cross-account registries included)
    region: str
    repository: str
    tag: str | None
    digest: str | None
    image: str         # as written in the task definition

    @property
    def image_id(self) -> dict[str, str]:
        return {"imageDigest": self.digest} if self.digest else {"imageTag": self.tag or "latest"}

    @property
    def repo_key(self) -> tuple[str, str, str]:
        return (self.registry, self.region, self.repository)

    @property
    def ref(self) -> str:
        return self.digest or self.tag or "latest"


@dataclass(frozen=True, order=True)
class SsmParameter:
    region: str
    name: str          # a name or a full ARN, as GetParameters accepts both


@dataclass(frozen=True, order=True)
class Secret:
    region: str
    arn: str           # the secret's own ARN (complete or partial), without the suffixes
    json_key: str = ""
    version_stage: str = ""
    version_id: str = ""


@dataclass(frozen=True, order=True)
class S3Object:
    bucket: str
    key: str


@dataclass(frozen=True, order=True)
class Role:
    account: str
    name: str
    arn: str


@dataclass(frozen=True)
class Reference:
    """One thing a service needs, and where in the task definition it is named."""

    kind: str          # image | ssm | secret | s3 | role | other-image
    where: str         # e.g. "container web: secrets DB_PASSWORD"
    target: EcrImage | SsmParameter | Secret | S3Object | Role | str


def parse_image(image: str) -> EcrImage | None:
    match = _ECR.match(image)
    if not match:
        return None
    return EcrImage(match["registry"], match["region"], match["repository"], match["tag"], match["digest"], image)


def parse_secret_ref(value: str, region: str) -> SsmParameter | Secret:
    """A `valueFrom`: Secrets Manager when it is a secretsmanager ARN, otherwise SSM."""
    match = _SECRET_ARN.match(value)
    if match:
        rest = match["rest"].split(":")
        base = value[: len(value) - len(match["rest"])] + rest[0]
        extra = (rest[1:] + ["", "", ""])[:3]
        return Secret(match["region"], base, *extra)
    ssm = _SSM_ARN.match(value)
    return SsmParameter(ssm["region"] if ssm else region, value)


def parse_role(arn: str) -> Role | None:
    match = _ROLE_ARN.match(arn)
    return Role(match["account"], match["name"], arn) if match else None


def references(task_definition: Mapping[str, Any], region: str) -> list[Reference]:
    """Everything the task definition needs to exist, in file order."""
    out: list[Reference] = []
    for key in ("executionRoleArn", "taskRoleArn"):
        value = task_definition.get(key)
        role = parse_role(value) if isinstance(value, str) else None
        if role is not None:
            out.append(Reference("role", key, role))
    for container in _containers(task_definition):
        name = container.get("name", "?")
        image = container.get("image")
        if isinstance(image, str):
            ecr = parse_image(image)
            out.append(Reference("image", f"container {name}: image", ecr) if ecr
                       else Reference("other-image", f"container {name}: image", image))
        for secret in _dicts(container.get("secrets")):
            value = secret.get("valueFrom")
            if isinstance(value, str):
                target = parse_secret_ref(value, region)
                out.append(Reference("secret" if isinstance(target, Secret) else "ssm",
                                     f"container {name}: secrets {secret.get('name', '?')}", target))
        creds = container.get("repositoryCredentials")
        if isinstance(creds, Mapping) and isinstance(creds.get("credentialsParameter"), str):
            target = parse_secret_ref(creds["credentialsParameter"], region)
            out.append(Reference("secret" if isinstance(target, Secret) else "ssm",
                                 f"container {name}: repositoryCredentials", target))
        for index, env_file in enumerate(_dicts(container.get("environmentFiles"))):
            match = _S3_ARN.match(str(env_file.get("value", "")))
            if match and env_file.get("type", "s3") == "s3":
                out.append(Reference("s3", f"container {name}: environmentFiles[{index}]",
                                     S3Object(match["bucket"], match["key"])))
    return out


def _containers(td: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    return _dicts(td.get("containerDefinitions"))


def _dicts(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []
