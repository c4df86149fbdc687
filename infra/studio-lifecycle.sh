#!/bin/bash
# chatkit for a whole class: a SageMaker Studio JupyterLab lifecycle configuration (LCC).
# 반 전체용 SageMaker Studio JupyterLab 수명 주기 구성: 스페이스가 시작될 때마다 실행됩니다.
#
# Studio runs a JupyterLab LCC at every start of a space; only its stdout/stderr are logged (CloudWatch
# log group /aws/sagemaker/studio, stream <domain-id>/<space-name>/JupyterLab/default/LifecycleConfigOnStart)
# and it must finish within 5 minutes, so the setup runs in the background with nohup and logs to
# ~/.chatkit/setup.log. The script itself is sent base64-encoded, at most 16,384 characters.
#   https://docs.aws.amazon.com/sagemaker/latest/dg/studio-lifecycle-configurations.html
#   https://docs.aws.amazon.com/sagemaker/latest/dg/jl-lcc-debug.html
#   https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateStudioLifecycleConfig.html
#
# Once per domain (instructor, AWS CLI):
#   ARN=$(aws sagemaker create-studio-lifecycle-config --studio-lifecycle-config-name chatkit-setup \
#     --studio-lifecycle-config-app-type JupyterLab \
#     --studio-lifecycle-config-content "$(base64 -w0 infra/studio-lifecycle.sh)" \
#     --query StudioLifecycleConfigArn --output text)
#   aws sagemaker update-domain --domain-id <d-…> --default-user-settings \
#     "{\"JupyterLabAppSettings\": {\"DefaultResourceSpec\": {\"LifecycleConfigArn\": \"$ARN\"},
#       \"LifecycleConfigArns\": [\"$ARN\"]}}"
# Spaces started after that run it (already running spaces: stop and start them).
#
# Edit CHATKIT_REPO_URL below (your copy of this repository). The home directory is the space's
# persistent volume: the checkout, the kernel env (~/.chatkit/venv) and the kernel survive restarts,
# so later starts only check them (a few seconds). An attendee's own checkout is never overwritten.
set -eu

CHATKIT_REPO_URL="${CHATKIT_REPO_URL:-https://github.com/YOUR-ORG/chatkit.git}"
CHATKIT_REPO_REF="${CHATKIT_REPO_REF-}"  # a branch or tag; empty: the default branch

HOME_DIR="$HOME"
[ -d /home/sagemaker-user ] && HOME_DIR=/home/sagemaker-user
CHECKOUT="${CHATKIT_CHECKOUT:-$HOME_DIR/chatkit}"
STATE="$HOME_DIR/.chatkit"
mkdir -p "$STATE"

# The image's Jupyter server Python (SageMaker Distribution: /opt/conda/bin/python).
SERVER_PY="${CHATKIT_SERVER_PYTHON:-$(command -v /opt/conda/bin/python || command -v python3)}"

setup() {
  if [ ! -d "$CHECKOUT/.git" ]; then
    git clone --quiet --depth 1 ${CHATKIT_REPO_REF:+--branch "$CHATKIT_REPO_REF"} \
      "$CHATKIT_REPO_URL" "$CHECKOUT" \
      || return 1
  fi
  CHATKIT_SERVER_PYTHON="$SERVER_PY" bash "$CHECKOUT/scripts/studio-setup.sh"
  local status=$?
  if [ "$(id -u)" = 0 ]; then  # run as root: hand what was made to the owner of the home
    chown -R "$(stat -c %u:%g "$HOME")" "$CHECKOUT" "$STATE" "$HOME/.local/share/jupyter" \
      "$HOME/.cache/uv" 2>/dev/null
  fi
  return $status
}

echo "chatkit: setup in the background, log: $STATE/setup.log (설치는 백그라운드에서, 로그는 여기)"
rm -f "$STATE/setup.status"
export -f setup
export CHECKOUT CHATKIT_REPO_URL CHATKIT_REPO_REF SERVER_PY STATE HOME="$HOME_DIR"
# shellcheck disable=SC2016  # expanded by the background shell
nohup bash -c 'setup; echo $? >"$STATE/setup.status"' >"$STATE/setup.log" 2>&1 &
