/* Cognito SRP (USER_SRP_AUTH → PASSWORD_VERIFIER) with BigInt and WebCrypto; no libraries.
 *
 * The password never leaves the browser: the client sends A = g^a mod N, Cognito answers
 * with its salt, B and a secret block, and the client proves it knows the password by
 * signing the secret block with a key derived from the shared secret S.
 *
 *   k = H(N | g)    u = H(A | B)    x = H(salt | H(poolName | userIdForSrp | ":" | password))
 *   S = (B - k·g^x)^(a + u·x) mod N
 *   key = HKDF-SHA256(ikm = S, salt = u, info = "Caldera Derived Key")[0:16]
 *   PASSWORD_CLAIM_SIGNATURE =
 *     base64(HMAC-SHA256(key, poolName | userIdForSrp | secretBlock | timestamp))
 *
 * H is SHA-256 over the bytes of the *padded* hex (Cognito's padHex: even length, and a
 * leading 00 when the first nibble is ≥ 8), as in Amazon's own JavaScript SDK.
 *
 * Example:
 *   const a = ChatkitSrp.randomSmallA();
 *   const A = ChatkitSrp.largeA(a);                       // send ChatkitSrp.toHex(A) as SRP_A
 *   const answer = await ChatkitSrp.passwordVerifier({     // ChallengeResponses of the reply
 *     poolId, username, password, a, A, challenge: response.ChallengeParameters,
 *     now: new Date() });
 *
 * Loaded by index.html as a plain script (window.ChatkitSrp); Node (the SRP test) gets
 * the same functions through module.exports.
 */
