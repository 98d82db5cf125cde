# fetalseg: two commands, `make demo` and `make test`. Only Python >= 3.10 and make are needed.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
BIN    := $(VENV)/bin
DEMO   ?= demo-output

.PHONY: demo test venv dev clean bench

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch is pinned and installed first: an unpinned torch pulls a multi-GB CUDA build
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

venv: $(VENV)/.installed
dev: $(VENV)/.installed-dev

demo: $(VENV)/.installed
	PATH=$(BIN):$$PATH bash scripts/demo.sh $(DEMO)

test: $(VENV)/.installed-dev
	$(PY) -m pytest -q -n 2 --dist loadfile tests

bench: $(VENV)/.installed-dev
	for b in benchmarks/bench_*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache
