"""The attendee's path, rehearsed: notebooks 00→06, a deploy, then 08, in ``mode="aws"``,
in kernels whose environment holds only standard AWS settings — an IAM user's access key,
``AWS_REGION``, ``AWS_ENDPOINT_URL`` (moto with IAM enforced, standing in for the account),
``AWS_ENDPOINT_URL_BEDROCK_RUNTIME`` / ``AWS_ENDPOINT_URL_BEDROCK`` (the Bedrock emulator)
— and ``CHATKIT_ATTENDEE``. No ``CHATKIT_*_ENDPOINT`` shortcut is taken.

The IAM user has exactly the moto projection of ``infra/attendee-policy.json`` (see
``rehearsal_policy.py``: moto checks most services against resource ``*``, so the resources are
checked here against the real policy). The account starts empty; a denied call fails the
test naming the action; after 08 nothing of the attendee is left. Every AWS call is
recorded (botocore, in the kernels and around the deploy) and written, as IAM actions, to
``artifacts/rehearsal-actions.txt`` — the evidence for the policy.

Notebook 07 itself needs what moto cannot stand in for (its smoke test streams through the
deployed API Gateway v2 WebSocket, which moto's CloudFormation skips; see
tests/deploy/test_stack.py), so the rehearsal deploys the same stack with the same
``deploy`` and the attendee's credentials instead, and 08 destroys it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest
import rehearsal_calls
from rehearsal_policy import allows, load_policy, needed, project_for_moto

from chatkit.attendee import resource_names, sanitize
from chatkit.local.demo_model import DemoModel

pytestmark = [
    pytest.mark.rehearsal,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:Tried to parse AWS::"),
]

ROOT = Path(__file__).resolve().parents[3]
NOTEBOOKS = ROOT / "notebooks"
ARTIFACT = ROOT / "artifacts" / "rehearsal-actions.txt"
REGION = "ap-northeast-2"
ACCOUNT = "123456789012"  # moto's account
ATTENDEE = "Kim Minsu"  # as an instructor would export it; chatkit sanitizes it
RATE = 1000.0  # the stand-in model's tokens per second (a real one streams 50–100)
BEFORE_DEPLOY = [
    "00_setup",
    "01_bedrock_streaming",
    "02_memory",
    "03_dynamodb_history",
    "04_chat_session",
    "05_websocket_backend",
    "06_chat_panel",
]
#: IAM setup before enforcement starts: two users (the attendee, an auditor), a policy
#: and an access key each.
UNAUTHENTICATED_ACTIONS = 6

STARTUP = """\
import sys
sys.path.insert(0, {tests!r})
import rehearsal_calls
rehearsal_calls.install({log!r})
"""


@dataclass
class Rehearsal:
    moto_url: str
    bedrock_url: str
    moto_log: Path
    calls_log: Path
    attendee_key: str
    auditor: boto3.session.Session
    empty_at_start: dict[str, list[str]]
    outcomes: dict[str, str] = field(default_factory=dict)
    #: Each step's calls the policy denied (moto's action name and resource).
    denied_in: dict[str, list[str]] = field(default_factory=dict)
    deploy_status: str | None = None
    seconds: float = 0.0

    def decisions(self, key: str | None = None) -> list[dict]:
        lines = self.moto_log.read_text().splitlines() if self.moto_log.exists() else []
        entries = [json.loads(line) for line in lines]
        return [e for e in entries if key is None or e["key"] == key]

    def denied(self) -> list[str]:
        entries = self.decisions(self.attendee_key)
        return sorted({f"{e['action']} on {e['resource']}" for e in entries if not e["allowed"]})

    def note_denied(self, step: str) -> None:
        """The denials since the previous step, as this step's."""
        before = {d for seen in self.denied_in.values() for d in seen}
        self.denied_in[step] = [d for d in self.denied() if d not in before]

    def calls(self) -> list[dict]:
        return [json.loads(line) for line in self.calls_log.read_text().splitlines()]


