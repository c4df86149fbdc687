"""The ``bedrock`` control-plane calls chatkit's preflight makes, answered AWS-shaped from a
small catalogue of the ids the demo model stands in for.

``ListInferenceProfiles``, ``GetInferenceProfile``, ``ListFoundationModels`` and
``GetFoundationModel`` (shapes as in botocore's ``bedrock`` service model). The catalogue
holds Claude Haiku 4.5 (chatkit's default model) and Claude Sonnet 4.5, each as a
foundation model and as cross-region inference profiles; ``extra`` ids (a profile id or a
bare model id) are added.

>>> catalogue = Catalogue(["apac.anthropic.claude-3-5-sonnet-20241022-v2:0"])
>>> "apac.anthropic.claude-3-5-sonnet-20241022-v2:0" in catalogue.profiles
True
>>> catalogue.get_foundation_model("anthropic.claude-3-5-sonnet-20241022-v2:0", "us-east-1")[
...     "modelDetails"]["modelArn"]
'arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-5-sonnet-20241022-v2:0'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from ._bedrock_rules import AwsError

__all__ = ["Catalogue"]

#: Geography prefixes the catalogue's inference profiles come in.
GEOGRAPHIES = ("global", "us", "eu", "apac", "jp", "au")
#: The account id in profile ARNs (the emulator has no account).
ACCOUNT = "123456789012"
_CREATED = datetime(2025, 10, 15, tzinfo=timezone.utc).isoformat().replace("+00:00", "Z")
_NAMES = {
    "anthropic.claude-haiku-4-5-20251001-v1:0": "Claude Haiku 4.5",
    "anthropic.claude-sonnet-4-5-20250929-v1:0": "Claude Sonnet 4.5",
}


def _split(model_id: str) -> tuple[str | None, str]:
    """``global.anthropic.claude…`` → ``("global", "anthropic.claude…")``."""
    head, _, rest = model_id.partition(".")
    if head in GEOGRAPHIES and rest.count(".") >= 1:
        return head, rest
    return None, model_id


def _page(items: list[dict[str, Any]], query: Mapping[str, str], key: str) -> dict[str, Any]:
    try:
        start = int(query.get("nextToken") or 0)
        size = int(query.get("maxResults") or 1000)
    except ValueError:
        raise AwsError(400, "ValidationException", "Invalid nextToken or maxResults.") from None
    if not 1 <= size <= 1000 or start < 0:
        raise AwsError(
            400,
            "ValidationException",
            f"1 validation error detected: Value '{size}' at 'maxResults' failed to satisfy "
            "constraint: Member must have value between 1 and 1000",
        )
    page: dict[str, Any] = {key: items[start : start + size]}
    if start + size < len(items):
        page["nextToken"] = str(start + size)
    return page


class Catalogue:
    """Foundation models and inference profiles the emulator lists (ids only; the demo
    model answers for every id)."""

    def __init__(self, extra: Iterable[str] = ()) -> None:
        ids = [*_NAMES, *extra]
        self.models: list[str] = []
        self.profiles: list[str] = []
        for model_id in ids:
            geography, base = _split(model_id)
            if base not in self.models:
                self.models.append(base)
            wanted = [model_id] if geography else []
            if base in _NAMES:
                wanted += [f"{geo}.{base}" for geo in GEOGRAPHIES]
            self.profiles += [p for p in dict.fromkeys(wanted) if p not in self.profiles]

    # -- shapes ------------------------------------------------------------------------

    def _model(self, model_id: str, region: str) -> dict[str, Any]:
        return {
            "modelArn": f"arn:aws:bedrock:{region}::foundation-model/{model_id}",
            "modelId": model_id,
            "modelName": _NAMES.get(model_id, model_id),
            "providerName": model_id.split(".")[0].capitalize(),
            "inputModalities": ["TEXT"],
            "outputModalities": ["TEXT"],
            "responseStreamingSupported": True,
            "customizationsSupported": [],
            # What the service reports for models reachable only through inference
            # profiles (not yet an enum value in the service model).
            "inferenceTypesSupported": ["INFERENCE_PROFILE"],
            "modelLifecycle": {"status": "ACTIVE"},
        }

    def _profile(self, profile_id: str, region: str) -> dict[str, Any]:
        geography, base = _split(profile_id)
        label = "Global" if geography == "global" else str(geography).upper()
        return {
            "inferenceProfileName": f"{label} {_NAMES.get(base, base)}",
            "description": f"Routes requests to {_NAMES.get(base, base)} ({label}).",
            "createdAt": _CREATED,
            "updatedAt": _CREATED,
            "inferenceProfileArn": (
                f"arn:aws:bedrock:{region}:{ACCOUNT}:inference-profile/{profile_id}"
            ),
            "models": [{"modelArn": f"arn:aws:bedrock:{region}::foundation-model/{base}"}],
            "inferenceProfileId": profile_id,
            "status": "ACTIVE",
            "type": "SYSTEM_DEFINED",
        }

    # -- operations --------------------------------------------------------------------

    def list_inference_profiles(self, query: Mapping[str, str], region: str) -> dict[str, Any]:
        """``GET /inference-profiles`` (``maxResults``, ``nextToken``, ``type``)."""
        wanted = query.get("type") or "SYSTEM_DEFINED"
        items = [self._profile(p, region) for p in self.profiles if wanted == "SYSTEM_DEFINED"]
        return _page(items, query, "inferenceProfileSummaries")

    def get_inference_profile(self, identifier: str, region: str) -> dict[str, Any]:
        """``GET /inference-profiles/{id or ARN}``."""
        return self._profile(_known(identifier, self.profiles, "inference profile"), region)

    def list_foundation_models(self, query: Mapping[str, str], region: str) -> dict[str, Any]:
        """``GET /foundation-models`` (filters ``byProvider``, ``byOutputModality``)."""
        models = [self._model(m, region) for m in self.models]
        provider = (query.get("byProvider") or "").lower()
        modality = query.get("byOutputModality")
        return {
            "modelSummaries": [
                m
                for m in models
                if (not provider or m["providerName"].lower() == provider)
                and (not modality or modality in m["outputModalities"])
            ]
        }

    def get_foundation_model(self, identifier: str, region: str) -> dict[str, Any]:
        """``GET /foundation-models/{id or ARN}``."""
        model_id = _known(identifier, self.models, "foundation model")
        return {"modelDetails": self._model(model_id, region)}


def _known(identifier: str, known: list[str], what: str) -> str:
    """The id an id or ARN names, or a 404 ``ResourceNotFoundException``."""
    found = identifier.rsplit("/", 1)[-1]
    if found not in known:
        raise AwsError(
            404,
            "ResourceNotFoundException",
            f"The {what} {identifier} was not found. "
            "(chatkit's Bedrock emulator lists only its demo catalogue.)",
        )
    return found
