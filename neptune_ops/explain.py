"""Turns what boto3, botocore and the layer raise into the problem and the next step a person can act on.

The credential chain boto3 searches is https://docs.aws.amazon.com/boto3/latest/guide/credentials.html;
a stack that does not exist is a ValidationError
(https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStacks.html)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
    SSOError,
    TokenRetrievalError,
    UnauthorizedSSOTokenError,
)

from neptune_capture.errors import NeptuneCallError, TransientCaptureError
from neptune_capture.neptune_api import ResetError
from neptune_entry.errors import OR_STACK, START_LOCAL_RUN, AwsError, CliError, NeptuneError, NoTargetError

CREDENTIALS_REJECTED = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "RequestExpired",
        "AuthFailure",
    }
)
ACCESS_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"})
THROTTLED = frozenset({"Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded"})
HTTP_FORBIDDEN = 403
NO_REGION_NEXT = "pass --region REGION, or set AWS_REGION or AWS_DEFAULT_REGION (or a region in your profile)"


@dataclass(frozen=True)
class Place:
    """Where a command acts, as its messages name it."""

    local: bool
    label: str  # the local run's endpoints file, or "stack NeptuneStream in eu-west-1"
    region: str | None = None

    @property
    def title(self) -> str:
        return f"local run ({self.label})" if self.local else self.label


def explain(error: BaseException, place: Place | None = None) -> CliError | None:
    """The CliError for an expected failure, or None for one nobody expects (a bug)."""
    if isinstance(error, CliError):
        return error
    if isinstance(error, NeptuneCallError | ResetError):
        return _neptune(error, place)
    if isinstance(error, TransientCaptureError) and isinstance(error.__cause__, NeptuneCallError | ClientError | BotoCoreError):
        # Still failing after the capture core's own retries (`reset` reads the stream with them).
        return _neptune(error, place) if str(error).startswith("Neptune") else AwsError(str(error), "try again")
    if isinstance(error, ProfileNotFound):
        return AwsError(f"{error}", "list the profiles with `aws configure list-profiles`, or leave --profile out")
    if isinstance(error, NoRegionError):
        return AwsError("no AWS region is configured", NO_REGION_NEXT)
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return AwsError(
            f"no usable AWS credentials were found ({error})",
            "sign in (`aws sso login`, `aws configure`) or set AWS_PROFILE; "
            "boto3 looks where https://docs.aws.amazon.com/boto3/latest/guide/credentials.html says",
        )
    if isinstance(error, TokenRetrievalError | UnauthorizedSSOTokenError | SSOError):
        return AwsError(f"your AWS sign-in has expired or is missing ({error})", "sign in again: `aws sso login`")
    if isinstance(error, EndpointConnectionError | ConnectTimeoutError):
        return _unreachable(error, place)
    if isinstance(error, ReadTimeoutError):
        return AwsError(
            f"AWS did not answer in time ({error})", "try again; if it persists, check the network or the service health"
        )
    if isinstance(error, ClientError):
        return _client_error(error, place)
    if isinstance(error, BotoCoreError):
        return AwsError(f"AWS call failed: {error}", "rerun with --debug for the details")
    return None


def _neptune(error: Exception, place: Place | None) -> NeptuneError:
    if place is not None and place.local:
        step = "the local run's emulator does not answer: restart the run (`./neptune-stream demo --keep-running`)"
    else:
        step = "check the cluster (Neptune console, `aws neptune describe-db-clusters`) and the status/reset Lambda's logs"
    return NeptuneError(str(error), step)


def _unreachable(error: BotoCoreError, place: Place | None) -> CliError:
    url = getattr(error, "kwargs", {}).get("endpoint_url", "")
    if place is not None and place.local:
        return NoTargetError(
            f"no local run answers at {url} (named by {place.label}): the run that wrote it has ended",
            f"{START_LOCAL_RUN}, {OR_STACK}",
        )
    region = place.region if place else None
    return AwsError(
        f"cannot reach AWS at {url}" + (f" (region {region})" if region else ""),
        "check the network or proxy and the region name (--region, AWS_REGION); AWS_ENDPOINT_URL overrides the endpoint",
    )


def _message(error: ClientError) -> str:
    message = str(error.response.get("Error", {}).get("Message", "") or "")
    # Some servers send an XML error document where the JSON protocol expects a message: keep its text.
    inner = re.search(r"<Message>(.*?)</Message>", message, re.S)
    return inner[1] if inner else message


def _code(error: ClientError) -> str:
    code = str(error.response.get("Error", {}).get("Code", "") or "")
    inner = re.search(r"<Code>(.*?)</Code>", str(error.response.get("Error", {}).get("Message", "")))
    return inner[1] if inner else code


def _client_error(error: ClientError, place: Place | None) -> CliError:
    code, message, operation = _code(error), _message(error), error.operation_name
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code in CREDENTIALS_REJECTED:
        return AwsError(
            f"AWS rejected the credentials ({code}: {message})",
            "refresh them (`aws sso login`, new access keys) or pick another profile (AWS_PROFILE, --profile)",
        )
    if code in ACCESS_DENIED or (status == HTTP_FORBIDDEN and code not in CREDENTIALS_REJECTED):
        action = re.search(r"perform: ([\w-]+:[\w-]+)", message)
        needed = action[1] if action else operation
        return AwsError(
            f"not allowed to call {operation}: {message or code}",
            f"ask for {needed} on this stack's resources, or use a profile or role that has it",
        )
    if code in THROTTLED:
        return AwsError(f"AWS throttled {operation} ({code})", "wait a moment and try again")
    where = f" ({place.label})" if place else ""
    return AwsError(f"{operation} failed{where}: {code}: {message}", "rerun with --debug for the details")


def explain_at(error: Exception, place: object | None) -> CliError | None:
    """explain() as the entry-point runner calls it (neptune_entry.runner.Explainer)."""
    return explain(error, place if isinstance(place, Place) else None)
