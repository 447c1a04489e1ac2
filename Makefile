# Two commands on a fresh clone:
#   make book   set up .venv, execute every chapter (PROFILE=default), build the HTML book
#   make test   set up .venv, run the unit tests and the nbval notebook tests
# Re-running either skips the install unless pyproject.toml changed.

PROFILE ?= default
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: book test unit nbval refs check chromium bench gpu-run clean setup

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	@touch $(STAMP)

book: $(STAMP)
	$(PY) -m nsde.runbook book --profile $(PROFILE)

check: $(STAMP)
	$(PY) -m nsde.runbook check

test: $(STAMP) chromium
	TQDM_DISABLE=1 $(PY) -m pytest -q --nbval-lax --nbval-current-env \
		--nbval-sanitize-with tests/sanitize.cfg tests

unit: $(STAMP)
	TQDM_DISABLE=1 $(PY) -m pytest -q tests --ignore=tests/notebooks -m "not book"

# Refresh the nbval reference notebooks (tests/notebooks) on purpose, after a change
# that moves values a chapter prints in a `# NBVAL_CHECK_OUTPUT` cell.
refs: $(STAMP)
	NSDE_CACHE=$$(mktemp -d) $(PY) -m nsde.runbook refs

# Headless Chromium for the screenshot test of the built book (Debian package).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing Debian's chromium for the book screenshot test"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
		|| echo "warning: could not install chromium; the screenshot test will be skipped"; }

bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

# The paper's scale on a CUDA machine, within a time budget, resumable; results in results/gpu.
gpu-run: $(STAMP)
	$(PY) benchmarks/paper_scale.py --out results/gpu --budget-s 540

clean:
	rm -rf _build
