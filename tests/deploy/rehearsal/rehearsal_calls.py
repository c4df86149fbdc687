"""Record every AWS API call a process makes (botocore, whatever the endpoint): service
(signing name), operation, region, the parameters that name a resource, and the error
code if it failed — one JSON line each. The rehearsal installs it in the attendee's
kernels (an IPython startup file in their scratch home) and around its own deploy."""

from __future__ import annotations

import json
import threading

_NAMES = ("TableName", "StackName", "ChangeSetName", "Bucket", "Key", "modelId", "PolicyArn")
_lock = threading.Lock()


def _names(api_params: dict) -> dict[str, str]:
    names = {k: api_params[k] for k in _NAMES if isinstance(api_params.get(k), str)}
    if isinstance(api_params.get("RequestItems"), dict):  # batch calls: one table here
        names["TableName"] = ",".join(sorted(api_params["RequestItems"]))
    if isinstance(api_params.get("TransactItems"), list):  # authorized item by item
        names["TransactItems"] = [
            [kind, item.get("TableName")]
            for entry in api_params["TransactItems"]
            for kind, item in entry.items()
        ]
    return names


def install(log_path: str) -> None:
    from botocore.client import BaseClient

    if getattr(BaseClient._make_api_call, "_recording", None) == log_path:
        return
    call = getattr(BaseClient._make_api_call, "_original", BaseClient._make_api_call)

    def recorded(self, operation_name, api_params):
        entry = {
            "service": self.meta.service_model.signing_name,
            "operation": operation_name,
            "region": self.meta.region_name,
            "endpoint": self.meta.endpoint_url,
            "params": _names(api_params),
            "error": None,
        }
        try:
            return call(self, operation_name, api_params)
        except Exception as exc:
            response = getattr(exc, "response", None) or {}
            entry["error"] = response.get("Error", {}).get("Code") or type(exc).__name__
            raise
        finally:
            with _lock, open(log_path, "a", encoding="utf-8") as log:
                log.write(json.dumps(entry, ensure_ascii=False) + "\n")

    recorded._original = call
    recorded._recording = log_path
    BaseClient._make_api_call = recorded


def uninstall() -> None:
    from botocore.client import BaseClient

    original = getattr(BaseClient._make_api_call, "_original", None)
    if original is not None:
        BaseClient._make_api_call = original
