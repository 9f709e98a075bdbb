# GLIM: `make demo` runs the synthetic demo end to end, `make test` runs the test suite.
# Both create the environment (.venv) first, with the exact versions of requirements.lock (the
# versions the test suite was run with); `make lock` re-resolves environment.yml's ranges into it.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
export HF_HUB_OFFLINE ?= 1

LOCK   := requirements.lock

.PHONY: env lock demo baseline-demo test test-fast bench clean

env: $(VENV)/.installed

$(VENV)/.installed: $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -qq --upgrade pip
	$(PY) -m pip install -qq --no-compile -r $(LOCK)
	# byte-compile on every core at once (pip compiles file by file); like pip, a file that does not
	# compile (a package's Python 2 test data) is skipped
	$(PY) -m compileall -q -j 0 $$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') > /dev/null || true
	touch $@

# On purpose only: a fresh environment from environment.yml's ranges, frozen into requirements.lock
# (torch's local build tag dropped, so the CPU or the CUDA wheel of the same version installs).
lock:
	rm -rf $(VENV).lock && $(PYTHON) -m venv $(VENV).lock
	sed -n '/^ *- pip:/,$$p' environment.yml | sed -n 's/^ \{6\}- \([^ #]*\).*/\1/p' > $(VENV).lock/ranges.txt
	$(VENV).lock/bin/python -m pip install -qq --upgrade pip
	$(VENV).lock/bin/python -m pip install -qq -r $(VENV).lock/ranges.txt
	( echo "# exact versions of environment.yml's ranges (make lock); make env installs these"; \
	  $(VENV).lock/bin/python -m pip freeze --exclude-editable | sed 's/+[a-z0-9.]*$$//' ) > $(LOCK)
	rm -rf $(VENV).lock

DEMO_RAW   := data/demo/raw_data
DEMO_STORE := data/demo/processed

demo: env
	$(PY) -m data.synthetic --out $(DEMO_RAW) --subjects 2 --sentences 36 --seed 0
	$(PY) -m data.prepare --raw $(DEMO_RAW) --out $(DEMO_STORE) --labels $(DEMO_RAW)/labels_8variants.jsonl
	$(PY) -m data.synthetic.tiny_t5 --out checkpoints/demo/tiny-t5 --pretrain-on $(DEMO_STORE) --steps 300
	$(PY) train.py --config configs/demo.yaml --overwrite
	$(PY) test.py --ckpt checkpoints/demo/last.ckpt --data_dir $(DEMO_STORE) --out results/demo --max_length 192 --controls all --overwrite
	@echo "demo report: results/demo/report.md"

# GLIM and the BrainTranslator baseline (docs/baseline.md) on the same demo store (with word features),
# tested on the same samples, compared side by side: results/demo-comparison/comparison.md
baseline-demo: env
	$(PY) -m data.synthetic --out $(DEMO_RAW) --subjects 2 --sentences 36 --seed 0 --word-features GD
	$(PY) -m data.prepare --raw $(DEMO_RAW) --out $(DEMO_STORE) --labels $(DEMO_RAW)/labels_8variants.jsonl --word-features GD --overwrite
	$(PY) -m data.synthetic.tiny_t5 --out checkpoints/demo/tiny-t5 --pretrain-on $(DEMO_STORE) --steps 300
	$(PY) -m model.bart --out checkpoints/demo/tiny-bart
	$(PY) train.py --config configs/demo.yaml --overwrite
	$(PY) train.py --config configs/brain_translator_demo.yaml --overwrite
	$(PY) test.py --ckpt checkpoints/demo/last.ckpt --data_dir $(DEMO_STORE) --out results/demo --max_length 192 --controls all --overwrite
	$(PY) test.py --ckpt checkpoints/demo-baseline/last.ckpt --data_dir $(DEMO_STORE) --out results/demo-baseline --max_length 192 --controls all --overwrite
	$(PY) -m evaluation.compare results/demo results/demo-baseline --out results/demo-comparison --overwrite
	@echo "comparison: results/demo-comparison/comparison.md"

test: env
	$(PY) -m pytest -q -ra --durations=15 tests

test-fast: env
	$(PY) -m pytest -q -ra -m "not slow" tests

bench: env
	$(PY) -m bench.run_all

clean:
	rm -rf results/demo results/demo-baseline results/demo-comparison data/demo checkpoints/demo checkpoints/demo-baseline
