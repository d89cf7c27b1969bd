# minimx: build the book, run the tests. Every target sets itself up from
# nothing: all it needs is Python 3 (with its venv module) and GNU make.

PY ?= python3
VENV = .venv
VPY = $(VENV)/bin/python
# Touched after a successful install; older than pyproject.toml -> reinstall.
# An editable install maps the package only if minimx/ exists when it runs, so
# the stamp's name records that: when the tangler first creates minimx/, the
# name changes and the next target reinstalls once.
STAMP = $(VENV)/.minimx-installed$(if $(wildcard minimx/__init__.py),,-without-package)
# The reader's path installs only what the chapters need ([lab]); the full set of
# extras (and this stamp too) comes with `make setup`, `make test` or `make book`.
LAB_STAMP = $(VENV)/.minimx-lab-installed$(if $(wildcard minimx/__init__.py),,-without-package)
# Refuse an old Python before creating a venv with it.
CHECK_PY = $(PY) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || \
	{ echo "minimx needs Python 3.10 or newer; run make with PY=python3.X"; exit 1; }

.DEFAULT_GOAL := help
.PHONY: help setup lab test book tangle execute bench clean

help:
	@echo "make lab       set up .venv and open the chapters in JupyterLab (the reader's path)"
	@echo "make test      set up .venv, check tangle and lint, run tests/, nbval over book/, GPU paths on the stand-in"
	@echo "make book      set up .venv, check the tangle, build the HTML book into _build/html"
	@echo "make tangle    regenerate minimx/ from the chapters, and the API page book/api_coverage.md"
	@echo "make execute   re-run the chapters in place so their stored outputs are current"
	@echo "make bench     run the benchmarks in bench/ (make bench ARGS=name to pick some)"
	@echo "make setup     only create .venv and install minimx with [test,book,lab]"
	@echo "make clean     remove _build (keeps .venv)"

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(VPY) || { $(CHECK_PY); $(PY) -m venv $(VENV); }
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet -e ".[test,book,lab]"
	touch $@ $(LAB_STAMP)

$(LAB_STAMP): pyproject.toml
	test -x $(VPY) || { $(CHECK_PY); $(PY) -m venv $(VENV); }
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet -e ".[lab]"
	touch $@

lab: $(LAB_STAMP)
	$(VENV)/bin/jupyter lab book/

test: $(STAMP)
	$(VPY) tools/tangle.py --check
	$(VPY) tools/api_page.py --check
	$(VENV)/bin/jupyter lab --version >/dev/null  # the reader's `make lab` has its tools
	$(VPY) -m ruff check .
	$(VPY) tools/execute.py --check
	$(VPY) -m pytest -q -p no:cacheprovider tests --nbval --nbval-current-env book/
	# The GPU code paths, on the CuPy stand-in (two fake devices; Chapter 9).
	MINIMX_CUPY_STANDIN=2 $(VPY) -m pytest -q -p no:cacheprovider -m gpu tests

book: $(STAMP)
	$(VPY) tools/tangle.py --check
	rm -rf _build/html     # no page of a renamed or removed chapter survives
	$(VENV)/bin/jupyter-book build . -W -n --keep-going

tangle: $(STAMP)
	$(VPY) tools/tangle.py
	$(VPY) tools/api_page.py

execute: $(STAMP)
	$(VPY) tools/execute.py $(ARGS)

bench: $(STAMP)
	$(VPY) bench/run.py $(ARGS)

clean:
	rm -rf _build
