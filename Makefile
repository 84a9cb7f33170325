# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STORY ?= examples/tide-clock.md
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home

.PHONY: demo test dev bench install install-test system-deps test-system-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# espeak-ng speaks English and Hindi offline; installed with apt when we are root.
system-deps:
	@command -v espeak-ng >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing espeak-ng with apt-get"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng >/dev/null; \
	  else \
	    echo "espeak-ng is missing: install it with 'sudo apt-get install espeak-ng' (Debian/Ubuntu) or 'brew install espeak-ng' (macOS), then run make again"; \
	    exit 1; \
	  fi; }

# Chromium (Debian's, driven by the playwright package; never a browser download) is only for
# tests/test_browser_ui.py; redis-server is the Celery broker of tests/test_celery_scale_out.py.
test-system-deps: system-deps
	@[ -n "$$FILMGEN_CHROMIUM" ] || command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium with apt-get"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "chromium is missing: install it with 'sudo apt-get install chromium' (Debian/Ubuntu) or set FILMGEN_CHROMIUM to a Chromium executable, then run make again"; \
	    exit 1; \
	  fi; }
	@command -v redis-server >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing redis-server with apt-get"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; \
	  else \
	    echo "redis-server is missing: install it with 'sudo apt-get install redis-server' (Debian/Ubuntu) or 'brew install redis' (macOS), then run make again"; \
	    exit 1; \
	  fi; }

install: $(BIN)/python system-deps
	$(BIN)/pip install -q -e .

# Tests prove the studio backends on tiny models, so they need the studio extra (CPU torch here),
# and the Celery and Kubernetes executors, so they need those extras too.
install-test: $(BIN)/python test-system-deps
	$(BIN)/pip install -q -e '.[test,studio,celery,k8s]' -c .ci/constraints.txt

demo: install
	$(BIN)/filmgen render $(STORY) --out out

test: install-test
	$(BIN)/python -m pytest

dev: install
	$(BIN)/filmgen gpu-pool
	$(BIN)/dagster dev -w workspace.yaml

bench: install
	$(BIN)/python bench/animatic_vs_ffmpeg.py

clean:
	rm -rf out .dagster_home
