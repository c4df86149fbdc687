# chatkit — two commands for newcomers:  `make lab`  and  `make test`.
# Both create/refresh one virtual environment at .venv (editors and docs find it there).

# Python 3.12 first, as in SageMaker Studio and Lambda: `python3.12` on PATH, else pyenv's
# 3.12 (its shim answers "command not found" when 3.12 is not the active version), else python3.
PYTHON ?= $(shell for p in python3.12 $$(ls -d "$$(pyenv root 2>/dev/null)"/versions/3.12*/bin/python3.12 \
  2>/dev/null | sort -V | tail -1) python3; do "$$p" -c "" >/dev/null 2>&1 && { echo "$$p"; break; }; done)
PYVER  := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
# .venv here; CI passes a cached env shared by its clones (see .ci/run), so the stamp
# names this checkout: another clone installs itself into it (editable) again.
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(PYVER)-$(shell printf %s "$(CURDIR)" | cksum | cut -d' ' -f1)
PORT   ?= 8888

.PHONY: setup lab test test-fast lint format strip browsers clean

$(STAMP): pyproject.toml
	@if [ -x $(BIN)/python ] && [ "$$($(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')" != "$(PYVER)" ]; then \
	  echo "recreating .venv for Python $(PYVER)"; rm -rf $(VENV); fi
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

setup: $(STAMP)  ## create .venv and install chatkit with all extras

lab: setup  ## start JupyterLab on notebooks/ in offline mode (no AWS account needed)
	@echo "JupyterLab: http://127.0.0.1:$(PORT)/lab  (the token is printed below)"
	CHATKIT_MODE=$${CHATKIT_MODE:-offline} $(BIN)/jupyter lab --no-browser \
	  --ServerApp.ip=127.0.0.1 --ServerApp.port=$(PORT) --ServerApp.root_dir=notebooks \
	  $$( [ "$$(id -u)" = 0 ] && echo --allow-root )

browsers:  ## Debian Chromium + CJK fonts for the browser tests (playwright uses /usr/bin/chromium)
	@if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi "noto sans cjk"; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	fi

lint: setup  ## ruff lint + format check + the layer contract (imports point one way)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python scripts/check_layers.py

test: setup browsers lint  ## everything CI runs: unit, integration, browser tests and notebooks
	$(BIN)/python -m pytest tests notebooks --nbval-lax -p no:cacheprovider -n 2 --dist loadfile \
	  --durations=20

FAST := not browser and not notebook and not infra and not workshop and not setup \
  and not rehearsal and not sdk and not slow
# The folders FAST leaves out are not even imported, nor is nbval (no notebooks here).
# Three workers on two cores: many of these tests wait on sockets (measured 57 s vs 61 s).
FAST_SKIP := $(addprefix --ignore=tests/,web/browser widgets/browser deploy workshop setup local/sdk) \
  -p no:nbval

test-fast: setup  ## the quick loop (about a minute): no apt, no browsers, no notebooks, no deploys
	$(BIN)/python -m pytest tests -m "$(FAST)" $(FAST_SKIP) -p no:cacheprovider -n 3 \
	  --dist loadfile -q

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

strip: setup  ## remove outputs from notebooks before committing
	$(BIN)/nbstripout --keep-metadata-keys metadata.tags notebooks/*.ipynb notebooks/*/*.ipynb 2>/dev/null || true

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache artifacts
