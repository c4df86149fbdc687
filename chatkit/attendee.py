"""Who is running this kernel: the attendee's name, from which their own resource names
derive (user id, tables, stack) so that a class can share one AWS account.

The name comes from, in order: ``CHATKIT_ATTENDEE``; the SageMaker Studio user profile
(``UserProfileName``, else ``SpaceName``, of ``/opt/ml/metadata/resource-metadata.json``);
in aws mode, the IAM caller (STS GetCallerIdentity: the role session name or the user
name). It is sanitized to what every AWS name accepts::

    >>> sanitize("Kim.MinSu@example.com")
    'kim-minsu'
    >>> resource_names("minsu")["table"], resource_names("minsu")["stack"]
    ('chatkit-minsu-history', 'chatkit-minsu')
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import unicodedata
from collections.abc import Callable, Mapping
from pathlib import Path

__all__ = ["STUDIO_METADATA", "caller_name", "resolve_attendee", "resource_names", "sanitize"]

#: Written by SageMaker Studio (and notebook instances) into every app container.
STUDIO_METADATA = Path("/opt/ml/metadata/resource-metadata.json")

#: Every resource of the kit starts with this (the attendee policy scopes on it).
PREFIX = "chatkit-"
#: Role session names every attendee gets (SageMaker's execution-role sessions): they name
#: no one, so they must not name a class's resources.
_SHARED_SESSIONS = {"sagemaker"}
_MAX = 24  # chatkit-<name>-history ≤ 255, stack chatkit-<name> ≤ 40, bucket names ≤ 63


def sanitize(raw: str) -> str:
    """Lowercase ASCII letters, digits and single hyphens, starting with a letter, at most
    24 characters; the part before ``@`` of an e-mail. A name with nothing usable (e.g. only
    Hangul) becomes ``u`` + 8 hex digits of its hash, stable for the same name.

    >>> sanitize("김민수") == sanitize("김민수") and sanitize("김민수").startswith("u")
    True
    """
    text = unicodedata.normalize("NFKC", raw).strip().split("@", 1)[0].lower()
    text = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    text = re.sub(r"^[^a-z]+", "", text)[:_MAX].rstrip("-")
    if text:
        return text
    digest = hashlib.sha256(unicodedata.normalize("NFC", raw.strip()).encode()).hexdigest()
    return "u" + digest[:8]


def resource_names(attendee: str) -> dict[str, str]:
    """The attendee's own names: user id, history and state tables, stack."""
    return {
        "user_id": attendee,
        "table": f"{PREFIX}{attendee}-history",
        "state_table": f"{PREFIX}{attendee}-state",
        "stack": f"{PREFIX}{attendee}",
    }


def _studio_name(path: Path) -> str | None:
    try:
        metadata = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(metadata, dict):
        return None
    for key in ("UserProfileName", "SpaceName"):
        if isinstance(metadata.get(key), str) and metadata[key].strip():
            return metadata[key]
    return None


def caller_name(arn: str) -> str:
    """The person in an STS caller ARN: a role's session name, or a user's name.

    >>> caller_name("arn:aws:sts::123456789012:assumed-role/SageMakerRole/minsu")
    'minsu'
    >>> caller_name("arn:aws:iam::123456789012:user/class/jiwoo")
    'jiwoo'
    """
    return arn.rsplit(":", 1)[-1].rsplit("/", 1)[-1]


def _sts_name() -> str:
    import boto3

    # botocore reads AWS_DEFAULT_REGION and profiles, not AWS_REGION (other SDKs do)
    sts = boto3.client("sts", region_name=os.environ.get("AWS_REGION") or None)
    return caller_name(sts.get_caller_identity()["Arn"])


def resolve_attendee(
    env: Mapping[str, str] | None = None,
    *,
    aws: bool = False,
    metadata: Path = STUDIO_METADATA,
    sts: Callable[[], str] = _sts_name,
) -> str | None:
    """The sanitized attendee name, or None when nothing names one (offline, no
    ``CHATKIT_ATTENDEE``, not in Studio). ``aws=True`` also asks STS."""
    env = os.environ if env is None else env
    raw = env.get("CHATKIT_ATTENDEE") or _studio_name(metadata)
    if raw:
        return sanitize(raw)
    caller = sanitize(sts()) if aws else None
    return None if caller in _SHARED_SESSIONS else caller