(function (root) {
  "use strict";

  // RFC 5054's 3072-bit group, the one Cognito uses; generator g = 2.
  const N = BigInt(
    "0x" +
      "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A0879" +
      "8E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B" +
      "0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA4836" +
      "1C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804" +
      "F1746C08CA18217C32905E462E36CE3BE39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6" +
      "955817183995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64" +
      "ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7ABF5AE8CDB0933D71E8C94E04A25619DCEE3D226" +
      "1AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E2" +
      "08E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF"
  );
  const G = 2n;
  const INFO = "Caldera Derived Key";
  const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
    "Dec"];
  const subtle = root.crypto.subtle;
  const utf8 = (text) => new TextEncoder().encode(text);

  // ---- numbers and bytes ------------------------------------------------------------

  function toHex(n) {
    return n.toString(16);
  }

  // padHex(0x8f) → "008f", padHex(0xabc) → "0abc", padHex(0x12) → "12".
  function padHex(n) {
    const hex = toHex(n);
    if (hex.length % 2 === 1) return "0" + hex;
    return "89abcdef".includes(hex[0]) ? "00" + hex : hex;
  }

  function hexToBytes(hex) {
    const bytes = new Uint8Array(hex.length / 2);
    for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.substr(i * 2, 2), 16);
    return bytes;
  }

  function bytesToHex(bytes) {
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const part of parts) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  }

  // Lenient like Node's Buffer.from(text, "base64") (Amazon's SDK): characters outside the
  // alphabet are skipped (moto's secret block is a UUID with dashes).
  function base64ToBytes(text) {
    const clean = text.replace(/[^A-Za-z0-9+/]/g, "");
    const padded = clean + "=".repeat((4 - (clean.length % 4)) % 4);
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  }

  function bytesToBase64(bytes) {
    return btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(""));
  }

  function mod(n, m) {
    const r = n % m;
    return r < 0n ? r + m : r;
  }

  // base^exp mod m, square and multiply (BigInt has no modPow).
  function modPow(base, exp, m) {
    let result = 1n;
    let b = mod(base, m);
    let e = exp;
    while (e > 0n) {
      if (e & 1n) result = (result * b) % m;
      b = (b * b) % m;
      e >>= 1n;
    }
    return result;
  }

  async function sha256Hex(bytes) {
    return bytesToHex(new Uint8Array(await subtle.digest("SHA-256", bytes)));
  }

  // H(padHex(n1) | padHex(n2) | …) as a number.
  async function hashNumbers(...numbers) {
    return BigInt("0x" + (await sha256Hex(hexToBytes(numbers.map(padHex).join("")))));
  }

  // ---- SRP --------------------------------------------------------------------------

  // A random private value a (1024 bits, as Amazon's SDK uses), reduced mod N.
  function randomSmallA() {
    return mod(BigInt("0x" + bytesToHex(root.crypto.getRandomValues(new Uint8Array(128)))), N);
  }

  function largeA(a) {
    const A = modPow(G, a, N);
    if (A % N === 0n) throw new Error("SRP: A mod N is 0");
    return A;
  }

  // The 16-byte key both sides derive; `salt` and `B` are the challenge's hex strings.
  async function passwordKey({ poolName, userIdForSrp, password, a, A, B, salt }) {
    const b = BigInt("0x" + B);
    if (b % N === 0n) throw new Error("SRP: B mod N is 0");
    const u = await hashNumbers(A, b);
    if (u === 0n) throw new Error("SRP: u is 0");
    const k = await hashNumbers(N, G);
    const identity = await sha256Hex(utf8(poolName + userIdForSrp + ":" + password));
    const saltHex = padHex(BigInt("0x" + salt));
    const x = BigInt("0x" + (await sha256Hex(hexToBytes(saltHex + identity))));
    const S = modPow(b - k * modPow(G, x, N), a + u * x, N);
    const ikm = await subtle.importKey("raw", hexToBytes(padHex(S)), "HKDF", false,
      ["deriveBits"]);
    const bits = await subtle.deriveBits(
      { name: "HKDF", hash: "SHA-256", salt: hexToBytes(padHex(u)), info: utf8(INFO) }, ikm, 128);
    return new Uint8Array(bits);
  }

  async function claimSignature(key, poolName, userIdForSrp, secretBlock, timestamp) {
    const hmacKey = await subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false,
      ["sign"]);
    const message = concat(utf8(poolName), utf8(userIdForSrp), base64ToBytes(secretBlock),
      utf8(timestamp));
    return bytesToBase64(new Uint8Array(await subtle.sign("HMAC", hmacKey, message)));
  }

  // "Tue Dec 1 09:05:03 UTC 2026": Cognito's format (day without a leading zero, UTC).
  function timestamp(date) {
    const two = (n) => String(n).padStart(2, "0");
    return DAYS[date.getUTCDay()] + " " + MONTHS[date.getUTCMonth()] + " " + date.getUTCDate() +
      " " + two(date.getUTCHours()) + ":" + two(date.getUTCMinutes()) + ":" +
      two(date.getUTCSeconds()) + " UTC " + date.getUTCFullYear();
  }

  // ChallengeResponses for PASSWORD_VERIFIER, from the InitiateAuth challenge parameters.
  async function passwordVerifier({ poolId, username, password, a, A, challenge, now }) {
    const poolName = poolId.split("_")[1];
    const userIdForSrp = challenge.USER_ID_FOR_SRP;
    const key = await passwordKey({ poolName, userIdForSrp, password, a, A,
      B: challenge.SRP_B, salt: challenge.SALT });
    const stamp = timestamp(now);
    return {
      USERNAME: challenge.USERNAME || username,
      TIMESTAMP: stamp,
      PASSWORD_CLAIM_SECRET_BLOCK: challenge.SECRET_BLOCK,
      PASSWORD_CLAIM_SIGNATURE: await claimSignature(key, poolName, userIdForSrp,
        challenge.SECRET_BLOCK, stamp),
    };
  }

  const api = {
    N, G, toHex, padHex, bytesToHex, randomSmallA, largeA, passwordKey, claimSignature,
    timestamp, passwordVerifier,
  };
  if (typeof module !== "undefined" && module.exports) module.exports = api;
  else root.ChatkitSrp = api;
})(typeof window !== "undefined" ? window : globalThis);
