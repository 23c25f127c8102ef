"""One exception tree for every AWS failure, mapped at one boundary.

`reconciler.aws.clients` hands out clients whose every call (paginated ones too)
goes through `translate`, so no other module catches botocore's exceptions or
wraps a call: callers catch `AwsError` (or a subclass), the way httpx maps
transport errors to its own tree once.

    AwsError                 any AWS failure; `code` is AWS's error code when it sent one
    ├── AwsUnreachable       no (complete) answer: connection, DNS, TLS, timeout      retryable
    ├── AwsThrottled         still throttled after botocore's retries                 retryable
    ├── AwsServerError       AWS failed on its side (HTTP 5xx, InternalError...)      retryable
    ├── AwsAccessDenied      credentials missing, expired or not allowed
    ├── AwsNotFound          the named resource does not exist
    ├── AwsInvalidRequest    AWS (or botocore's parameter check) rejected the request
    └── AwsConflict          the resource is busy or a condition failed
"""
from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    CredentialRetrievalError,
    HTTPClientError,
    NoAuthTokenError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
    SSOError,
    TokenRetrievalError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)


class AwsError(Exception):
    """An AWS call failed; `code` is AWS's error code when it sent one."""

    #: Whether trying the same call later may succeed (the notifier retries these).
    retryable = False

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
    """No (complete) answer from the endpoint: network, DNS, TLS, timeout, connection closed."""

    retryable = True


class AwsThrottled(AwsError):
    """Still throttled after botocore's retry mode gave up."""

    retryable = True


class AwsServerError(AwsError):
    """AWS failed on its side (HTTP 5xx) after botocore's retries."""

    retryable = True


class AwsAccessDenied(AwsError):
    """Credentials missing or not allowed (IAM, STS trust policy, external id, expired token)."""


class AwsNotFound(AwsError):
    """The named resource does not exist."""


class AwsInvalidRequest(AwsError):
    """AWS rejected the request's content (InvalidParameterException and kin), or botocore did before sending."""


class AwsConflict(AwsError):
    """The resource is busy (one deployment per group, service not ACTIVE...) or a condition failed."""


_THROTTLING = {"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded",
               "Rate exceeded", "ProvisionedThroughputExceededException", "RequestThrottled",
               "KMSThrottlingException", "SlowDown"}
_DENIED = {"AccessDeniedException", "AccessDenied", "UnrecognizedClientException", "InvalidClientTokenId",
           "ExpiredTokenException", "ExpiredToken", "NotAuthorized", "AuthorizationError",
           "SignatureDoesNotMatch", "InvalidSignatureException"}
_NOT_FOUND_SUFFIXES = ("NotFoundException", "NotFound", "DoesNotExistException")
_NOT_FOUND = {"ServiceNotFoundException", "ClusterNotFoundException", "ResourceNotFoundException",
              "ImageNotFoundException", "RepositoryNotFoundException", "NoSuchEntity", "ObjectNotFoundException",
              "NoSuchKey", "NoSuchBucket", "404"}
_CONFLICT = {"DeploymentLimitExceededException", "ServiceNotActiveException", "ConditionalCheckFailedException",
             "DeploymentAlreadyCompletedException", "ResourceInUseException", "TransactionConflictException"}
_SERVER = {"InternalError", "InternalFailure", "InternalServerError", "InternalServerException", "ServerException",
           "ServiceUnavailable", "ServiceUnavailableException"}
_CREDENTIALS = (NoCredentialsError, PartialCredentialsError, CredentialRetrievalError, NoAuthTokenError,
                TokenRetrievalError, SSOError)


def _client_error_class(code: str, status: int) -> type[AwsError]:
    if code in _THROTTLING:
        return AwsThrottled
    if code in _DENIED:
        return AwsAccessDenied
    if code in _NOT_FOUND or code.endswith(_NOT_FOUND_SUFFIXES):
        return AwsNotFound
    if code in _CONFLICT:
        return AwsConflict
    if code in _SERVER or status >= 500:
        return AwsServerError
    if code.startswith("Invalid") or code.endswith("ValidationException") or code == "ClientException":
        return AwsInvalidRequest
    return AwsError


def translate(exc: Exception, service: str = "", action: str = "") -> Exception:
    """Our exception for a botocore one; any other exception comes back unchanged."""
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {}) or {}
        code = str(err.get("Code", ""))
        status = int((exc.response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0)
        message = str(err.get("Message", "")) or str(exc)
        action = getattr(exc, "operation_name", "") or action
        return _client_error_class(code, status)(message, service=service, action=action, code=code)
    if not isinstance(exc, BotoCoreError):
        return exc
    cls: type[AwsError]
    if isinstance(exc, (BotoConnectionError, HTTPClientError)):
        cls = AwsUnreachable
    elif isinstance(exc, _CREDENTIALS):
        cls = AwsAccessDenied
    elif isinstance(exc, ParamValidationError):
        cls = AwsInvalidRequest
    else:
        cls = AwsError
    return cls(str(exc), service=service, action=action)
