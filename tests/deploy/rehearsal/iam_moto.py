"""A stand-in AWS account with IAM enforced, in its own process (moto reads
``INITIAL_NO_AUTH_ACTION_COUNT`` when it is imported, and its state must not mix with the
other tests' in-process moto).

    python tests/deploy/rehearsal/iam_moto.py LOG.jsonl  # prints the URL, serves until stdin closes

After the first ``INITIAL_NO_AUTH_ACTION_COUNT`` requests every call must be signed by an
IAM user's key and is checked against that user's policies. Every authorization decision
is appended to ``LOG.jsonl``: the caller's access key, moto's name for the action, the
resource moto checked (``*`` for most services; the bucket/object ARN for S3), whether it
was allowed, and the request's naming parameters (table, stack, change set…) so the test
can check the real, resource-scoped policy too. A DynamoDB transaction is checked and logged
item by item, as AWS authorizes it (moto checks one ``dynamodb:TransactWriteItems``).
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlparse

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/: the shared helpers
from aws_iam import transaction_items

#: Request parameters that name the resource a call acts on.
_NAMES = ("TableName", "StackName", "ChangeSetName", "RoleName", "FunctionName", "logGroupName")


def _names(data: object, body: bytes) -> dict[str, str]:
    found: dict[str, str] = {}
    if isinstance(data, dict):
        for key in _NAMES:
            value = data.get(key)
            if isinstance(value, list):
                value = value[0] if value else None
            if isinstance(value, str):
                found[key] = value
    try:
        parsed = json.loads(body or b"{}")
    except ValueError:
        parsed = {}
    if isinstance(parsed, dict):
        found.update({k: v for k, v in parsed.items() if k in _NAMES and isinstance(v, str)})
    return found


def _as_aws_authorizes(action: str, data: object, body: bytes) -> list[tuple[str, dict]]:
    """(action, naming parameters) AWS checks for this request: a DynamoDB transaction
    item by item (see tests/aws_iam.py), anything else as moto names it."""
    service, _, operation = action.partition(":")
    try:
        params = json.loads(body or b"{}") if service == "dynamodb" else {}
    except ValueError:
        params = {}
    items = transaction_items(operation, params if isinstance(params, dict) else {})
    if items is None:
        return [(action, _names(data, body))]
    return [(item_action, {"TableName": table}) for item_action, table in items]


def _record_decisions(log_path: str) -> None:
    from moto.iam import access_control

    lock = threading.Lock()
    check = access_control.IAMRequestBase.check_action_permitted

    def recorded(self, resource: str) -> None:
        credential = self._headers["Authorization"].split("Credential=", 1)[1].split("/", 1)[0]
        path = urlparse(self._path)
        for action, names in _as_aws_authorizes(self._action, self._data, self._body):
            self._action = action
            entry = {
                "key": credential,
                "action": action,
                "resource": resource,
                "method": self._method,
                "path": path.path,
                "query": sorted(parse_qs(path.query, keep_blank_values=True)),
                "names": names,
            }
            try:
                check(self, resource)
            except Exception:
                entry["allowed"] = False
                raise
            else:
                entry["allowed"] = True
            finally:
                with lock, open(log_path, "a", encoding="utf-8") as log:
                    log.write(json.dumps(entry, ensure_ascii=False) + "\n")

    access_control.IAMRequestBase.check_action_permitted = recorded


def main() -> None:
    _record_decisions(sys.argv[1])
    from chatkit.deploy.moto_aws import MotoAws

    fake = MotoAws().start()
    print(fake.url, flush=True)
    sys.stdin.read()  # until the test closes our stdin (or dies)
    fake.stop()


if __name__ == "__main__":
    main()
