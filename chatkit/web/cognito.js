/* Amazon Cognito user-pool sign-in for the web client: the Cognito JSON API over fetch.
 *
 *   signIn(username, password)     USER_SRP_AUTH → PASSWORD_VERIFIER (srp.js); the password
 *                                  never leaves the browser
 *   completeNewPassword(step, pw)  NEW_PASSWORD_REQUIRED (admin-created users' first sign-in)
 *   refresh(refreshToken)          REFRESH_TOKEN_AUTH → a new access token
 *   revoke(refreshToken)           RevokeToken (sign-out)
 *
 * signIn / completeNewPassword resolve to {session} (the web client's stored session:
 * {token: AccessToken, refresh_token, user_id: username for display, expires_at: epoch s})
 * or {newPasswordStep}; failures reject with a CognitoError whose message is bilingual.
 *
 * Example:
 *   const cognito = ChatkitCognito.client({ region: "ap-northeast-2",
 *     userPoolId: "ap-northeast-2_AbC123", clientId: "…" });
 *   const result = await cognito.signIn("minsu", "비밀번호");
 *   if (result.session) startChat(result.session);
 */
(function (root) {
  "use strict";

  const TARGET = "AWSCognitoIdentityProviderService.";
  const WRONG = "아이디 또는 비밀번호가 올바르지 않습니다. (Incorrect username or password.)";
  const MESSAGES = {
    NotAuthorizedException: WRONG,
    UserNotFoundException: WRONG, // the same words: nobody learns which users exist
    TooManyAttempts: "로그인 시도가 너무 많습니다. 잠시 후 다시 시도하세요. " +
      "(Too many attempts; please try again later.)",
    UserNotConfirmedException: "계정이 아직 확인되지 않았습니다. 관리자에게 문의하세요. " +
      "(The account is not confirmed yet; please ask your administrator.)",
    PasswordResetRequiredException: "비밀번호를 재설정해야 합니다. 관리자에게 문의하세요. " +
      "(A password reset is required; please ask your administrator.)",
    InvalidPasswordException: "새 비밀번호가 비밀번호 정책에 맞지 않습니다. 더 길게, 대·소문자, " +
      "숫자, 기호를 섞어 주세요. (The new password does not meet the password policy.)",
    PasswordsDiffer: "두 새 비밀번호가 서로 다릅니다. (The two new passwords differ.)",
    TooManyRequestsException: "요청이 너무 많습니다. 잠시 후 다시 시도하세요. " +
      "(Too many requests; please try again later.)",
    NetworkError: "로그인 서비스(Cognito)에 연결할 수 없습니다. 네트워크를 확인하세요. " +
      "(Cannot reach the sign-in service; check your network.)",
    NotConfigured: "Cognito 설정이 없습니다(config.js). 관리자에게 문의하세요. " +
      "(Cognito is not configured in config.js; please ask your administrator.)",
  };
  MESSAGES.LimitExceededException = MESSAGES.TooManyRequestsException;

  class CognitoError extends Error {
    constructor(code, detail) {
      super(MESSAGES[code] || "로그인에 실패했습니다. (Sign-in failed: " + code + ")");
      this.name = "CognitoError";
      this.code = code;
      this.detail = detail || "";
    }
  }

  // "com.amazonaws…#NotAuthorizedException" → "NotAuthorizedException"; a locked-out user is
  // also a NotAuthorizedException, told apart by its message.
  function errorCode(body) {
    const code = String(body.__type || body.code || "UnknownError").split("#").pop();
    const detail = String(body.message || body.Message || "");
    if (code === "NotAuthorizedException" && /attempts exceeded/i.test(detail)) {
      return "TooManyAttempts";
    }
    return code;
  }

  function client(settings) {
    if (!settings || !settings.userPoolId || !settings.clientId) {
      throw new CognitoError("NotConfigured");
    }
    const region = settings.region || settings.userPoolId.split("_")[0];
    const endpoint = settings.endpoint || "https://cognito-idp." + region + ".amazonaws.com/";
    const clientId = settings.clientId;
    const srp = root.ChatkitSrp;

    async function call(action, body) {
      let response;
      try {
        response = await fetch(endpoint, {
          method: "POST",
          headers: {
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": TARGET + action,
          },
          body: JSON.stringify(body),
        });
      } catch (err) {
        throw new CognitoError("NetworkError", String(err));
      }
      let data = {};
      try {
        data = await response.json();
      } catch (err) {
        /* an empty or non-JSON body: the status decides */
      }
      if (!response.ok) throw new CognitoError(errorCode(data), data.message || "");
      return data;
    }

    function session(result, username, refreshToken) {
      return {
        token: result.AccessToken,
        refresh_token: result.RefreshToken || refreshToken,
        user_id: username,
        expires_at: Math.floor(Date.now() / 1000) + (Number(result.ExpiresIn) || 3600),
      };
    }

    // A finished sign-in, or the next step Cognito asks for.
    function outcome(reply, username) {
      const result = reply.AuthenticationResult;
      if (result) return { session: session(result, username) };
      if (reply.ChallengeName === "NEW_PASSWORD_REQUIRED") {
        const params = reply.ChallengeParameters || {};
        return { newPasswordStep: { session: reply.Session, username,
          cognitoUsername: params.USERNAME || params.USER_ID_FOR_SRP || username } };
      }
      throw new CognitoError("UnsupportedChallenge", String(reply.ChallengeName));
    }

    async function signIn(username, password) {
      const a = srp.randomSmallA();
      const A = srp.largeA(a);
      const started = await call("InitiateAuth", {
        AuthFlow: "USER_SRP_AUTH",
        ClientId: clientId,
        AuthParameters: { USERNAME: username, SRP_A: srp.toHex(A) },
      });
      if (started.ChallengeName !== "PASSWORD_VERIFIER") return outcome(started, username);
      const answer = await srp.passwordVerifier({ poolId: settings.userPoolId, username, password,
        a, A, challenge: started.ChallengeParameters, now: new Date() });
      const reply = await call("RespondToAuthChallenge", {
        ChallengeName: "PASSWORD_VERIFIER",
        ClientId: clientId,
        ChallengeResponses: answer,
        Session: started.Session,
      });
      return outcome(reply, username);
    }

    async function completeNewPassword(step, newPassword) {
      const reply = await call("RespondToAuthChallenge", {
        ChallengeName: "NEW_PASSWORD_REQUIRED",
        ClientId: clientId,
        ChallengeResponses: { USERNAME: step.cognitoUsername, NEW_PASSWORD: newPassword },
        Session: step.session,
      });
      return outcome(reply, step.username);
    }

    // The refreshed session (the refresh token stays the same).
    async function refresh(current) {
      const reply = await call("InitiateAuth", {
        AuthFlow: "REFRESH_TOKEN_AUTH",
        ClientId: clientId,
        AuthParameters: { REFRESH_TOKEN: current.refresh_token },
      });
      if (!reply.AuthenticationResult) throw new CognitoError("NotAuthorizedException");
      return session(reply.AuthenticationResult, current.user_id, current.refresh_token);
    }

    async function revoke(refreshToken) {
      await call("RevokeToken", { Token: refreshToken, ClientId: clientId });
    }

    return { signIn, completeNewPassword, refresh, revoke };
  }

  root.ChatkitCognito = { client, CognitoError };
})(window);
