"""Settings from the environment: one frozen object handed to every piece.

Every knob has an environment variable, so notebooks, the CLI, papermill runs and
the Lambda functions are configured the same way::

    >>> from chatkit.config import Settings
    >>> s = Settings.from_env({"CHATKIT_MODE": "offline"})
    >>> s.mode, s.model_id.startswith("global.anthropic.claude")
    ('offline', True)

``mode`` defaults to ``aws`` only when AWS credentials are visibly configured (env
variables, a container/web-identity credential source, or ``~/.aws`` files). We do not
probe the instance metadata service: that can hang for seconds on a laptop.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from .attendee import resource_names, sanitize

__all__ = ["DEFAULT_MODEL_ID", "DEFAULT_REGION", "Settings", "region_from_env"]

#: The app's region when nothing names one: Seoul, near the attendees. The one home of the
#: default: Settings, the deploy (``chatkit.deploy.aws``) and the local emulators use it.
DEFAULT_REGION = "ap-northeast-2"

#: A current Claude model as a *global* cross-region inference profile id: callable from
#: Seoul and most other regions. Newer Claude models reject bare model ids
#: ("on-demand throughput isn't supported"), so the default is a profile id.
DEFAULT_MODEL_ID = "global.anthropic.claude-haiku-4-5-20251001-v1:0"

DEFAULT_SYSTEM_PROMPT = (
    "당신은 친절한 한국어 AI 비서입니다. 질문에 정확하고 간결하게 한국어로 답하세요. "
    "모르는 내용은 모른다고 말하세요."
)

_CREDENTIAL_ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_PROFILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
)

Mode = Literal["offline", "aws"]
AuthMode = Literal["demo", "cognito"]


def _aws_credentials_configured(env: Mapping[str, str]) -> bool:
    if any(env.get(name) for name in _CREDENTIAL_ENV):
        return True
    home = Path(env.get("HOME", "~")).expanduser()
    return (home / ".aws" / "credentials").exists() or (home / ".aws" / "config").exists()


def _profile_region(env: Mapping[str, str]) -> str | None:
    """The ``region`` of the active profile in the AWS config file (what boto3 would use),
    read without botocore so that Settings stays cheap."""
    import configparser

    home = Path(env.get("HOME", "~")).expanduser()
    path = Path(env.get("AWS_CONFIG_FILE") or home / ".aws" / "config").expanduser()
    profile = env.get("AWS_PROFILE") or env.get("AWS_DEFAULT_PROFILE") or "default"
    parser = configparser.RawConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except (OSError, configparser.Error):
        return None
    section = profile if profile == "default" else f"profile {profile}"
    return parser.get(section, "region", fallback=None) or None


def region_from_env(env: Mapping[str, str] | None = None, mode: str = "aws") -> str:
    """The app's region: ``CHATKIT_REGION``, ``AWS_REGION``, ``AWS_DEFAULT_REGION``; in aws
    mode then the profile's region (chatkit never overrides it); else :data:`DEFAULT_REGION`.
    :meth:`Settings.from_env` and the deploy (``resolve_region``) both read it here.

    >>> region_from_env({"AWS_REGION": "us-east-1"}), region_from_env({}, mode="offline")
    ('us-east-1', 'ap-northeast-2')
    """
    env = os.environ if env is None else env
    for name in ("CHATKIT_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"):
        if env.get(name):
            return env[name]
    return (_profile_region(env) if mode == "aws" else None) or DEFAULT_REGION


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None


def _auth_mode(env: Mapping[str, str]) -> AuthMode:
    auth = env.get("CHATKIT_AUTH") or "demo"
    if auth not in ("demo", "cognito"):
        raise ValueError(f"CHATKIT_AUTH must be 'demo' or 'cognito', got {auth!r}")
    if auth == "cognito" and not (
        env.get("CHATKIT_COGNITO_USER_POOL_ID") and env.get("CHATKIT_COGNITO_CLIENT_ID")
    ):
        raise ValueError(
            "CHATKIT_AUTH=cognito needs CHATKIT_COGNITO_USER_POOL_ID and CHATKIT_COGNITO_CLIENT_ID"
        )
    return auth  # type: ignore[return-value]


@dataclass(frozen=True)
class Settings:
    """Everything chatkit needs to know about where it runs.

    ``region`` is the app's region (DynamoDB, API Gateway, Lambda); ``bedrock_region``
    may differ (as in the seed post: app in Seoul, model elsewhere).
    """

    mode: Mode = "offline"
    region: str = DEFAULT_REGION
    bedrock_region: str = DEFAULT_REGION
    model_id: str = DEFAULT_MODEL_ID
    table_name: str = "chatkit-history"
    state_table_name: str = "chatkit-state"
    #: The attendee (``CHATKIT_ATTENDEE``, sanitized): with one, the tables and the stack
    #: default to ``chatkit-<attendee>-…`` so a class can share one account.
    attendee: str | None = None
    bedrock_endpoint: str | None = None
    dynamodb_endpoint: str | None = None
    #: The API Gateway management (``@connections``) endpoint; by default derived from
    #: each WebSocket event (``https://{domainName}/{stage}``). The local gateway sets it.
    connections_endpoint: str | None = None
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    context_tokens: int = 4000
    max_output_tokens: int = 2048
    max_question_chars: int = 8000
    #: The question's UTF-8 size after NFC (Hangul is 3 bytes a syllable).
    max_question_bytes: int = 24_000
    #: Chat requests per user (all connections together) and per connection: a token
    #: bucket of ``burst`` refilled ``per_minute`` (``rate_limited`` with ``retry_after``).
    rate_user_burst: int = 60
    rate_user_per_minute: int = 60
    rate_connection_burst: int = 30
    rate_connection_per_minute: int = 30
    #: Answers one user may have streaming at once (``busy`` beyond that); each holds a
    #: lease that expires after ``generation_lease_seconds`` should its Lambda crash.
    max_generations_per_user: int = 1
    generation_lease_seconds: int = 360
    #: Turns kept per user; a full history refuses new questions until it is reset.
    max_history_turns: int = 20_000
    ttl_days: int = 30
    read_timeout: int = 300
    #: Total attempts per model call (the first try included), botocore "standard" retries.
    max_attempts: int = 4
    auth_secret: str = "chatkit-offline-demo-secret"
    #: ``demo``: signed demo tokens from ``POST /login`` (a user id, no password — workshops);
    #: ``cognito``: access tokens of a Cognito user pool (sign-in with a password via SRP).
    auth: AuthMode = "demo"
    cognito_user_pool_id: str | None = None
    #: The app client (no secret) the web client signs in with.
    cognito_client_id: str | None = None
    #: The Cognito API; only offline (the local moto server), else the regional endpoint.
    cognito_endpoint: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read ``CHATKIT_*`` (and the standard ``AWS_REGION``, ``AWS_PROFILE``) variables."""
        env = os.environ if env is None else env
        mode = env.get("CHATKIT_MODE") or ("aws" if _aws_credentials_configured(env) else "offline")
        if mode not in ("offline", "aws"):
            raise ValueError(f"CHATKIT_MODE must be 'offline' or 'aws', got {mode!r}")
        region = region_from_env(env, mode)
        attendee = sanitize(env["CHATKIT_ATTENDEE"]) if env.get("CHATKIT_ATTENDEE") else None
        names = resource_names(attendee) if attendee else {}
        return cls(
            mode=mode,
            region=region,
            bedrock_region=env.get("CHATKIT_BEDROCK_REGION") or region,
            model_id=env.get("CHATKIT_MODEL_ID") or DEFAULT_MODEL_ID,
            table_name=env.get("CHATKIT_TABLE") or names.get("table", cls.table_name),
            state_table_name=env.get("CHATKIT_STATE_TABLE")
            or names.get("state_table", cls.state_table_name),
            attendee=attendee,
            bedrock_endpoint=env.get("CHATKIT_BEDROCK_ENDPOINT") or None,
            dynamodb_endpoint=env.get("CHATKIT_DYNAMODB_ENDPOINT") or None,
            connections_endpoint=env.get("CHATKIT_CONNECTIONS_ENDPOINT") or None,
            system_prompt=env.get("CHATKIT_SYSTEM_PROMPT") or DEFAULT_SYSTEM_PROMPT,
            context_tokens=_int(env, "CHATKIT_CONTEXT_TOKENS", cls.context_tokens),
            max_output_tokens=_int(env, "CHATKIT_MAX_OUTPUT_TOKENS", cls.max_output_tokens),
            max_question_chars=_int(env, "CHATKIT_MAX_QUESTION_CHARS", cls.max_question_chars),
            max_question_bytes=_int(env, "CHATKIT_MAX_QUESTION_BYTES", cls.max_question_bytes),
            rate_user_burst=_int(env, "CHATKIT_RATE_USER_BURST", cls.rate_user_burst),
            rate_user_per_minute=_int(
                env, "CHATKIT_RATE_USER_PER_MINUTE", cls.rate_user_per_minute
            ),
            rate_connection_burst=_int(
                env, "CHATKIT_RATE_CONNECTION_BURST", cls.rate_connection_burst
            ),
            rate_connection_per_minute=_int(
                env, "CHATKIT_RATE_CONNECTION_PER_MINUTE", cls.rate_connection_per_minute
            ),
            max_generations_per_user=_int(
                env, "CHATKIT_MAX_GENERATIONS_PER_USER", cls.max_generations_per_user
            ),
            generation_lease_seconds=_int(
                env, "CHATKIT_GENERATION_LEASE_SECONDS", cls.generation_lease_seconds
            ),
            max_history_turns=_int(env, "CHATKIT_MAX_HISTORY_TURNS", cls.max_history_turns),
            ttl_days=_int(env, "CHATKIT_TTL_DAYS", cls.ttl_days),
            read_timeout=_int(env, "CHATKIT_READ_TIMEOUT", cls.read_timeout),
            max_attempts=_int(env, "CHATKIT_MAX_ATTEMPTS", cls.max_attempts),
            auth_secret=env.get("CHATKIT_AUTH_SECRET") or cls.auth_secret,
            auth=_auth_mode(env),
            cognito_user_pool_id=env.get("CHATKIT_COGNITO_USER_POOL_ID") or None,
            cognito_client_id=env.get("CHATKIT_COGNITO_CLIENT_ID") or None,
            cognito_endpoint=env.get("CHATKIT_COGNITO_ENDPOINT") or None,
        )

    def with_(self, **changes: object) -> Settings:
        """A copy with some fields changed: ``settings.with_(model_id="...")``."""
        return replace(self, **changes)  # type: ignore[arg-type]

    def for_attendee(self, attendee: str | None) -> Settings:
        """These settings for ``attendee`` (sanitized): tables still at their defaults take
        the attendee's names. None changes nothing.

        >>> Settings().for_attendee("Minsu").table_name
        'chatkit-minsu-history'
        """
        if not attendee or self.attendee:
            return self
        name = sanitize(attendee)
        names = resource_names(name)
        return self.with_(
            attendee=name,
            table_name=names["table"]
            if self.table_name == Settings.table_name
            else self.table_name,
            state_table_name=names["state_table"]
            if self.state_table_name == Settings.state_table_name
            else self.state_table_name,
        )

    @property
    def stack_name(self) -> str:
        """The attendee's stack (``chatkit-<attendee>``), else ``chatkit``."""
        return resource_names(self.attendee)["stack"] if self.attendee else "chatkit"

    @property
    def cognito_issuer(self) -> str:
        """The ``iss`` of the pool's tokens (the same offline: moto signs with it)."""
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.cognito_user_pool_id}"

    @property
    def needs_local_endpoints(self) -> bool:
        """Offline mode without endpoints: the embedded offline stack must be started."""
        return self.mode == "offline" and not (self.bedrock_endpoint and self.dynamodb_endpoint)
