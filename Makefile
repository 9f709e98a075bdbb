# GLIM: `make demo` runs the synthetic demo end to end, `make test` runs the test suite.
# Both create the environment (.venv, from the pip list of environment.yml) first.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
export HF_HUB_OFFLINE ?= 1

.PHONY: env demo test test-fast bench clean

env: $(VENV)/.installed

$(VENV)/.installed: environment.yml
	$(PYTHON) -m venv $(VENV)
	sed -n '/^ *- pip:/,$$p' environment.yml | sed -n 's/^ \{6\}- //p' > $(VENV)/requirements.txt
	$(PY) -m pip install -qq --upgrade pip
	$(PY) -m pip install -qq -r $(VENV)/requirements.txt
	touch $@

demo: env
	$(PY) -m demo

test: env
	$(PY) -m pytest -q -ra tests

test-fast: env
	$(PY) -m pytest -q -ra -m "not slow" tests

bench: env
	$(PY) -m bench.run_all

clean:
	rm -rf results/demo data/demo checkpoints/demo
