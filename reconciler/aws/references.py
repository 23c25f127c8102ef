"""Read whether what task definitions reference exists: ECR images, SSM parameters,
Secrets Manager secrets, S3 environment files, IAM roles. Always with the environment's
role (cross-account registries included), never reading a secret's value.

Limits and answers ([bc-ecr], [bc-ssm], [bc-sm], [bc-s3], [bc-iam]: the botocore models):
- ECR BatchGetImage takes up to 100 imageIds per repository and answers a missing tag
  in `failures[].failureCode` (ImageNotFound...) rather than raising; a missing repository
  raises RepositoryNotFoundException. DescribeImages lists the repository's tags (for hints).
- SSM GetParameters takes up to 10 names or ARNs; unknown ones come back in `InvalidParameters`.
- Secrets Manager DescribeSecret by ARN (complete or partial) gives `VersionIdsToStages`
  without the value; a secret scheduled for deletion carries `DeletedDate`.
- S3 HeadObject: 404 when the object is missing, 403 when the caller may not read it.
- IAM GetRole: NoSuchEntity when missing; `AssumeRolePolicyDocument` is the trust policy
  (URL-encoded JSON on the wire; botocore decodes it).
"""
from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from reconciler.aws.clients import AwsClients
from reconciler.aws.errors import AwsAccessDenied, AwsError, AwsNotFound
from reconciler.aws.live import chunks
from reconciler.model import Environment
from reconciler.verify import Verifier, VerifyCache
from reconciler.verify.findings import Fact, trusted_services
from reconciler.verify.refs import EcrImage, Role, S3Object, Secret

BATCH_GET_IMAGE_MAX = 100
GET_PARAMETERS_MAX = 10
HINT_TAGS_MAX = 1000


T = TypeVar("T")


def _denied(exc: AwsError, permission: str) -> Fact:
    return Fact(exists=None, note=f"the reconciler may not read it ({permission}: {exc.code or 'AccessDenied'})")


def _lookup(call: Callable[[], T], permission: str) -> T | Fact:
    """The answer of a describe call, or the Fact when AWS says the thing is missing or may not be read."""
    try:
        return call()
    except AwsNotFound:
        return Fact(exists=False)
    except AwsAccessDenied as exc:
        return _denied(exc, permission)


