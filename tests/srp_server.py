"""Cognito's side of USER_SRP_AUTH for one user, written from the SRP formulas, for tests.

moto answers ``USER_SRP_AUTH`` without checking the proof; this checks it, with the server's
formulas (verifier v = g^x, B = k·v + g^b, S = (A·v^u)^b), not the client's::

    server = SrpServer("ap-northeast-2_AbC123", "user-id-for-srp", "비밀번호-1A")
    params = server.challenge("minsu")         # InitiateAuth's ChallengeParameters
    server.accepts(srp_a_hex, responses)       # RespondToAuthChallenge: right password only

Hashing, padding and HKDF come from pycognito's ``aws_srp`` helpers (the reference library).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from pycognito import aws_srp

N = aws_srp.hex_to_long(aws_srp.N_HEX)
G = 2
K = aws_srp.hex_to_long(aws_srp.hex_hash("00" + aws_srp.N_HEX + "0" + aws_srp.G_HEX))


def challenge_parameters(
    username: str, user_id_for_srp: str, salt: str, srp_b: str, secret_block: bytes
) -> dict[str, str]:
    """``ChallengeParameters`` of a PASSWORD_VERIFIER challenge."""
    return {
        "USERNAME": username,
        "USER_ID_FOR_SRP": user_id_for_srp,
        "SALT": salt,
        "SRP_B": srp_b,
        "SECRET_BLOCK": base64.b64encode(secret_block).decode(),
    }


class SrpServer:
    """One user's password verifier and one challenge (fresh b, salt and secret block)."""

    def __init__(self, pool_id: str, user_id_for_srp: str, password: str) -> None:
        self.pool_name = pool_id.split("_")[1]
        self.user_id_for_srp = user_id_for_srp
        self.salt = secrets.token_hex(16).lstrip("0") or "1"  # a number in hex, as Cognito's
        identity = f"{self.pool_name}{user_id_for_srp}:{password}".encode()
        x = int(aws_srp.hex_hash(aws_srp.pad_hex(self.salt) + aws_srp.hash_sha256(identity)), 16)
        self.verifier = pow(G, x, N)
        self.b = secrets.randbelow(N - 1) + 1
        self.big_b = (K * self.verifier + pow(G, self.b, N)) % N
        self.secret_block = secrets.token_bytes(64)

    def challenge(self, username: str) -> dict[str, str]:
        return challenge_parameters(
            username, self.user_id_for_srp, self.salt, format(self.big_b, "x"), self.secret_block
        )

    def accepts(self, srp_a_hex: str, responses: dict[str, str]) -> bool:
        """True if ``responses`` (PASSWORD_VERIFIER ChallengeResponses) prove the password."""
        big_a = int(srp_a_hex, 16)
        if big_a % N == 0:
            return False
        u = int(aws_srp.hex_hash(aws_srp.pad_hex(big_a) + aws_srp.pad_hex(self.big_b)), 16)
        shared = pow(big_a * pow(self.verifier, u, N), self.b, N)
        key = aws_srp.compute_hkdf(
            bytes.fromhex(aws_srp.pad_hex(shared)), bytes.fromhex(aws_srp.pad_hex(u))
        )
        message = (
            self.pool_name.encode()
            + self.user_id_for_srp.encode()
            + self.secret_block
            + responses["TIMESTAMP"].encode()
        )
        expected = base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()
        return hmac.compare_digest(expected, responses["PASSWORD_CLAIM_SIGNATURE"])