def _start_moto(log: Path, unauthenticated: int = UNAUTHENTICATED_ACTIONS):
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": str(unauthenticated)}
    server = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("iam_moto.py")), str(log)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
        cwd=ROOT,
        text=True,
    )
    url = server.stdout.readline().strip()
    if not url.startswith("http://127.0.0.1:"):
        server.kill()
        raise RuntimeError(f"moto did not start: {url!r}")
    return server, url


def _user(iam, name: str, policy: dict) -> dict[str, str]:
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="chatkit", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {
        "aws_access_key_id": key["AccessKeyId"],
        "aws_secret_access_key": key["SecretAccessKey"],
    }


def _inventory(session: boto3.session.Session, url: str) -> dict[str, list[str]]:
    """Everything in the account that a notebook or the stack could have made (Lambda
    functions are left out: moto rejects the signature of its own Lambda paths once IAM is
    enforced; they go with their stack)."""

    def client(service):
        return session.client(service, region_name=REGION, endpoint_url=url)

    stacks = client("cloudformation").list_stacks()["StackSummaries"]
    return {
        "tables": client("dynamodb").list_tables()["TableNames"],
        "stacks": [s["StackName"] for s in stacks if s["StackStatus"] != "DELETE_COMPLETE"],
        "buckets": [b["Name"] for b in client("s3").list_buckets()["Buckets"]],
        "roles": [r["RoleName"] for r in client("iam").list_roles()["Roles"]],
        "log groups": [
            g["logGroupName"] for g in client("logs").describe_log_groups()["logGroups"]
        ],
    }


@contextmanager
def _only_standard_aws_env(env: dict[str, str]):
    """The kernels papermill starts inherit this process's environment: for the run, it
    holds no AWS_*/CHATKIT_* variable but ``env``."""
    saved = dict(os.environ)
    for name in [n for n in os.environ if n.startswith(("AWS_", "CHATKIT_"))]:
        del os.environ[name]
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _run(name: str, out: Path, parameters: dict) -> str:
    import papermill

    try:
        papermill.execute_notebook(
            str(NOTEBOOKS / f"{name}.ipynb"),
            str(out / f"{name}.ipynb"),
            parameters=parameters,
            kernel_name="python3",
            progress_bar=False,
            cwd=str(NOTEBOOKS),
            start_timeout=120,
            execution_timeout=60,
        )
    except Exception as exc:  # the test reports it with the denied actions, if any
        return f"failed: {type(exc).__name__}: {str(exc)[-1500:]}"
    return "ok"


class LongWhenAsked(DemoModel):
    """The demo model, answering like a real one when asked for a long answer ("길게"):
    about 5,000 characters (05 and 06 stop such an answer halfway)."""

    def reply(self, messages, system=None, **kwargs):
        last = messages[-1]
        text = last["content"][0].get("text", "") if last.get("content") else ""
        if "길게" in text:
            asked = {**last, "content": [{"text": f"!long 5000 {text}"}]}
            messages = [*messages[:-1], asked]
        return super().reply(messages, system, **kwargs)


def _tiny_bundle(directory: Path):
    """moto stores Lambda code but never runs it: a one-file zip stands in for the bundle."""
    from chatkit.deploy.package import Bundle

    path = directory / "tiny.zip"
    with zipfile.ZipFile(path, "w") as bundle:
        bundle.writestr("handler.py", "def handler(event, context):\n    return {}\n")
    return Bundle.from_zip(path)


