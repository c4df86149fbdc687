"""The web client's Cognito SRP math (chatkit/web/srp.js), run in Node, against references.

1. pycognito's ``AWSSRP`` (a widely used Python Cognito client, written independently of
   ours) computes A, the HKDF key and the PASSWORD_VERIFIER answer from the same fixed
   inputs (private a, salt, SRP_B, secret block, time, pool, user, password).
2. A server side written from the SRP formulas (``tests/srp_server.py``: verifier v = g^x,
   B = k·v + g^b, S = (A·v^u)^b) accepts the signature the JS client computes with its own
   random a, and refuses it for a wrong password: the check moto cannot do.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pycognito import aws_srp
from pycognito.aws_srp import AWSSRP
from srp_server import G, N, SrpServer, challenge_parameters

SRP_JS = Path(__file__).resolve().parents[2] / "chatkit" / "web" / "srp.js"
NODE = shutil.which("node")
POOL_ID = "ap-northeast-2_AbC123xyz"

# Runs each case through srp.js: {a?, password, challenge, username, now (ms)} → results.
DRIVER = """
const srp = require(process.argv[1]);
let input = "";
process.stdin.on("data", (d) => { input += d; });
process.stdin.on("end", async () => {
  const out = [];
  for (const c of JSON.parse(input)) {
    const a = c.a ? BigInt("0x" + c.a) : srp.randomSmallA();
    const A = srp.largeA(a);
    const key = await srp.passwordKey({ poolName: c.poolId.split("_")[1],
      userIdForSrp: c.challenge.USER_ID_FOR_SRP, password: c.password, a, A,
      B: c.challenge.SRP_B, salt: c.challenge.SALT });
    const answer = await srp.passwordVerifier({ poolId: c.poolId, username: c.username,
      password: c.password, a, A, challenge: c.challenge, now: new Date(c.now) });
    out.push({ A: srp.toHex(A), key: srp.bytesToHex(key), answer });
  }
  process.stdout.write(JSON.stringify(out));
});
"""

pytestmark = pytest.mark.skipif(NODE is None, reason="node (Node.js 20) is not on PATH")


def run_js(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    done = subprocess.run(
        [NODE, "-e", DRIVER, str(SRP_JS)],
        input=json.dumps(cases, ensure_ascii=False),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def fixed_case(seed: int, password: str, now: datetime.datetime) -> dict[str, Any]:
    """Deterministic inputs from ``seed`` (a 1024-bit a, 16-byte salt, a 3072-bit B)."""
    digest = lambda label: hashlib.sha512(f"{seed}:{label}".encode()).hexdigest()  # noqa: E731
    a = int(digest("a") * 2, 16) % N
    b = int(digest("b") * 6, 16) % N
    # No leading zero: there pycognito hashes the salt string as given, while Amazon's JS SDK
    # (and srp.js) hash it as a number; Cognito's salts are numbers printed in hex.
    salt = digest("salt")[:32].lstrip("0") or "1"
    return {
        "a": format(a, "x"),
        "poolId": POOL_ID,
        "username": "민수",
        "password": password,
        "now": int(now.timestamp() * 1000),
        "challenge": challenge_parameters(
            "민수",
            f"8c1f{seed:04d}-user-uuid",
            salt,
            format(pow(G, b, N), "x"),
            digest("secret").encode(),
        ),
    }


def pycognito_answer(case: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """pycognito's A, key and PASSWORD_VERIFIER answer for the same inputs."""
    srp = AWSSRP(case["username"], case["password"], case["poolId"], "client-id", client=object())
    srp.small_a_value = int(case["a"], 16)
    srp.large_a_value = srp.calculate_a()
    params = case["challenge"]
    key = srp.get_password_authentication_key(
        params["USER_ID_FOR_SRP"], case["password"], int(params["SRP_B"], 16), params["SALT"]
    )
    moment = datetime.datetime.fromtimestamp(case["now"] / 1000, datetime.UTC).replace(tzinfo=None)

    class FrozenClock(datetime.datetime):
        @classmethod
        def utcnow(cls) -> datetime.datetime:
            return moment

    monkeypatch.setattr(aws_srp.datetime, "datetime", FrozenClock)
    answer = srp.process_challenge(params, {"USERNAME": case["username"]})
    monkeypatch.undo()
    return {"A": format(srp.large_a_value, "x"), "key": key.hex(), "answer": answer}


def test_srp_matches_pycognito_on_fixed_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    moments = [
        datetime.datetime(2026, 12, 1, 9, 5, 3, tzinfo=datetime.UTC),  # one-digit day
        datetime.datetime(2027, 2, 28, 23, 59, 59, tzinfo=datetime.UTC),
        datetime.datetime(2028, 2, 29, 0, 0, 0, tzinfo=datetime.UTC),
    ]
    passwords = ["Correct-horse-9!", "비밀번호-한글-1A", "p" * 99]
    cases = [
        fixed_case(seed, pw, t) for seed, (pw, t) in enumerate(zip(passwords, moments, strict=True))
    ]
    # moto's secret block is a UUID: decoded leniently, as Python (and Node's Buffer) do.
    cases[1]["challenge"]["SECRET_BLOCK"] = "435d33ce-aa7b-43c9-b645-26a1773d07d8"
    js = run_js(cases)
    for case, got in zip(cases, js, strict=True):
        assert got == pycognito_answer(case, monkeypatch)
    assert js[0]["answer"]["TIMESTAMP"] == "Tue Dec 1 09:05:03 UTC 2026"
    assert js[2]["answer"]["TIMESTAMP"] == "Tue Feb 29 00:00:00 UTC 2028"
    assert len({got["answer"]["PASSWORD_CLAIM_SIGNATURE"] for got in js}) == 3


def test_a_changed_input_changes_the_signature() -> None:
    base = fixed_case(7, "Correct-horse-9!", datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC))
    other_salt = json.loads(json.dumps(base))
    other_salt["challenge"]["SALT"] = "9" + base["challenge"]["SALT"][1:]
    other_password = {**base, "password": "Correct-horse-9?"}
    other_time = {**base, "now": base["now"] + 1000}
    signatures = [
        got["answer"]["PASSWORD_CLAIM_SIGNATURE"]
        for got in run_js([base, other_salt, other_password, other_time])
    ]
    assert len(set(signatures)) == 4


# ---- a server that checks the proof (moto does not) -------------------------------------


def test_a_server_side_srp_accepts_the_right_password_only() -> None:
    server = SrpServer(POOL_ID, "4d7e0f3a-1b2c-4d5e-8f90-123456789abc", "비밀번호-한글-1A")
    now = int(datetime.datetime(2026, 12, 1, 12, tzinfo=datetime.UTC).timestamp() * 1000)
    cases = [
        {
            "poolId": POOL_ID,
            "username": "민수",
            "password": password,
            "now": now,
            "challenge": server.challenge("민수"),
        }
        for password in ("비밀번호-한글-1A", "비밀번호-한글-1B", "비밀번호-한글-1A")
    ]
    right, wrong, again = run_js(cases)  # each with its own random a
    assert server.accepts(right["A"], right["answer"])
    assert not server.accepts(wrong["A"], wrong["answer"])
    assert server.accepts(again["A"], again["answer"]) and again["A"] != right["A"]
