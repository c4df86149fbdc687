"""The ``chatkit`` command.

chatkit chat "서울 여행 추천해줘"      stream an answer to the terminal
chatkit doctor                         preflight: mode, credentials, model, table
chatkit emulators                      run the offline stack, print `export` lines
chatkit serve                          local API Gateway + web client on http://127.0.0.1:8765/
chatkit serve --auth cognito           … signing in with a local Cognito user pool
chatkit serve --workers 2              … handlers in 2 worker processes (default: the cores)
chatkit revoke USER_ID                 sign a user out everywhere (open connections closed)
chatkit package                        build the Lambda zip (python3.12, x86_64) in build/lambda/
chatkit deploy --stack chatkit         create or update the AWS stack (asks first; --yes)
chatkit smoke --stack chatkit          stream one answer through the stack (or --url for local)
chatkit destroy --stack chatkit        delete the stack, its buckets and artifacts
chatkit workshop check                 run every notebook in a scratch dir: table, exit code
chatkit workshop run --roster R.csv    run the notebooks per attendee (papermill), report
chatkit workshop clean --roster R.csv  remove the attendees' history (dry run unless --yes)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .config import Settings
from .deploy.cli import register as register_deploy_commands
from .workshop.cli import register as register_workshop

__all__ = ["main"]


def _cmd_chat(args: argparse.Namespace) -> int:
    from .session import ChatSession

    settings = Settings.from_env()
    if args.model:
        settings = settings.with_(model_id=args.model)
    session = ChatSession(settings)
    status = 0
    for event in session.stream(args.user, args.text, args.request_id):
        if event.type == "delta":
            sys.stdout.write(event.text)
            sys.stdout.flush()
        elif event.type == "end":
            latency = event.latency
            print(
                f"\n\n— {session.model_id} · 첫 토큰 first token {latency.first_token} ms · "
                f"전체 total {latency.total} ms · tokens {event.usage.input_tokens}→"
                f"{event.usage.output_tokens}",
                file=sys.stderr,
            )
        elif event.type == "error":
            print(f"\n[{event.code}] {event.message}", file=sys.stderr)
            status = 1
    return status


def _cmd_doctor(args: argparse.Namespace) -> int:
    from .doctor import format_checks, run_checks

    checks = []
    from .local import ensure_offline_stack

    for check in run_checks(ensure_offline_stack(Settings.from_env())):
        print(format_checks([check]), flush=True)
        checks.append(check)
    failed = [c.name for c in checks if not c.ok]
    print(
        "\n모두 정상입니다. (All checks passed.)"
        if not failed
        else f"\n실패 (failed): {', '.join(failed)}"
    )
    return 1 if failed else 0


def _cmd_emulators(args: argparse.Namespace) -> int:
    from .local import start_offline_stack
    from .local.signals import wait_until_signalled

    stack = start_offline_stack(rate=args.rate)

    def announce() -> None:
        for name, value in stack.env.items():
            print(f"export {name}={value}")
        print("# offline stack running (demo model); Ctrl+C to stop", flush=True)

    try:
        wait_until_signalled(announce)
    finally:
        stack.stop()
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from .local.gateway import UnsafeBind, serve

    try:
        serve(host=args.host, port=args.port, auth=args.auth, workers=args.workers)
    except UnsafeBind as refusal:
        print(refusal, file=sys.stderr)
        return 2
    return 0


def _cmd_revoke(args: argparse.Namespace) -> int:
    from .auth import validate_user_id
    from .aws.state import StateStore
    from .aws_clients import dynamodb_client
    from .errors import ChatError

    try:
        user_id = validate_user_id(args.user_id)
    except ChatError as err:
        print(f"{args.user_id!r}: {err.message}", file=sys.stderr)
        return 2
    settings = Settings.from_env()
    if settings.needs_local_endpoints:
        print(
            "오프라인에서는 chatkit serve가 출력한 CHATKIT_DYNAMODB_ENDPOINT가 필요합니다. "
            "(Offline, set CHATKIT_DYNAMODB_ENDPOINT as printed by chatkit serve.)",
            file=sys.stderr,
        )
        return 2
    StateStore(settings.state_table_name, dynamodb_client(settings)).revoke(user_id)
    print(f"{user_id}: 발급된 토큰을 모두 취소했습니다. (Tokens issued so far are revoked.)")
    if settings.auth == "cognito":
        from .cognito import sign_out_everywhere

        if sign_out_everywhere(settings, user_id):
            print("Cognito: 새로 고침 토큰도 취소했습니다. (Refresh tokens revoked too.)")
    return 0


def _workers(raw: str) -> int:
    try:
        count = int(raw)
    except ValueError:
        count = -1
    if not 0 <= count <= 64:
        raise argparse.ArgumentTypeError(f"0–64 작업 프로세스 (0 to 64 worker processes): {raw!r}")
    return count


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chatkit", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)

    chat = commands.add_parser("chat", help="ask one question and stream the answer")
    chat.add_argument("text", help="the question (Korean welcome)")
    chat.add_argument("-u", "--user", default="cli-user", help="user id (default cli-user)")
    chat.add_argument("-m", "--model", help="model or inference-profile id")
    chat.add_argument("--request-id", help="idempotency key (default: random)")
    chat.set_defaults(run=_cmd_chat)

    doctor = commands.add_parser("doctor", help="check mode, credentials, model and table")
    doctor.set_defaults(run=_cmd_doctor)

    emulators = commands.add_parser("emulators", help="run the offline stack in the foreground")
    emulators.add_argument(
        "--rate",
        type=float,
        default=None,
        help="demo model tokens/second (default 50; 0 = no delay)",
    )
    emulators.set_defaults(run=_cmd_emulators)

    serve = commands.add_parser(
        "serve", help="run the WebSocket/HTTP backend and the web client locally"
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 = any free)")
    serve.add_argument(
        "--auth",
        choices=("demo", "cognito"),
        help="sign-in: demo tokens (default) or a Cognito user pool (local one offline)",
    )
    serve.add_argument(
        "--workers",
        type=_workers,
        default=None,
        help="processes that run the handlers (default: the cores; 0 or 1 = this process)",
    )
    serve.set_defaults(run=_cmd_serve)

    revoke = commands.add_parser(
        "revoke", help="sign a user out everywhere: tokens issued so far stop working"
    )
    revoke.add_argument("user_id", help="the user id (in Cognito mode: the user's sub)")
    revoke.set_defaults(run=_cmd_revoke)
    register_deploy_commands(commands)
    register_workshop(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
