"""``chatkit package | deploy | destroy | smoke`` — registered by :func:`register` into
the ``chatkit`` command (chatkit/cli.py)::

    chatkit package                          build the Lambda zip (build/lambda/)
    chatkit deploy --stack chatkit --yes     create or update the stack on AWS
    chatkit deploy --auth cognito --yes      … with a Cognito user pool for sign-in
    chatkit deploy --permissions-boundary arn:aws:iam::123456789012:policy/chatkit-attendee-boundary
    chatkit smoke --stack chatkit            stream one answer through the deployed stack
    chatkit smoke --url http://127.0.0.1:8765   … or through the local gateway
    chatkit destroy --stack chatkit --yes    delete the stack and its buckets
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any, get_args

from ..config import AuthMode
from .smoke import DEFAULT_QUESTION

__all__ = ["register"]

_STAND_IN_CREDENTIALS = {"aws_access_key_id": "stand-in", "aws_secret_access_key": "stand-in"}


def _confirm(args: argparse.Namespace) -> Any:
    """None (go ahead) with ``--yes``; else ask on the terminal."""
    if args.yes:
        return None

    def ask(question: str) -> bool:
        if not sys.stdin.isatty():
            print(
                "터미널이 아니어서 물어볼 수 없습니다: --yes를 붙이세요. "
                "(not a terminal, cannot ask: use --yes)"
            )
            return False
        return input(f"{question} [y/N] ").strip().lower() in ("y", "yes", "예", "네")

    return ask


def _aws(args: argparse.Namespace) -> Any:
    from .aws import Aws, resolve_region

    region = resolve_region(args.region)
    if args.endpoint_url:
        return Aws(region, endpoint_url=args.endpoint_url, credentials=_STAND_IN_CREDENTIALS)
    return Aws(region)


def _run(action: Any) -> int:
    """Run ``action``; known failures become a bilingual message and exit status 1."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    from .stack import DeployError

    try:
        return action()
    except NoCredentialsError:
        print(
            "AWS 자격 증명이 없습니다. SageMaker/Cloud9의 역할이나 `aws configure`를 확인하세요. "
            "(No AWS credentials: check the SageMaker/Cloud9 role or `aws configure`.)",
            file=sys.stderr,
        )
    except (DeployError, ValueError, LookupError) as err:
        print(err, file=sys.stderr)
    except (ClientError, BotoCoreError) as err:
        print(f"AWS 오류 (AWS error): {err}", file=sys.stderr)
    return 1


def _cmd_package(args: argparse.Namespace) -> int:
    from .package import build_bundle
    from .runtime import RuntimeNotFound, find_python312, measure_cold_import, unpack

    bundle = build_bundle(args.out, force=args.force)
    print(bundle.summary())
    try:
        times = measure_cold_import(unpack(bundle.path), find_python312())
    except RuntimeNotFound as err:
        print(f"콜드 import 측정 생략 (cold import not measured): {err}")
    else:
        print(f"콜드 import, python3.12 (cold import): {times}")
    return 0


def _cmd_deploy(args: argparse.Namespace) -> int:
    from ..config import DEFAULT_MODEL_ID
    from .package import build_bundle
    from .stack import StackConfig, deploy

    def action() -> int:
        config = StackConfig(
            args.stack,
            model_id=args.model_id or DEFAULT_MODEL_ID,
            bedrock_region=args.bedrock_region,
            stage=args.stage,
            ttl_days=args.ttl_days,
            snapstart=not args.no_snapstart,
            auth=args.auth,
            chat_concurrency=args.chat_concurrency,
            **(
                {"permissions_boundary": args.permissions_boundary}
                if args.permissions_boundary
                else {}
            ),
        )
        aws = _aws(args)
        bundle = build_bundle()
        print(bundle.summary())
        result = deploy(aws, config, bundle, confirm=_confirm(args))
        if result.status != "cancelled":
            print(f"\n확인 (check): chatkit smoke --stack {args.stack} --region {aws.region}")
        return 0

    return _run(action)


def _cmd_destroy(args: argparse.Namespace) -> int:
    from .stack import destroy

    def action() -> int:
        destroy(_aws(args), args.stack, confirm=_confirm(args))
        return 0

    return _run(action)


def _cmd_smoke(args: argparse.Namespace) -> int:
    from .smoke import Endpoints, run_smoke
    from .stack import stack_outputs

    def action() -> int:
        if args.url:
            endpoints = Endpoints.served(args.url)
        else:
            endpoints = Endpoints.from_outputs(stack_outputs(_aws(args), args.stack))
        result = asyncio.run(run_smoke(endpoints, question=args.question))
        print(result.summary())
        return 0 if result.ok else 1

    return _run(action)


def _aws_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", default="chatkit", help="stack name (default chatkit)")
    parser.add_argument("--region", help="the app's region (default: AWS_REGION or config)")
    parser.add_argument(
        "--endpoint-url",
        help="rehearse against a stand-in such as a moto server (dummy credentials)",
    )


def register(commands: Any) -> None:
    """Add ``package``, ``deploy``, ``destroy`` and ``smoke`` to the ``chatkit`` parser."""
    package = commands.add_parser("package", help="build the Lambda zip (python3.12, x86_64)")
    package.add_argument("--out", type=Path, help="output directory (default build/lambda)")
    package.add_argument("--force", action="store_true", help="rebuild even if unchanged")
    package.set_defaults(run=_cmd_package)

    deploy = commands.add_parser("deploy", help="create or update the AWS stack")
    _aws_options(deploy)
    deploy.add_argument("--model-id", help="model or inference-profile id")
    deploy.add_argument("--bedrock-region", help="Bedrock's region (default: the app's region)")
    deploy.add_argument("--stage", default="prod", help="WebSocket stage name (default prod)")
    deploy.add_argument("--ttl-days", type=int, default=30, help="history TTL (default 30)")
    deploy.add_argument(
        "--no-snapstart", action="store_true", help="no Lambda SnapStart (no snapshot cache cost)"
    )
    deploy.add_argument(
        "--auth",
        choices=get_args(AuthMode),
        default="demo",
        help="sign-in: demo (any user id) or cognito (a user pool; see infra/README.md)",
    )
    deploy.add_argument(
        "--chat-concurrency",
        type=int,
        default=20,
        help="answers streaming at once at most, a model-cost guard (default 20; 0 = no limit)",
    )
    deploy.add_argument(
        "--permissions-boundary",
        metavar="POLICY_ARN",
        help="managed policy set as the boundary of every role of the stack "
        "(default: env CHATKIT_PERMISSIONS_BOUNDARY; a workshop attendee needs "
        "arn:aws:iam::<account>:policy/chatkit-attendee-boundary)",
    )
    deploy.add_argument("--yes", action="store_true", help="do not ask before changing")
    deploy.set_defaults(run=_cmd_deploy)

    destroy = commands.add_parser("destroy", help="delete the AWS stack and its buckets")
    _aws_options(destroy)
    destroy.add_argument("--yes", action="store_true", help="do not ask before deleting")
    destroy.set_defaults(run=_cmd_destroy)

    smoke = commands.add_parser("smoke", help="stream one answer through a backend")
    _aws_options(smoke)
    smoke.add_argument("--url", help="the local gateway instead of a stack (http://HOST:PORT)")
    smoke.add_argument("--question", default=DEFAULT_QUESTION, help="the question (Korean)")
    smoke.set_defaults(run=_cmd_smoke)