class AwsReferenceReader:
    """The product's `reconciler.verify.ReferenceReader`."""

    def __init__(self, clients: AwsClients) -> None:
        self.clients = clients

    # -- ECR --------------------------------------------------------------------------
    def images(self, env: Environment, images: list[EcrImage]) -> dict[EcrImage, Fact]:
        first = images[0]
        ecr = self.clients.client("ecr", env, region=first.region)
        found: dict[str, dict[str, Any]] = {}
        failed: dict[str, str] = {}
        try:
            for batch in chunks(list(range(len(images))), BATCH_GET_IMAGE_MAX):
                ids = [images[i].image_id for i in batch]
                resp = ecr.batch_get_image(repositoryName=first.repository, registryId=first.registry,
                                           imageIds=ids)
                for image in resp.get("images") or []:
                    image_id = image.get("imageId") or {}
                    for key in (image_id.get("imageTag"), image_id.get("imageDigest")):
                        if key:
                            found[key] = image_id
                for failure in resp.get("failures") or []:
                    image_id = failure.get("imageId") or {}
                    key = image_id.get("imageTag") or image_id.get("imageDigest") or ""
                    failed[key] = str(failure.get("failureCode") or "ImageNotFound")
        except AwsNotFound as exc:  # RepositoryNotFoundException
            note = f"repository {first.repository} not found in registry {first.registry} ({exc.code})"
            return {image: Fact(exists=False, note=note) for image in images}
        except AwsAccessDenied as exc:
            return {image: _denied(exc, "ecr:BatchGetImage") for image in images}
        out: dict[EcrImage, Fact] = {}
        neighbours: tuple[str, ...] | None = None
        for image in images:
            hit = found.get(image.ref)
            if hit is not None:
                out[image] = Fact(exists=True, digest=hit.get("imageDigest"))
                continue
            if neighbours is None:
                neighbours = tuple(self._tags(ecr, first))
            out[image] = Fact(exists=False, note=failed.get(image.ref, "ImageNotFound"), neighbours=neighbours)
        return out

    def _tags(self, ecr: Any, repo: EcrImage) -> Iterator[str]:
        """Tags of the repository, for a "similar tag" hint; best effort."""
        count = 0
        try:
            pages = ecr.get_paginator("describe_images").paginate(
                repositoryName=repo.repository, registryId=repo.registry, filter={"tagStatus": "TAGGED"})
            for page in pages:
                for detail in page.get("imageDetails") or []:
                    for tag in detail.get("imageTags") or []:
                        yield tag
                        count += 1
                if count >= HINT_TAGS_MAX:
                    return
        except AwsError:
            return

    # -- SSM --------------------------------------------------------------------------
    def ssm_parameters(self, env: Environment, region: str, names: list[str]) -> dict[str, Fact]:
        ssm = self.clients.client("ssm", env, region=region)
        out: dict[str, Fact] = {}
        for batch in chunks(names, GET_PARAMETERS_MAX):
            try:
                resp = ssm.get_parameters(Names=batch, WithDecryption=False)
            except AwsAccessDenied as exc:
                out.update({n: _denied(exc, "ssm:GetParameters") for n in batch})
                continue
            invalid = set(resp.get("InvalidParameters") or [])
            resp.pop("Parameters", None)  # values are never kept
            out.update({n: Fact(exists=n not in invalid) for n in batch})
        return out

    # -- Secrets Manager ---------------------------------------------------------------
    def secret(self, env: Environment, secret: Secret) -> Fact:
        sm = self.clients.client("secretsmanager", env, region=secret.region)
        resp = _lookup(lambda: sm.describe_secret(SecretId=secret.arn), "secretsmanager:DescribeSecret")
        if isinstance(resp, Fact):
            return resp
        if resp.get("DeletedDate"):
            return Fact(exists=False, note="scheduled for deletion")
        versions = resp.get("VersionIdsToStages") or {}
        stages = tuple(sorted({s for st in versions.values() for s in st}))
        return Fact(exists=True, stages=stages, version_ids=tuple(sorted(versions)))

    # -- S3 -----------------------------------------------------------------------------
    def s3_object(self, env: Environment, obj: S3Object) -> Fact:
        s3 = self.clients.client("s3", env)
        try:
            s3.head_object(Bucket=obj.bucket, Key=obj.key)
        except AwsAccessDenied as exc:
            return _denied(exc, "s3:GetObject")
        except AwsError as exc:
            if exc.code in ("404", "NoSuchKey", "NoSuchBucket", "NotFound"):
                return Fact(exists=False)
            if exc.code == "403":
                return _denied(exc, "s3:GetObject")
            raise
        return Fact(exists=True)

    # -- IAM ------------------------------------------------------------------------------
    def role(self, env: Environment, role: Role) -> Fact:
        if env.account_id and role.account != env.account_id:
            return Fact(exists=None, note=f"in account {role.account}, not the environment's")
        iam = self.clients.client("iam", env)
        resp = _lookup(lambda: iam.get_role(RoleName=role.name), "iam:GetRole")
        if isinstance(resp, Fact):
            return resp
        policy = resp["Role"].get("AssumeRolePolicyDocument") or {}
        if isinstance(policy, str):
            policy = json.loads(urllib.parse.unquote(policy))
        return Fact(exists=True, trusted_by=trusted_services(policy))


def make_verifier(clients: AwsClients, *, cached: bool = True) -> Verifier:
    """The product's Verifier: these readers, and a per-commit cache (the daemon) or none (one-shot CLI)."""
    return Verifier(AwsReferenceReader(clients), VerifyCache(time.monotonic) if cached else None)
