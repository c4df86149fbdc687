/* chatkit web client: plain JavaScript, no build step, no framework, no CDN.
 *
 * How it is put together (top to bottom in this file):
 *   config     where the gateway is: window.CHATKIT_CONFIG (from config.js), relative to the page
 *   views      DOM builders for messages; message text only ever goes through textContent
 *   auth       demo sign-in (POST /login) or Amazon Cognito (cognito.js: SRP, refresh before
 *              expiry, revoke on sign-out); the session lives in sessionStorage
 *   history    GET /history pages, shown oldest → newest; "load older" keeps the scroll position
 *   streams    one object per request id: frames applied in seq order, footer on `end`
 *   socket     one WebSocket: keep-alive pings, reconnect with exponential backoff + jitter
 *   composer   Enter sends unless an IME composition is open; Shift+Enter adds a newline
 *
 * Wire protocol (DESIGN.md): client → {"type":"chat"|"stop"|"ping", ...};
 * server → start → delta* → end | error per request_id, each frame with an increasing seq.
 */
(function () {
  "use strict";

  const PING_EVERY_MS = 5 * 60 * 1000; // API Gateway closes idle sockets after 10 minutes
  const BACKOFF_BASE_MS = 500;
  const BACKOFF_CAP_MS = 30 * 1000;
  const GAP_WAIT_MS = 2000; // how long a missing seq may hold later frames back
  const SIGN_OUT_GRACE_MS = 10 * 1000; // the server closes the socket after sign_out first
  const HISTORY_PAGE = 20;
  const STORAGE_KEY = "chatkit.session"; // {token, user_id, expires_at[, refresh_token]}
  const REFRESH_BEFORE_S = 5 * 60; // Cognito: refresh 5 minutes before the token expires
  const REFRESH_RETRY_MS = 30 * 1000;
  const REFRESH_MIN_GAP_MS = 10 * 1000; // a token refused again right after a refresh: sign in

  // Texts of the client's own situations. The texts of the server's error codes are the
  // server's (chatkit/errors.py): each error frame's message, and config.js's `errors` for
  // the codes stored in history; `failed` only stands in should a code have no text.
  const TEXT = {
    failed: "오류가 발생했습니다. (Something went wrong.)",
    reconnecting: "연결이 끊겼습니다. 다시 연결하는 중… (Reconnecting…)",
    notConnected: "서버에 연결되어 있지 않습니다. 잠시 후 다시 보내 주세요. (Not connected yet.)",
    unreachable: "서버에 연결할 수 없습니다. (Cannot reach the server.)",
    expired: "로그인이 만료되었습니다. 다시 로그인하세요. (Your sign-in expired; please sign in again.)",
    renewed: "로그인을 갱신하고 다시 연결했습니다. 질문을 다시 보내 주세요. " +
      "(Sign-in renewed and reconnected; please send your question again.)",
    empty: "아직 대화가 없습니다. 무엇이든 물어보세요. (No messages yet — ask anything.)",
    stopped: "⏹ 중단됨 (Stopped)",
    lost: "연결이 끊겨 답변이 중단되었습니다. (Connection lost; the answer was interrupted.)",
    typing: "답변 작성 중 (Typing…)",
    stopping: "중지하는 중… (Stopping…)",
    stop: "중지 (Stop)",
    signIn: "로그인 (Sign in)",
    setPassword: "새 비밀번호로 로그인 (Set password and sign in)",
  };

  // ---- config -----------------------------------------------------------------------

  // Endpoints resolve against the page's own address, so the client works under any path
  // prefix (https://…/jupyterlab/default/proxy/8765/ through jupyter-server-proxy): the local
  // gateway's config.js says "ws" and "."; a deployed one gives absolute URLs, kept as they are.
  const config = (function () {
    const given = window.CHATKIT_CONFIG || {};
    const httpBase = new URL(String(given.httpUrl || "."), location.href);
    if (!httpBase.pathname.endsWith("/")) httpBase.pathname += "/";
    httpBase.search = httpBase.hash = "";
    const wsUrl = new URL(String(given.wsUrl || "ws"), location.href);
    if (wsUrl.protocol === "http:") wsUrl.protocol = "ws:";
    if (wsUrl.protocol === "https:") wsUrl.protocol = "wss:";
    wsUrl.hash = "";
    return {
      endpoint: (path) => new URL(path, httpBase), // endpoint("login") → …/login
      wsUrl: wsUrl,
      mode: given.mode || "",
      auth: given.auth === "cognito" ? "cognito" : "demo",
      cognito: given.cognito || null,
      // error code → the server's message (chatkit/errors.py); a Map: no inherited keys
      errors: new Map(Object.entries(given.errors || {})),
      maxQuestionChars: Number(given.maxQuestionChars) || 0, // the server's (Settings)
    };
  })();

  const $ = (id) => document.getElementById(id);
  const ui = {
    loginScreen: $("login-screen"),
    loginForm: $("login-form"),
    userId: $("user-id"),
    passwordFields: $("password-fields"),
    password: $("password"),
    newPasswordFields: $("new-password-fields"),
    newPassword: $("new-password"),
    newPasswordAgain: $("new-password-again"),
    loginButton: $("login-button"),
    loginError: $("login-error"),
    chatScreen: $("chat-screen"),
    userLabel: $("user-label"),
    logout: $("logout-button"),
    notice: $("notice"),
    transcript: $("transcript"),
    loadOlder: $("load-older"),
    messages: $("messages"),
    composer: $("composer"),
    input: $("input"),
    send: $("send-button"),
    stop: $("stop-button"),
  };

  const state = {
    session: null, // {token, user_id, expires_at[, refresh_token]}
    ws: null,
    refreshTimer: null,
    refreshing: null, // the refresh in flight (a promise of true/false)
    refreshedAt: 0, // Date.now() of the last token refresh
    renewSocket: false, // a refreshed token waits for the streaming answer to end
    openNotice: "", // shown once the next socket opens
    newPasswordStep: null, // Cognito NEW_PASSWORD_REQUIRED in progress
    attempt: 0, // reconnect attempts since the last successful open
    reconnectTimer: null,
    pingTimer: null,
    cursor: null, // opaque cursor for older history
    loadingOlder: false,
    rendered: new Set(), // request ids on screen (history and live never doubled)
    streams: new Map(), // request_id → stream (see newStream)
    active: null, // request id being answered (one at a time)
    composing: false,
  };

  // ---- small helpers ----------------------------------------------------------------

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // Request ids: [A-Za-z0-9._:-], 1–128 characters (the server's rule).
  function newRequestId() {
    if (window.crypto && typeof crypto.randomUUID === "function") return crypto.randomUUID();
    const bytes = new Uint8Array(16);
    if (window.crypto && crypto.getRandomValues) crypto.getRandomValues(bytes);
    else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
    return "r-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function formatMs(ms) {
    if (typeof ms !== "number") return "–";
    return ms < 1000 ? ms + " ms" : (ms / 1000).toFixed(1) + " s";
  }

  // The server's text for an error code (history keeps the code, not the text).
  function codeText(code) {
    return config.errors.get(code) || config.errors.get("internal") || TEXT.failed;
  }

  function errorText(frame) {
    let text = frame.message || codeText(frame.code);
    if (typeof frame.retry_after === "number") {
      text += " (" + Math.ceil(frame.retry_after) + "초 후 재시도 · retry after " +
        Math.ceil(frame.retry_after) + " s)";
    }
    return text;
  }

  function showNotice(text, kind) {
    ui.notice.textContent = text;
    ui.notice.className = "notice" + (kind === "error" ? " error" : "");
    ui.notice.hidden = false;
  }

  function hideNotice() {
    ui.notice.hidden = true;
    ui.notice.textContent = "";
  }

  function nearBottom() {
    const t = ui.transcript;
    return t.scrollHeight - t.scrollTop - t.clientHeight < 80;
  }

  function scrollToBottom() {
    ui.transcript.scrollTop = ui.transcript.scrollHeight;
  }

  // ---- views ------------------------------------------------------------------------

  // One message: <div class="msg ROLE"><div class="bubble" dir="auto">TEXT</div>[status][footer]
  // dir="auto" + unicode-bidi: plaintext (chat.css): each line takes its direction from its own
  // text, and bidi controls in it (U+202E …) cannot reorder anything outside the bubble.
  function messageView(role, text) {
    const root = el("div", "msg " + role);
    const bubble = el("div", "bubble");
    bubble.dir = "auto";
    const textNode = document.createTextNode(text || "");
    bubble.appendChild(textNode);
    root.appendChild(bubble);
    return { root, bubble, textNode, typing: null, statusLine: null, footer: null };
  }

  function userView(text, requestId, createdAt) {
    const view = messageView("user", text);
    view.root.dataset.requestId = requestId;
    if (createdAt) view.root.title = new Date(createdAt).toLocaleString();
    return view;
  }

  function assistantView(requestId, text) {
    const view = messageView("assistant", text);
    view.root.dataset.requestId = requestId;
    view.root.dataset.status = "streaming";
    return view;
  }

  function showTyping(view) {
    const typing = el("span", "typing");
    typing.setAttribute("role", "img");
    typing.setAttribute("aria-label", TEXT.typing);
    typing.append(el("span"), el("span"), el("span"));
    view.bubble.appendChild(typing);
    view.typing = typing;
  }

  // Marks an answer completed / interrupted / error, with a status line and a footer.
  function markDone(view, status, detail, latency, usage) {
    if (view.typing) view.typing.remove();
    view.typing = null;
    view.root.dataset.status = status;
    if (status !== "completed") {
      view.root.classList.add(status);
      view.statusLine = el("div", "status-line", detail);
      view.statusLine.setAttribute("role", status === "error" ? "alert" : "status");
      view.root.appendChild(view.statusLine);
    }
    if (!view.textNode.data && status !== "completed") view.bubble.hidden = true;
    const parts = [];
    if (latency && typeof latency.first_token === "number") {
      parts.push("첫 토큰 first token " + formatMs(latency.first_token));
    }
    if (latency && typeof latency.total === "number") {
      parts.push("전체 total " + formatMs(latency.total));
    }
    if (usage && typeof usage.output_tokens === "number") {
      parts.push("토큰 tokens " + (usage.input_tokens || 0) + "→" + usage.output_tokens);
    }
    if (parts.length) {
      view.footer = el("div", "footer", parts.join(" · "));
      view.root.appendChild(view.footer);
    }
  }

  function systemView(text, id) {
    const view = messageView("system", text);
    if (id) view.root.id = id;
    return view;
  }

  function removeEmptyHint() {
    const hint = $("empty-hint");
    if (hint) hint.remove();
  }

  // ---- auth -------------------------------------------------------------------------

  function loadSession() {
    try {
      const saved = JSON.parse(sessionStorage.getItem(STORAGE_KEY) || "null");
      if (saved && typeof saved.token === "string" && typeof saved.user_id === "string") {
        return saved;
      }
    } catch (err) {
      /* a damaged entry means: not signed in */
    }
    return null;
  }

  function sessionExpired(session) {
    return typeof session.expires_at === "number" && session.expires_at * 1000 <= Date.now();
  }

  async function readJson(response) {
    try {
      return await response.json();
    } catch (err) {
      return {};
    }
  }

  // Demo: POST /login with a user id. Cognito: SRP sign-in, refreshed a few minutes before
  // the access token expires. Elements marked data-auth="demo|cognito" show in that mode.
  let cognito = null;
  let configError = "";
  if (config.auth === "cognito") {
    try {
      cognito = window.ChatkitCognito.client(config.cognito);
    } catch (err) {
      configError = err.message;
    }
  }

  function applyAuthMode() {
    for (const node of document.querySelectorAll("[data-auth]")) {
      const shown = node.dataset.auth === config.auth;
      node.hidden = !shown;
      if (node.tagName === "FIELDSET") node.disabled = !shown;
    }
  }

  function storeSession(session) {
    state.session = session;
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify(session));
  }

  // Runs one sign-in step with the button disabled; a failure is explained under the form.
  async function signInStep(step) {
    ui.loginError.textContent = "";
    ui.loginButton.disabled = true;
    try {
      await step();
    } catch (err) {
      const CognitoError = window.ChatkitCognito.CognitoError;
      if (err instanceof CognitoError) ui.loginError.textContent = err.message;
      else if (config.auth === "cognito") {
        ui.loginError.textContent = new CognitoError(err.name || "Error").message;
      } else ui.loginError.textContent = TEXT.unreachable; // fetch itself failed
    } finally {
      ui.loginButton.disabled = false;
    }
  }

  async function demoLogin(userId) {
    const response = await fetch(config.endpoint("login"), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ user_id: userId }),
    });
    const body = await readJson(response);
    if (!response.ok || typeof body.token !== "string") {
      ui.loginError.textContent = body.message || "로그인 실패 (Sign-in failed): HTTP " +
        response.status;
      return;
    }
    storeSession({ token: body.token, user_id: body.user_id, expires_at: body.expires_at });
    startChat(state.session);
  }

  async function cognitoLogin(username) {
    if (!cognito) throw new window.ChatkitCognito.CognitoError("NotConfigured");
    let result;
    if (state.newPasswordStep) {
      const chosen = ui.newPassword.value.normalize("NFC");
      if (chosen !== ui.newPasswordAgain.value.normalize("NFC")) {
        throw new window.ChatkitCognito.CognitoError("PasswordsDiffer");
      }
      result = await cognito.completeNewPassword(state.newPasswordStep, chosen);
    } else {
      const password = ui.password.value.normalize("NFC");
      result = await cognito.signIn(username.normalize("NFC"), password);
    }
    showNewPasswordStep(result.newPasswordStep || null);
    if (result.session) {
      storeSession(result.session);
      startChat(state.session);
    }
  }

  // NEW_PASSWORD_REQUIRED: the form asks for a new password (twice) instead of the password.
  function showNewPasswordStep(step) {
    state.newPasswordStep = step;
    ui.newPasswordFields.hidden = ui.newPasswordFields.disabled = !step;
    if (config.auth === "cognito") ui.passwordFields.hidden = ui.passwordFields.disabled = !!step;
    ui.userId.readOnly = !!step;
    ui.loginButton.textContent = step ? TEXT.setPassword : TEXT.signIn;
    ui.loginButton.setAttribute("aria-label", ui.loginButton.textContent);
    ui.password.value = ui.newPassword.value = ui.newPasswordAgain.value = "";
    if (step) ui.newPassword.focus();
  }

  // Cognito: swaps in a fresh access token; false when that is impossible (demo mode, refresh
  // token revoked or expired, Cognito unreachable, or a refresh moments ago did not help).
  // Callers at the same time (history and socket both refused) share one refresh.
  function refreshSession() {
    if (!state.refreshing) {
      state.refreshing = refreshOnce().finally(() => {
        state.refreshing = null;
      });
    }
    return state.refreshing;
  }

  async function refreshOnce() {
    const session = state.session;
    if (!cognito || !session || !session.refresh_token) return false;
    if (Date.now() - state.refreshedAt < REFRESH_MIN_GAP_MS) return false;
    let fresh;
    try {
      fresh = await cognito.refresh(session);
    } catch (err) {
      return false;
    }
    if (state.session !== session) return false; // signed out meanwhile
    state.refreshedAt = Date.now();
    storeSession(fresh);
    scheduleRefresh();
    return true;
  }

  function scheduleRefresh() {
    clearTimeout(state.refreshTimer);
    const session = state.session;
    if (!cognito || !session || !session.refresh_token) return;
    // 5 minutes before expiry, or halfway there for tokens that live less than 10 minutes.
    const left = session.expires_at * 1000 - Date.now();
    const due = Math.max(left - REFRESH_BEFORE_S * 1000, left / 2, 0);
    state.refreshTimer = setTimeout(async () => {
      if (await refreshSession()) renewSocket();
      else if (state.session === session) {
        state.refreshTimer = setTimeout(scheduleRefresh, REFRESH_RETRY_MS);
      }
    }, due);
  }

  // The token was refused: a refreshed one (true), or back to sign-in with TEXT.expired.
  async function reauthorize() {
    const session = state.session;
    if (await refreshSession()) return true;
    if (session && state.session === session) logout(TEXT.expired);
    return false;
  }

  // Sign-out button: Cognito revokes the refresh token (best effort), then all is forgotten.
  // The server hears it first on the open socket: it refuses this sign-in's tokens from now
  // on (RevokeToken alone leaves Cognito access tokens valid until they expire).
  function signOut() {
    const session = state.session;
    const ws = state.ws;
    if (ws && ws.readyState === WebSocket.OPEN) {
      ws.send(JSON.stringify({ type: "sign_out" }));
      // The server closes it once the sign-out is recorded. Closing it here would race
      // the message: $disconnect can forget the connection before sign_out is read.
      state.ws = null;
      setTimeout(() => ws.close(1000, "logout"), SIGN_OUT_GRACE_MS);
    }
    if (cognito && session && session.refresh_token) {
      cognito.revoke(session.refresh_token).catch(() => {});
    }
    logout("");
  }

  // Back to the sign-in screen; `reason` (optional) tells the user why.
  function logout(reason) {
    state.session = null;
    dropSocket("logout");
    clearTimeout(state.reconnectTimer);
    clearTimeout(state.refreshTimer);
    sessionStorage.removeItem(STORAGE_KEY);
    state.streams.clear();
    state.rendered.clear();
    state.active = null;
    state.cursor = null;
    state.renewSocket = false;
    state.openNotice = "";
    ui.messages.replaceChildren();
    hideNotice();
    updateComposer();
    showNewPasswordStep(null);
    ui.chatScreen.hidden = true;
    ui.loginScreen.hidden = false;
    ui.loginError.textContent = reason || configError;
    ui.userId.focus();
  }

  // ---- history ----------------------------------------------------------------------

  async function fetchHistory(cursor, limit) {
    const url = config.endpoint("history");
    url.searchParams.set("limit", String(limit || HISTORY_PAGE));
    if (cursor) url.searchParams.set("cursor", cursor);
    return fetch(url, { headers: { Authorization: "Bearer " + state.session.token } });
  }

  // Views of one stored turn (question + answer); DESIGN.md's Turn.to_public() fields.
  function turnViews(turn) {
    const user = userView(turn.question, turn.request_id, turn.created_at);
    const answer = assistantView(turn.request_id, turn.answer);
    let detail = "";
    if (turn.status === "interrupted") detail = TEXT.stopped;
    if (turn.status === "error") detail = codeText(turn.error_code);
    markDone(answer, turn.status || "completed", detail, turn.latency_ms, turn.usage);
    return [user.root, answer.root];
  }

  // Loads one page; `older` puts it above what is shown and keeps the view where it was.
  async function loadHistory(older) {
    if (!state.session) return;
    const session = state.session;
    let response;
    try {
      response = await fetchHistory(older ? state.cursor : null);
    } catch (err) {
      showNotice(TEXT.unreachable, "error");
      return;
    }
    if (state.session !== session) return; // signed out meanwhile
    const body = await readJson(response);
    if (response.status === 401) {
      if (await reauthorize()) await loadHistory(older);
      return;
    }
    if (!response.ok) {
      showNotice(body.message || "기록을 불러오지 못했습니다 (History failed): HTTP " +
        response.status, "error");
      return;
    }
    // Distance from the bottom before anything changes: restored after prepending, so the
    // messages the user is looking at stay where they are.
    const fromBottom = ui.transcript.scrollHeight - ui.transcript.scrollTop;
    const items = Array.isArray(body.items) ? body.items.slice().reverse() : [];
    const fragment = document.createDocumentFragment();
    for (const turn of items) {
      if (!turn || state.rendered.has(turn.request_id)) continue;
      state.rendered.add(turn.request_id);
      fragment.append(...turnViews(turn));
    }
    state.cursor = body.cursor || null;
    ui.loadOlder.hidden = !state.cursor;
    if (older) {
      ui.messages.insertBefore(fragment, ui.messages.firstChild);
      ui.transcript.scrollTop = ui.transcript.scrollHeight - fromBottom;
    } else {
      ui.messages.insertBefore(fragment, ui.messages.firstChild);
      if (!ui.messages.firstChild) ui.messages.appendChild(systemView(TEXT.empty, "empty-hint").root);
      scrollToBottom();
    }
  }

  async function loadOlder() {
    if (state.loadingOlder || !state.cursor) return;
    state.loadingOlder = true;
    ui.loadOlder.disabled = true;
    try {
      await loadHistory(true);
    } finally {
      state.loadingOlder = false;
      ui.loadOlder.disabled = false;
    }
  }

  // ---- streams ----------------------------------------------------------------------

  // `question` and `userRoot`: a question the server refuses before answering goes back.
  function newStream(requestId, view, question, userRoot) {
    return { requestId, view, question, userRoot, nextSeq: 0, pending: new Map(), done: false,
      gapTimer: null };
  }

  // Frames of one request are applied strictly in seq order: duplicates are dropped, early
  // frames wait for the missing ones (at most GAP_WAIT_MS, then the gap is skipped).
  function accept(stream, frame) {
    if (stream.done) return;
    const seq = Number.isInteger(frame.seq) ? frame.seq : stream.nextSeq;
    if (seq < stream.nextSeq) {
      // An error about this request from another invocation (e.g. a refused stop) has its own
      // seq numbering; it still ends the answer. Anything else below nextSeq is a duplicate.
      if (frame.type === "error") finish(stream, "error", errorText(frame), null, null);
      return;
    }
    if (stream.pending.has(seq)) return;
    stream.pending.set(seq, frame);
    drain(stream);
  }

  function drain(stream) {
    while (!stream.done && stream.pending.has(stream.nextSeq)) {
      const frame = stream.pending.get(stream.nextSeq);
      stream.pending.delete(stream.nextSeq);
      stream.nextSeq += 1;
      apply(stream, frame);
    }
    clearTimeout(stream.gapTimer);
    if (!stream.done && stream.pending.size) {
      stream.gapTimer = setTimeout(() => {
        stream.nextSeq = Math.min(...stream.pending.keys());
        drain(stream);
      }, GAP_WAIT_MS);
    }
  }

  function apply(stream, frame) {
    const view = stream.view;
    if (frame.type === "delta" && typeof frame.text === "string" && frame.text) {
      const stick = nearBottom();
      view.textNode.appendData(frame.text); // text only: never parsed as HTML
      if (stick) scrollToBottom();
    } else if (frame.type === "end") {
      const stopped = frame.status === "interrupted" || frame.stop_reason === "stopped";
      finish(stream, stopped ? "interrupted" : "completed", stopped ? TEXT.stopped : "",
        frame.latency_ms, frame.usage);
    } else if (frame.type === "error") {
      const status = frame.status === "interrupted" ? "interrupted" : "error";
      finish(stream, status, errorText(frame), frame.latency_ms, frame.usage);
    }
    // "start" carries model_id / created_at: nothing to show yet.
  }

  function finish(stream, status, detail, latency, usage) {
    if (stream.done) return;
    stream.done = true;
    clearTimeout(stream.gapTimer);
    stream.pending.clear();
    const stick = nearBottom();
    markDone(stream.view, status, detail, latency, usage);
    if (stick) scrollToBottom();
    if (state.active === stream.requestId) state.active = null;
    updateComposer();
    if (state.renewSocket && !state.active) renewSocket();
  }

  // The connection dropped: answers in flight cannot arrive on a new connection.
  function interruptStreams(reason) {
    for (const stream of state.streams.values()) {
      if (!stream.done) finish(stream, "interrupted", reason, null, null);
    }
  }

  // ---- socket -----------------------------------------------------------------------

  function onFrame(raw) {
    let frame;
    try {
      frame = JSON.parse(raw);
    } catch (err) {
      return;
    }
    if (!frame || typeof frame !== "object") return;
    if (frame.type === "pong") return;
    if (frame.type === "error" && frame.code === "unauthorized") {
      signInAgain(frame.request_id);
      return;
    }
    if (!frame.type) {
      // API Gateway's own frames, e.g. {"message": "Endpoint request timed out", ...} after
      // its 29 s integration timeout. The Lambda keeps running and keeps posting through the
      // management API, so the answer keeps streaming: nothing to do.
      return;
    }
    const requestId = frame.request_id;
    let stream = requestId != null ? state.streams.get(requestId) : null;
    if (!stream && requestId == null && frame.type === "error" && state.active) {
      // An error the server could not tie to a request (request_id null): if our request has
      // not started yet, it is about that request.
      const active = state.streams.get(state.active);
      if (active && active.nextSeq === 0) stream = active;
    }
    if (stream) accept(stream, frame);
    else if (frame.type === "error") showNotice(errorText(frame), "error");
  }

  function connect() {
    clearTimeout(state.reconnectTimer);
    if (!state.session || state.ws) return;
    const url = new URL(config.wsUrl);
    url.searchParams.set("token", state.session.token);
    const ws = new WebSocket(url);
    let opened = false;
    state.ws = ws;
    ws.onopen = () => {
      if (state.ws !== ws) return;
      opened = true;
      state.attempt = 0;
      hideNotice();
      if (state.openNotice) showNotice(state.openNotice);
      state.openNotice = "";
      clearInterval(state.pingTimer);
      state.pingTimer = setInterval(() => sendFrame({ type: "ping" }), PING_EVERY_MS);
      updateComposer();
    };
    ws.onmessage = (event) => {
      if (state.ws === ws && typeof event.data === "string") onFrame(event.data);
    };
    ws.onclose = () => {
      if (state.ws !== ws) return; // replaced or closed on purpose (logout)
      state.ws = null;
      clearInterval(state.pingTimer);
      interruptStreams(TEXT.lost);
      updateComposer();
      showNotice(TEXT.reconnecting);
      if (opened) scheduleReconnect();
      else handshakeRefused();
    };
    ws.onerror = () => {}; // a close event always follows
  }

  // The handshake failed (close before open): either the server is down — keep trying — or
  // it refused our token (401/403 at $connect) — refresh it (Cognito) or sign in again.
  // Browsers do not expose the handshake status, so ask the history route, which checks the
  // same token.
  async function handshakeRefused() {
    const session = state.session;
    if (!session) return;
    let refused = sessionExpired(session);
    if (!refused) {
      try {
        const response = await fetchHistory(null, 1);
        refused = response.status === 401 || response.status === 403;
      } catch (err) {
        /* server unreachable: retry below */
      }
    }
    if (state.session !== session) return;
    if (!refused) scheduleReconnect();
    else if (await reauthorize()) connect();
  }

  // The server refused a message on the open socket (token expired or revoked) and is closing
  // it. The refused question was neither answered nor stored: it goes back into the input.
  async function signInAgain(requestId) {
    restoreQuestion(requestId == null ? state.active : requestId);
    dropSocket("unauthorized");
    interruptStreams(TEXT.lost);
    updateComposer();
    if (await reauthorize()) {
      state.openNotice = TEXT.renewed;
      connect();
    }
  }

  function restoreQuestion(requestId) {
    const stream = state.streams.get(requestId);
    if (!stream || stream.nextSeq !== 0) return; // an answer that started stays on screen
    stream.done = true;
    clearTimeout(stream.gapTimer);
    stream.view.root.remove();
    stream.userRoot.remove();
    state.streams.delete(requestId);
    state.rendered.delete(requestId);
    if (state.active === requestId) state.active = null;
    const draft = ui.input.value;
    ui.input.value = draft.trim() ? stream.question + "\n" + draft : stream.question;
    autosize();
  }

  // Closes the socket on purpose: its close handler sees a replaced socket and stays quiet.
  function dropSocket(reason) {
    const ws = state.ws;
    state.ws = null;
    clearInterval(state.pingTimer);
    if (ws) ws.close(1000, reason);
  }

  // After a refresh: the open socket is bound to the old token (the server checks its expiry
  // on every message), so move to a new one as soon as no answer is streaming on it.
  function renewSocket() {
    state.renewSocket = !!state.active;
    if (state.renewSocket || !state.session) return;
    dropSocket("renew");
    connect();
    updateComposer();
  }

  // Exponential backoff with "equal jitter": half fixed, half random, capped at 30 s.
  function scheduleReconnect() {
    if (!state.session) return;
    const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * Math.pow(2, state.attempt));
    state.attempt += 1;
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    clearTimeout(state.reconnectTimer);
    state.reconnectTimer = setTimeout(connect, delay);
  }

  function reconnectNow() {
    if (state.session && !state.ws) {
      state.attempt = 0;
      connect();
    }
  }

  function sendFrame(data) {
    if (!state.ws || state.ws.readyState !== WebSocket.OPEN) return false;
    state.ws.send(JSON.stringify(data));
    return true;
  }

  // ---- composer ---------------------------------------------------------------------

  function updateComposer() {
    const open = !!state.ws && state.ws.readyState === WebSocket.OPEN;
    ui.send.disabled = !open || !!state.active;
    ui.stop.hidden = !state.active;
    if (!state.active) {
      ui.stop.disabled = false;
      ui.stop.textContent = TEXT.stop;
    }
  }

  function autosize() {
    ui.input.style.height = "auto";
    ui.input.style.height = ui.input.scrollHeight + 2 + "px";
  }

  function send() {
    // Read the value now: by the time Enter (not composing) or a click arrives, the IME has
    // committed its last syllable into the field.
    const text = ui.input.value;
    if (!text.trim() || state.active) return; // the text stays in the field
    const requestId = newRequestId();
    if (!sendFrame({ type: "chat", request_id: requestId, text: text })) {
      showNotice(TEXT.notConnected, "error");
      return;
    }
    ui.input.value = ""; // safe: we only get here when no composition is open
    autosize();
    removeEmptyHint();
    hideNotice();
    const answer = assistantView(requestId, "");
    showTyping(answer);
    const question = userView(text, requestId);
    ui.messages.append(question.root, answer.root);
    state.rendered.add(requestId);
    state.streams.set(requestId, newStream(requestId, answer, text, question.root));
    state.active = requestId;
    updateComposer();
    scrollToBottom();
  }

  function stop() {
    if (!state.active) return;
    if (sendFrame({ type: "stop", request_id: state.active })) {
      ui.stop.disabled = true;
      ui.stop.textContent = TEXT.stopping;
    }
  }

  // ---- start-up ---------------------------------------------------------------------

  function startChat(session) {
    state.session = session;
    state.attempt = 0;
    ui.userLabel.textContent = session.user_id;
    ui.loginScreen.hidden = true;
    ui.chatScreen.hidden = false;
    ui.messages.replaceChildren();
    updateComposer();
    loadHistory(false);
    connect();
    scheduleRefresh();
    ui.input.focus();
  }

  // A saved Cognito session whose access token expired is refreshed before it is used.
  async function resume(saved) {
    if (!sessionExpired(saved)) {
      startChat(saved);
      return;
    }
    state.session = saved;
    if (await reauthorize()) startChat(state.session);
  }

  ui.loginForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const userId = ui.userId.value.trim();
    if (!userId) return;
    signInStep(() => (config.auth === "cognito" ? cognitoLogin(userId) : demoLogin(userId)));
  });
  ui.logout.addEventListener("click", signOut);
  ui.loadOlder.addEventListener("click", loadOlder);
  ui.stop.addEventListener("click", stop);
  ui.composer.addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });

  // Korean IME: while a syllable is being composed, Enter belongs to the IME (it commits the
  // syllable); sending then would lose or double the last syllable.
  ui.input.addEventListener("compositionstart", () => { state.composing = true; });
  ui.input.addEventListener("compositionend", () => { state.composing = false; });
  ui.input.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || event.shiftKey) return; // Shift+Enter: newline
    if (event.isComposing || event.keyCode === 229 || state.composing) return;
    event.preventDefault();
    send();
  });
  ui.input.addEventListener("input", autosize);

  window.addEventListener("online", reconnectNow);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") reconnectNow();
  });

  applyAuthMode();
  if (config.maxQuestionChars) ui.input.maxLength = config.maxQuestionChars;
  const saved = loadSession();
  if (saved && (!sessionExpired(saved) || saved.refresh_token)) resume(saved);
  else logout("");
})();
