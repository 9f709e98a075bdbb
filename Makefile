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
	$(PY) -m pip install -qq --no-compile -r $(VENV)/requirements.txt
	# byte-compile on every core at once (pip compiles file by file); like pip, a file that does not
	# compile (a package's Python 2 test data) is skipped
	$(PY) -m compileall -q -j 0 $$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') > /dev/null || true
	touch $@

DEMO_RAW   := data/demo/raw_data
DEMO_STORE := data/demo/processed

demo: env
	$(PY) -m data.synthetic --out $(DEMO_RAW) --subjects 2 --sentences 36 --seed 0
	$(PY) -m data.prepare --raw $(DEMO_RAW) --out $(DEMO_STORE) --labels $(DEMO_RAW)/labels_8variants.jsonl
	$(PY) -m data.synthetic.tiny_t5 --out checkpoints/demo/tiny-t5 --pretrain-on $(DEMO_STORE) --steps 300
	$(PY) train.py --config configs/demo.yaml --overwrite
	$(PY) test.py --ckpt checkpoints/demo/last.ckpt --data_dir $(DEMO_STORE) --out results/demo --max_length 192 --controls all --overwrite
	@echo "demo report: results/demo/report.md"

test: env
	$(PY) -m pytest -q -ra --durations=15 tests

test-fast: env
	$(PY) -m pytest -q -ra -m "not slow" tests

bench: env
	$(PY) -m bench.run_all

clean:
	rm -rf results/demo data/demo checkpoints/demo
