# Two commands do everything on a fresh machine: `make book` and `make test`.
# Each creates .venv when it is missing and installs the pinned environment into it.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
PROFILE ?=
PROFILE_FLAG := $(if $(PROFILE),--profile $(PROFILE))
# The browser test drives this Chromium (Debian's package); `make test` installs it when missing and root.
CHROMIUM ?= /usr/bin/chromium
export CHROMIUM

.PHONY: book test test-fast run list bench chromium clean

$(INSTALLED): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -e .
	touch $@

book: $(INSTALLED)  ## execute changed chapters (full settings, or PROFILE=ci) and build _build/html
	$(PY) -m mine book $(PROFILE_FLAG)

test: $(INSTALLED) chromium  ## everything: unit tests, every notebook under the ci profile, the book, a browser
	$(PY) -m pytest

test-fast: $(INSTALLED)  ## unit tests only (no notebook of the book, no browser)
	$(PY) -m pytest -m "not slow"

run: $(INSTALLED)  ## make run NB=theory P="-p seed 1" [PROFILE=ci]
	$(PY) -m mine run $(NB) $(P) $(PROFILE_FLAG)

list: $(INSTALLED)  ## every notebook's parameters
	$(PY) -m mine list

bench: $(INSTALLED)
	$(PY) benchmarks/bench_ensemble.py --case all

chromium:
	@if [ -x "$(CHROMIUM)" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	else echo "warning: no $(CHROMIUM) and not root: install Debian's chromium (or set CHROMIUM=/path/to/chromium); the browser test needs it" >&2; fi

clean:
	rm -rf _build book/generated runs
