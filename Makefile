# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# `make demo` installs only what the demo imports (the package with its demo and redis extras)
# into the same .venv, under its own stamp: `make test` later adds the dev tools on top, and
# after `make test` the demo finds everything installed already.
DEMO_STAMP := $(VENV)/.installed-demo
# Debian packages the tests start for real: name of the binary -> package.
SYSTEM_BINARIES := redis-server:redis-server redis-cli:redis-tools prometheus:prometheus go:golang-go \
	chromium:chromium chromedriver:chromium-driver

.PHONY: demo test lint typecheck unit venv system-deps bench docs wheel-check wheel wheel-smoke \
	compat stress clean

demo: $(DEMO_STAMP)
	$(PY) -m resilience demo

$(DEMO_STAMP): pyproject.toml
	@if [ -f $(STAMP) ] && [ $(STAMP) -nt pyproject.toml ]; then \
	  touch $@; \
	else \
	  echo "make demo: installing what the demo runs into $(VENV) (grpcio, rich, matplotlib, redis;"; \
	  echo "  not the test tools); pip lists each package as it goes:"; \
	  start=$$(date +%s); \
	  { [ -x $(PY) ] || $(PYTHON) -m venv $(VENV); } && \
	  $(PY) -m pip install --progress-bar on -e '.[demo,redis]' && \
	  echo "make demo: installed in $$(( $$(date +%s) - start )) s; the demo itself runs 45 s" && \
	  touch $@; \
	fi

test: system-deps $(STAMP) lint typecheck docs unit wheel-check compat

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[all,dev]'
	touch $(STAMP)

venv: $(STAMP)

system-deps:
	@missing=""; \
	for pair in $(SYSTEM_BINARIES); do \
	  bin=$${pair%%:*}; pkg=$${pair##*:}; \
	  command -v $$bin >/dev/null 2>&1 || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian packages the tests use:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "The tests need these system packages:$$missing"; \
	    echo "Install them (Debian/Ubuntu: sudo apt-get install$$missing) and run make test again."; \
	    exit 1; \
	  fi; \
	fi

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

typecheck: $(STAMP)
	$(VENV)/bin/mypy

unit: $(STAMP)
	$(PY) -m pytest

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet --site-dir build/site

# The docs site with working search, on loopback only, rebuilt as the docs change (Ctrl-C stops).
.PHONY: docs-serve
DOCS_PORT ?= 8000
docs-serve: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve --dev-addr 127.0.0.1:$(DOCS_PORT)

# The package as users get it: build the wheel, install it alone in a fresh venv, smoke-test it.
wheel-check: wheel
	@$(MAKE) --no-print-directory wheel-smoke

wheel: $(STAMP)
	rm -rf build/wheel
	$(PY) -m pip wheel --quiet --no-deps --wheel-dir build/wheel .

# Install the wheel built by `make wheel` alone in a fresh $(WHEEL_VENV) made by $(PYTHON), then
# run the smoke test with it (from build/, so that nothing of the source tree is importable).
WHEEL_VENV ?= build/wheel-venv
WHEEL_PIP_OPTIONS ?=
wheel-smoke:
	rm -rf $(WHEEL_VENV)
	$(PYTHON) -m venv $(WHEEL_VENV)
	$(WHEEL_VENV)/bin/python -m pip install --quiet $(WHEEL_PIP_OPTIONS) "$$(ls build/wheel/*.whl)[redis]"
	cd build && $(CURDIR)/$(WHEEL_VENV)/bin/python ../tests/wheel/smoke.py

# The wheel smoke test on each supported Python found on PATH or under pyenv (a pyenv shim
# that cannot run counts as not found). The wheel is built once; a missing one is skipped.
# Binary wheels only: on a Python that grpcio has no wheel for, pip fails with a message instead
# of compiling grpcio from source for many minutes.
COMPAT_VERSIONS ?= 3.10 3.11 3.12 3.13
compat: wheel
	@failed=""; \
	for v in $(COMPAT_VERSIONS); do \
	  py=""; \
	  for cand in python$$v $$(ls -d $(HOME)/.pyenv/versions/$$v.*/bin/python$$v 2>/dev/null | sort -rV); do \
	    found=$$($$cand -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null); \
	    if [ "$$found" = "$$v" ]; then py=$$(command -v $$cand); break; fi; \
	  done; \
	  if [ -z "$$py" ]; then echo "python$$v not found, skipped"; continue; fi; \
	  echo "python$$v ($$py): wheel smoke test"; \
	  $(MAKE) --no-print-directory wheel-smoke PYTHON=$$py WHEEL_VENV=build/compat/py$$v-venv \
	    WHEEL_PIP_OPTIONS=--only-binary=:all: \
	    || failed="$$failed $$v"; \
	done; \
	if [ -n "$$failed" ]; then echo "compat: the wheel smoke test failed on:$$failed"; exit 1; fi

# The timing-sensitive tests (-m timing) STRESS_RUNS times under a CPU hog on every core
# (stress-ng, installed here when missing and root; else one Python busy loop per core), then
# the failures per test. Not part of `make test`: about a minute per run.
STRESS_RUNS ?= 10
STRESS_ARGS ?= -m timing
stress: $(STAMP)
	@if ! command -v stress-ng >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing the Debian package stress-ng"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq stress-ng >/dev/null; \
	  else \
	    echo "stress-ng not found (Debian: sudo apt-get install stress-ng): Python busy loops instead"; \
	  fi; \
	fi
	$(PY) tests/stress.py --runs $(STRESS_RUNS) $(STRESS_ARGS)

bench: $(STAMP)
	$(PY) benchmarks/algorithms.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis build dist site
