"""One exception tree for every AWS failure, mapped at one boundary.

Callers catch `AwsError` (or a subclass) and never see botocore's exceptions,
the way httpx maps transport errors to its own tree.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)


class AwsError(Exception):
    """An AWS call failed; `code` is AWS's error code when it sent one."""

    def __init__(self, message: str, *, service: str = "", action: str = "", code: str = "") -> None:
        super().__init__(message)
        self.service = service
        self.action = action
        self.code = code

    def __str__(self) -> str:
        where = f"{self.service}:{self.action} " if self.action else ""
        code = f"{self.code}: " if self.code else ""
        return f"{where}{code}{self.args[0]}"


class AwsUnreachable(AwsError):
    """No answer from the endpoint (network, DNS, timeout)."""


class AwsThrottled(AwsError):
    """Still throttled after botocore's retry mode gave up."""


class AwsAccessDenied(AwsError):
    """Credentials missing or not allowed (IAM, STS trust policy, external id)."""


class AwsNotFound(AwsError):
    """The named resource does not exist."""


class AwsInvalidRequest(AwsError):
    """AWS rejected the request's content (InvalidParameterException and kin)."""


class AwsConflict(AwsError):
    """The resource is busy (one deployment per group, service not ACTIVE...)."""


_THROTTLING = {"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded", "Rate exceeded"}
_DENIED = {"AccessDeniedException", "AccessDenied", "UnrecognizedClientException", "InvalidClientTokenId",
           "ExpiredTokenException", "NotAuthorized"}
_NOT_FOUND_SUFFIXES = ("NotFoundException", "NotFound", "DoesNotExistException")
_NOT_FOUND = {"ServiceNotFoundException", "ClusterNotFoundException", "ResourceNotFoundException",
              "ImageNotFoundException", "RepositoryNotFoundException", "NoSuchEntity", "ObjectNotFoundException"}
_CONFLICT = {"DeploymentLimitExceededException", "ServiceNotActiveException", "ConditionalCheckFailedException",
             "DeploymentAlreadyCompletedException", "ResourceInUseException"}


def from_client_error(exc: ClientError, service: str = "") -> AwsError:
    err = exc.response.get("Error", {})
    code = str(err.get("Code", ""))
    message = str(err.get("Message", "")) or str(exc)
    action = getattr(exc, "operation_name", "") or ""
    cls: type[AwsError]
    if code in _THROTTLING:
        cls = AwsThrottled
    elif code in _DENIED:
        cls = AwsAccessDenied
    elif code in _NOT_FOUND or code.endswith(_NOT_FOUND_SUFFIXES):
        cls = AwsNotFound
    elif code in _CONFLICT:
        cls = AwsConflict
    elif code.startswith("Invalid") or code.endswith("ValidationException") or code == "ClientException":
        cls = AwsInvalidRequest
    else:
        cls = AwsError
    return cls(message, service=service, action=action, code=code)


@contextlib.contextmanager
def translated(service: str = "", action: str = "") -> Iterator[None]:
    """Re-raise botocore failures as `AwsError` subclasses."""
    try:
        yield
    except ClientError as exc:
        raise from_client_error(exc, service) from exc
    except (EndpointConnectionError, BotoConnectionError, ReadTimeoutError) as exc:
        raise AwsUnreachable(str(exc), service=service, action=action) from exc
    except NoCredentialsError as exc:
        raise AwsAccessDenied(str(exc), service=service, action=action) from exc
    except BotoCoreError as exc:
        raise AwsError(str(exc), service=service, action=action) from exc
