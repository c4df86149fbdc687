#!/usr/bin/env bash
# chatkit 설치: 별도 커널 환경 + "chatkit" 커널 — Jupyter 서버 환경의 패키지는 그대로 둡니다.
# chatkit setup for SageMaker Studio, Cloud9 and laptops: a separate kernel environment and a
# "chatkit" kernel; the Jupyter *server* environment's packages stay exactly as they were.
#
#   bash scripts/studio-setup.sh
#
# Settings (환경 변수):
#   CHATKIT_SERVER_PYTHON  the Jupyter server's Python      (default: python3 on PATH)
#   CHATKIT_ENV            where the kernel env goes        (default: $HOME/.chatkit/venv)
#   CHATKIT_PYTHON         the interpreter for that env     (default: the server's)
#
# What it does: creates CHATKIT_ENV (uv when present, else python -m venv + pip), installs this
# checkout with the `notebook` extra into it, registers the user kernelspec `chatkit`, and copies
# into the user's Jupyter data directory only the widget front-ends (JupyterLab prebuilt
# extensions) the server lacks. It never installs into the server environment; it compares the
# server's package list before and after and fails if anything changed. Safe to run again.
set -euo pipefail

START=$SECONDS
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

say() { printf '%s\n' "$*"; }
die() {
  printf '\n오류 (error): %s\n' "$1" >&2
  [ $# -gt 1 ] && printf '%s\n' "${@:2}" >&2
  exit 1
}
trap 'die "예상하지 못한 실패, ${BASH_SOURCE[0]}:${LINENO}행 (unexpected failure at line ${LINENO})"' ERR

# --- the Jupyter server's Python ---------------------------------------------------------------
SERVER_PY="${CHATKIT_SERVER_PYTHON:-python3}"
SERVER_PY="$(command -v "$SERVER_PY" 2>/dev/null)" \
  || die "서버 Python '${CHATKIT_SERVER_PYTHON:-python3}'을 찾지 못했습니다 (server Python not found)." \
    "CHATKIT_SERVER_PYTHON에 Jupyter 서버의 python 경로를 주세요 (set it to the Jupyter server's python)."
"$SERVER_PY" -c "import jupyter_core" 2>/dev/null \
  || die "$SERVER_PY 에 Jupyter가 없습니다 (no Jupyter in this Python)." \
    "Jupyter 서버를 실행하는 python을 CHATKIT_SERVER_PYTHON에 주세요; 노트북 PC라면 'make lab'을 쓰세요." \
    "(Point CHATKIT_SERVER_PYTHON at the Python that runs Jupyter; on a laptop use 'make lab'.)"

# --- the kernel env's interpreter --------------------------------------------------------------
BASE_PY="${CHATKIT_PYTHON:-$SERVER_PY}"
BASE_PY="$(command -v "$BASE_PY" 2>/dev/null)" \
  || die "CHATKIT_PYTHON '${CHATKIT_PYTHON}'을 찾지 못했습니다 (interpreter not found)."
PY_VERSION="$("$BASE_PY" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null)" \
  || die "$BASE_PY 이 실행되지 않습니다 (this Python does not run)."
"$BASE_PY" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
  || die "chatkit은 Python 3.10 이상이 필요합니다: $BASE_PY 는 $PY_VERSION (chatkit needs Python 3.10+)." \
    "CHATKIT_PYTHON에 python3.12 경로를 주세요 (set CHATKIT_PYTHON to a python3.12)."
SHORT_VERSION="${PY_VERSION%.*}"

ENV_DIR="${CHATKIT_ENV:-$HOME/.chatkit/venv}"
case "$ENV_DIR" in /*) ;; *) ENV_DIR="$PWD/$ENV_DIR" ;; esac
ENV_PY="$ENV_DIR/bin/python"

UV="$(command -v uv 2>/dev/null || true)"
[ -z "$UV" ] && [ -x "$(dirname "$SERVER_PY")/uv" ] && UV="$(dirname "$SERVER_PY")/uv"

say "chatkit 설치 (setup): $ROOT"
say "  서버 (server) Python : $SERVER_PY"
say "  커널 환경 (kernel env): $ENV_DIR  (Python $PY_VERSION, $([ -n "$UV" ] && echo uv || echo pip))"

mkdir -p "$(dirname "$ENV_DIR")"
if command -v flock >/dev/null 2>&1; then  # a lifecycle run and a manual run at the same time
  exec 9>"$ENV_DIR.lock"
  flock -w 900 9 || die "다른 설치가 끝나지 않습니다: $ENV_DIR.lock (another setup is still running)."
fi

# The server's installed distributions (name==version), read without pip.
server_freeze() {
  "$SERVER_PY" - <<'PY'
import importlib.metadata as md
print("\n".join(sorted({f"{d.metadata['Name']}=={d.version}" for d in md.distributions()})))
PY
}
BEFORE="$(server_freeze)"
STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT

# --- 1. the kernel environment -----------------------------------------------------------------
SERVER_PREFIX="$("$SERVER_PY" -c 'import os, sys; print(os.path.realpath(sys.prefix))')"
if [ -e "$ENV_DIR" ]; then
  [ "$(cd "$ENV_DIR" && pwd -P)" != "$SERVER_PREFIX" ] \
    || die "CHATKIT_ENV가 서버 환경 자체입니다: $ENV_DIR (CHATKIT_ENV is the server env itself)." \
      "다른 CHATKIT_ENV를 주세요 (choose another CHATKIT_ENV)."
  [ -f "$ENV_DIR/pyvenv.cfg" ] || [ -z "$(ls -A "$ENV_DIR")" ] \
    || die "$ENV_DIR 는 가상 환경이 아닌데 비어 있지 않습니다 (exists, is not a virtual env, not empty)." \
      "다른 CHATKIT_ENV를 주세요 (choose another CHATKIT_ENV)."
fi
env_version() { "$ENV_PY" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null; }
if [ -e "$ENV_DIR" ] && [ "$(env_version || true)" != "$PY_VERSION" ]; then
  say "  커널 환경을 Python $PY_VERSION 으로 다시 만듭니다 (recreating the kernel env)"
  rm -rf "$ENV_DIR"
fi
if [ ! -x "$ENV_PY" ]; then
  if [ -n "$UV" ]; then
    "$UV" venv --quiet --python "$BASE_PY" "$ENV_DIR" \
      || die "가상 환경을 만들지 못했습니다 (uv venv failed): $ENV_DIR"
  else
    "$BASE_PY" -m venv "$ENV_DIR" \
      || die "가상 환경을 만들지 못했습니다 (python -m venv failed)." \
        "Debian/Ubuntu: apt-get install python3-venv"
  fi
fi

# Install again only when the checkout's requirements or the interpreter changed.
STAMP="$ENV_DIR/.chatkit-setup"
WANT="$( { cat "$ROOT/pyproject.toml"; echo "$ROOT $PY_VERSION"; } | "$SERVER_PY" -c \
  'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')"
if [ "$(cat "$STAMP" 2>/dev/null || true)" = "$WANT" ] \
  && "$ENV_PY" -c "import chatkit, chatkit_widgets, ipykernel, pip" 2>/dev/null; then
  say "  ✓ chatkit 이미 설치됨 (already installed)"
else
  say "  chatkit[notebook] 설치 중 (installing), 처음에는 1–3분 (1–3 minutes the first time)…"
  rm -f "$STAMP"
  if [ -n "$UV" ]; then
    # pip too: notebook 07 builds the Lambda zip with `python -m pip`, and attendees use %pip.
    INSTALL=("$UV" pip install --quiet --python "$ENV_PY" pip -e "${ROOT}[notebook]")
  else
    "$ENV_PY" -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
    INSTALL=("$ENV_PY" -m pip install --quiet --disable-pip-version-check -e "${ROOT}[notebook]")
  fi
  "${INSTALL[@]}" >"$STAGE/install.log" 2>&1 \
    || die "설치하지 못했습니다 (install failed): ${INSTALL[*]}" \
      "$(tail -n 25 "$STAGE/install.log")" \
      "PyPI에 연결되는지(네트워크, 프록시) 확인하고 다시 실행하세요; 이미 설치된 것은 남아 있습니다." \
      "(Check that PyPI is reachable — network, proxy — and run again; nothing is lost.)"
  "$ENV_PY" -c "import chatkit, chatkit_widgets, ipykernel, pip" \
    || die "설치 뒤에도 chatkit을 import하지 못합니다 (chatkit does not import after install)."
  echo "$WANT" >"$STAMP"
  say "  ✓ chatkit 설치됨 (installed)"
fi

# --- 2. the kernelspec and the widget front-ends, in the user's Jupyter data directory --------
DATA_DIR="$("$SERVER_PY" -c 'from jupyter_core.paths import jupyter_data_dir; print(jupyter_data_dir())')"
DISPLAY_NAME="chatkit (Python $SHORT_VERSION)"
LOG="$("$ENV_PY" -m ipykernel install --prefix "$STAGE" --name chatkit \
  --display-name "$DISPLAY_NAME" 2>&1)" || die "커널을 등록하지 못했습니다 (kernelspec failed)." "$LOG"

# Copy SOURCE to TARGET unless TARGET already has the same files; prints what happened.
sync_dir() {
  if [ -d "$2" ] && diff -rq "$1" "$2" >/dev/null 2>&1; then
    echo unchanged
  else
    rm -rf "$2" && mkdir -p "$(dirname "$2")" && cp -R "$1" "$2" && echo updated
  fi
}
case "$(sync_dir "$STAGE/share/jupyter/kernels/chatkit" "$DATA_DIR/kernels/chatkit")" in
  updated) say "  ✓ 커널 등록 (kernel registered): \"$DISPLAY_NAME\" → $DATA_DIR/kernels/chatkit" ;;
  *) say "  ✓ 커널 이미 등록됨 (kernel already registered): \"$DISPLAY_NAME\"" ;;
esac

# Front-ends the server lacks: prebuilt JupyterLab extensions the kernel env ships (anywidget for
# the chat panel, ipywidgets' manager), looked up in every labextensions path the server reads.
# Copies we made carry a marker, so a later run may refresh them; others are never touched.
ADDED=0
for EXT in anywidget @jupyter-widgets/jupyterlab-manager; do
  SOURCE="$ENV_DIR/share/jupyter/labextensions/$EXT"
  [ -f "$SOURCE/package.json" ] || continue
  TARGET="$DATA_DIR/labextensions/$EXT"
  FOUND="$("$SERVER_PY" - "$EXT" <<'PY'
import os, sys
from jupyter_core.paths import jupyter_path
for base in jupyter_path("labextensions"):
    if os.path.isfile(os.path.join(base, sys.argv[1], "package.json")):
        print(os.path.join(base, sys.argv[1]))
        break
PY
)"
  if [ -n "$FOUND" ] && [ ! -f "$FOUND/.chatkit-setup" ]; then
    say "  ✓ 서버에 이미 있음 (the server has it): $EXT"
    continue
  fi
  mkdir -p "$STAGE/ext" && rm -rf "$STAGE/ext/x" && cp -R "$SOURCE" "$STAGE/ext/x"
  echo "copied from $SOURCE by scripts/studio-setup.sh; remove this folder to undo" \
    >"$STAGE/ext/x/.chatkit-setup"
  if [ "$(sync_dir "$STAGE/ext/x" "$TARGET")" = updated ]; then
    say "  ✓ 위젯 프런트엔드 추가 (widget front-end added): $EXT → $TARGET"
    ADDED=1
  else
    say "  ✓ 위젯 프런트엔드 이미 있음 (widget front-end already there): $EXT"
  fi
done

# --- 3. the server environment must be exactly as before ---------------------------------------
AFTER="$(server_freeze)"
if [ "$BEFORE" != "$AFTER" ]; then
  die "서버 환경의 패키지가 바뀌었습니다 (the server environment's packages changed):" \
    "$(diff <(echo "$BEFORE") <(echo "$AFTER") || true)"
fi
say "  ✓ 서버 환경 그대로 (server environment unchanged): $(echo "$AFTER" | wc -l) packages"

say ""
say "완료 (done) in $((SECONDS - START)) s. 다음 (next):"
say "  1. 노트북을 열고 커널을 \"$DISPLAY_NAME\"로 고르세요 — notebooks/00_setup.ipynb부터."
say "     (Open a notebook and pick the kernel \"$DISPLAY_NAME\"; start with notebooks/00_setup.ipynb.)"
if [ "$ADDED" = 1 ]; then
  say "  2. 위젯을 쓰려면 브라우저 탭을 새로고침하세요 (reload the browser tab for the widgets)."
fi
say "  터미널 (terminal): source $ENV_DIR/bin/activate && chatkit doctor"