@pytest.fixture(scope="module")
def rehearsal() -> Rehearsal:
    from chatkit.deploy.aws import Aws
    from chatkit.deploy.stack import StackConfig, deploy
    from chatkit.local.bedrock_emulator import BedrockEmulator

    work = ROOT / "artifacts" / "rehearsal"  # kept for a look after a failure (CI artifact)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    home, out = work / "home", work / "out"
    startup = home / ".ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    out.mkdir()
    moto_log, calls_log = work / "moto-decisions.jsonl", work / "aws-calls.jsonl"
    calls_log.touch()
    (startup / "00-record-aws-calls.py").write_text(
        STARTUP.format(tests=str(Path(__file__).parent), log=str(calls_log))
    )
    started = time.perf_counter()
    server, url = _start_moto(moto_log)
    try:
        bootstrap = boto3.session.Session(
            aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap"
        ).client("iam", region_name=REGION, endpoint_url=url)
        keys = _user(bootstrap, "rehearsal-attendee", project_for_moto(load_policy()))
        auditor_keys = _user(
            bootstrap,
            "rehearsal-auditor",
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
            },
        )
        auditor = boto3.session.Session(**auditor_keys)
        emulator = BedrockEmulator(default_rate=RATE, model=LongWhenAsked()).start()
        result = Rehearsal(
            url,
            emulator.url,
            moto_log,
            calls_log,
            keys["aws_access_key_id"],
            auditor,
            _inventory(auditor, url),
        )
        with (
            emulator,
            _only_standard_aws_env(
                {
                    "HOME": str(home),
                    "AWS_ACCESS_KEY_ID": keys["aws_access_key_id"],
                    "AWS_SECRET_ACCESS_KEY": keys["aws_secret_access_key"],
                    "AWS_REGION": REGION,
                    "AWS_ENDPOINT_URL": url,
                    "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": emulator.url,
                    "AWS_ENDPOINT_URL_BEDROCK": emulator.url,
                    "AWS_CONFIG_FILE": os.devnull,
                    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                    "AWS_EC2_METADATA_DISABLED": "true",
                    "CHATKIT_ATTENDEE": ATTENDEE,
                }
            ),
        ):
            for name in BEFORE_DEPLOY:
                result.outcomes[name] = _run(name, out, {"mode": "aws"})
                result.note_denied(name)
            # 07's deploy, with the attendee's credentials (standard env: Aws() finds them)
            rehearsal_calls.install(str(calls_log))
            try:
                stack = resource_names(sanitize(ATTENDEE))["stack"]
                result.deploy_status = deploy(
                    Aws(REGION),
                    StackConfig(stack),
                    _tiny_bundle(work),
                    log=lambda line: None,
                    poll_seconds=0.05,
                ).status
            except Exception as exc:
                result.deploy_status = f"failed: {type(exc).__name__}: {exc}"
            finally:
                rehearsal_calls.uninstall()
            result.note_denied("deploy")
            result.outcomes["08_cleanup"] = _run(
                "08_cleanup", out, {"mode": "aws", "approve": True}
            )
            result.note_denied("08_cleanup")
        result.seconds = time.perf_counter() - started
        yield result
    finally:
        server.stdin.close()
        server.wait(timeout=30)


def test_the_account_starts_empty(rehearsal):
    assert all(not names for names in rehearsal.empty_at_start.values()), rehearsal.empty_at_start


@pytest.mark.parametrize("notebook", [*BEFORE_DEPLOY, "08_cleanup"])
def test_each_notebook_runs_in_aws_mode_with_the_attendee_policy(rehearsal, notebook):
    denied = rehearsal.denied_in[notebook]
    assert not denied, f"{notebook}: the policy denies {denied}"
    assert rehearsal.outcomes[notebook] == "ok", rehearsal.outcomes[notebook]


def test_the_stack_deploys_with_the_attendee_credentials(rehearsal):
    denied = rehearsal.denied_in["deploy"]
    assert not denied, f"deploy: the policy denies {denied}"
    assert rehearsal.deploy_status == "created", rehearsal.deploy_status


def test_moto_enforced_iam_on_every_attendee_call(rehearsal):
    decisions = rehearsal.decisions(rehearsal.attendee_key)
    assert len(decisions) > 50, len(decisions)
    # nothing reached moto unsigned or signed by another key after the IAM setup
    keys = {e["key"] for e in rehearsal.decisions()}
    assert keys <= {rehearsal.attendee_key, *_auditor_keys(rehearsal)}, keys


def _auditor_keys(rehearsal):
    return {rehearsal.auditor.get_credentials().access_key}


def test_nothing_of_the_attendee_is_left_after_08(rehearsal):
    left = _inventory(rehearsal.auditor, rehearsal.moto_url)
    attendee = sanitize(ATTENDEE)
    mine = {kind: [n for n in names if attendee in n] for kind, names in left.items()}
    assert not any(mine.values()), mine
    # the shared artifacts bucket goes too once it is empty (no other attendee here)
    assert not left["buckets"] and not left["stacks"] and not left["tables"], left


def test_every_recorded_call_is_allowed_by_the_scoped_policy(rehearsal):
    """The resource check moto cannot make: each call's IAM action on its resource ARN
    against the real ``infra/attendee-policy.json`` (conditions not evaluated)."""
    policy = load_policy()
    calls = _account_calls(rehearsal)
    assert calls
    checked = {pair for c in calls for pair in needed(c, ACCOUNT)}
    refused = sorted(f"{a} on {r}" for a, r in checked if not allows(policy, a, r))
    assert not refused, refused


def _account_calls(rehearsal):
    """The calls that reached the stand-in account or Bedrock (not the notebooks' own local
    gateway, whose @connections API stands in for the deployed stack's, called in AWS by
    the Lambda role)."""
    endpoints = (rehearsal.moto_url, rehearsal.bedrock_url)
    return [c for c in rehearsal.calls() if c["endpoint"] in endpoints]


def test_the_action_list_is_written(rehearsal):
    policy = load_policy()
    rows = {}
    for call in _account_calls(rehearsal):
        for action, resource in needed(call, ACCOUNT):
            rows.setdefault(action, set()).add(allows(policy, action, resource) or "-")
    lines = [
        "# AWS actions the notebooks (00→06, 08) and the deploy used in the aws-mode rehearsal",
        f"# ({len(_account_calls(rehearsal))} calls; IAM action → Sid in "
        "infra/attendee-policy.json, - = none)",
        f"# run time {rehearsal.seconds:.0f} s",
        *(f"{action}\t{', '.join(sorted(sids))}" for action, sids in sorted(rows.items())),
    ]
    ARTIFACT.parent.mkdir(exist_ok=True)
    ARTIFACT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    assert {"bedrock:InvokeModelWithResponseStream", "dynamodb:CreateTable"} <= set(rows)
    assert "cloudformation:CreateChangeSet" in rows and "dynamodb:DeleteTable" in rows


def test_a_call_the_policy_lacks_is_denied_and_named(tmp_path, monkeypatch):
    """The stand-in really refuses: without ``dynamodb:CreateTable`` notebook 00's table
    creation is denied, moto's log names the action, and so does the doctor's hint."""
    from chatkit.config import Settings
    from chatkit.doctor import denied_action
    from chatkit.workshop.notebook import ensure_tables

    policy = project_for_moto(load_policy())
    for statement in policy["Statement"]:
        if "dynamodb:CreateTable" in statement["Action"]:
            statement["Action"].remove("dynamodb:CreateTable")
    log = tmp_path / "decisions.jsonl"
    server, url = _start_moto(log, unauthenticated=3)
    try:
        bootstrap = boto3.session.Session(
            aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap"
        ).client("iam", region_name=REGION, endpoint_url=url)
        keys = _user(bootstrap, "short-of-one", policy)
        for name, value in {
            "AWS_ACCESS_KEY_ID": keys["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": keys["aws_secret_access_key"],
            "AWS_ENDPOINT_URL": url,
        }.items():
            monkeypatch.setenv(name, value)
        settings = Settings(mode="aws", region=REGION).for_attendee("probe")
        with pytest.raises(Exception) as denied:
            ensure_tables(settings)
        assert denied_action(denied.value) == "dynamodb:CreateTable"
        entries = [json.loads(line) for line in log.read_text().splitlines()]
        refused = [e["action"] for e in entries if not e["allowed"]]
        assert refused == ["dynamodb:CreateTable"], refused
    finally:
        server.stdin.close()
        server.wait(timeout=30)
