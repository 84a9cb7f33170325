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

# $(call apt_or_explain,PACKAGE,HOW TO INSTALL IT BY HAND), after a `||`: apt-get installs PACKAGE
# when we are root; otherwise one line says what to install.
apt_or_explain = { \
  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
    echo "installing $(1) with apt-get"; \
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1) >/dev/null; \
  else \
    echo "$(1) is missing: install it with $(2), then run make again"; \
    exit 1; \
  fi; }

# espeak-ng speaks English and Hindi offline.
system-deps:
	@command -v espeak-ng >/dev/null 2>&1 || \
	  $(call apt_or_explain,espeak-ng,'sudo apt-get install espeak-ng' (Debian/Ubuntu) or 'brew install espeak-ng' (macOS))

# Chromium (Debian's, driven by the playwright package; never a browser download) is only for
# tests/test_browser_ui.py; redis-server is the Celery broker of tests/test_celery_scale_out.py.
test-system-deps: system-deps
	@[ -n "$$FILMGEN_CHROMIUM" ] || command -v chromium >/dev/null 2>&1 || \
	  $(call apt_or_explain,chromium,'sudo apt-get install chromium' (Debian/Ubuntu) or set FILMGEN_CHROMIUM to a Chromium executable)
	@command -v redis-server >/dev/null 2>&1 || \
	  $(call apt_or_explain,redis-server,'sudo apt-get install redis-server' (Debian/Ubuntu) or 'brew install redis' (macOS))

# pip compiles a regular install's modules to bytecode but not an editable one's: without this, every
# `filmgen` process compiles the package again wherever bytecode is not written (PYTHONDONTWRITEBYTECODE
# set, a read-only checkout): ~0.15 s of a render's one-core start-up.
compile_package = $(BIN)/python -m compileall -q filmgen_dagster

install: $(BIN)/python system-deps
	$(BIN)/pip install -q -e .
	$(compile_package)

# Tests prove the studio backends on tiny models, so they need the studio extra (CPU torch here),
# and the Celery and Kubernetes executors, so they need those extras too.
install-test: $(BIN)/python test-system-deps
	$(BIN)/pip install -q -e '.[test,studio,celery,k8s]' -c .ci/constraints.txt
	$(compile_package)

demo: install
	$(BIN)/filmgen render $(STORY) --out out

test: install-test
	$(BIN)/python -m pytest

# Run from DAGSTER_HOME, which holds the instance's copy of dagster.yaml: `dagster dev` warns when the
# folder it starts in has a dagster.yaml that is not DAGSTER_HOME's.
dev: install
	$(BIN)/filmgen gpu-pool
	cd "$$DAGSTER_HOME" && $(CURDIR)/$(BIN)/dagster dev -w $(CURDIR)/workspace.yaml

bench: install
	$(BIN)/python bench/animatic_vs_ffmpeg.py

clean:
	rm -rf out .dagster_home
