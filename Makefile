# Two commands do everything on a fresh machine: `make book` and `make test`.
# Each creates .venv when it is missing and installs the pinned environment into it.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
PROFILE ?=
PROFILE_FLAG := $(if $(PROFILE),--profile $(PROFILE))

.PHONY: book test test-fast run list bench clean

$(INSTALLED): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -e .
	touch $@

book: $(INSTALLED)  ## execute every chapter (full settings, or PROFILE=ci) and build _build/html
	$(PY) -m mine book $(PROFILE_FLAG)

test: $(INSTALLED)  ## everything: unit tests, every notebook under the ci profile, the book, a browser
	$(PY) -m pytest

test-fast: $(INSTALLED)  ## unit tests only
	$(PY) -m pytest -m "not slow"

run: $(INSTALLED)  ## make run NB=theory P="-p samples 1000"
	$(PY) -m mine run $(NB) $(P) $(PROFILE_FLAG)

list: $(INSTALLED)
	$(PY) -m mine list

bench: $(INSTALLED)
	$(PY) benchmarks/bench_ensemble.py

clean:
	rm -rf _build book/generated runs
