# GLIM: `make demo` runs the synthetic demo end to end, `make test` runs the test suite, `make notebooks`
# runs the notebooks headless.
# All three create the environment (.venv) first, with the exact versions of requirements.lock (the
# versions the test suite was run with); `make lock` re-resolves environment.yml's ranges into it.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
export HF_HUB_OFFLINE ?= 1

LOCK   := requirements.lock

.PHONY: env lock demo notebooks test test-fast bench clean

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

# The notebooks, headless (jupyter nbconvert, in the environment): the preprocessing steps 1-4 write
# the store DATA from RAW, then the predict notebooks read it with the checkpoint CKPT. The defaults
# are the demo's (run `make demo` first); executed copies go to NB_OUT/executed. For real ZuCo e.g.
# make notebooks RAW=data/raw_data VARIANTS=zuco_label_8variants.df DATA=data/processed/zuco \
#      CKPT=checkpoints/glim-zuco-epoch=199-step=49600.ckpt TEXT_MODEL=checkpoints/flan-t5-large \
#      LLM=meta-llama/Llama-3.1-8B-Instruct
# NOTEBOOKS="predict_*.ipynb" runs only those (DATA then an existing store).
NB_OUT     ?= results/notebooks
RAW        ?= $(DEMO_RAW)
VARIANTS   ?= $(DEMO_RAW)/labels_8variants.jsonl
DATA       ?= $(NB_OUT)/store
OVERWRITE  ?= $(if $(filter $(NB_OUT)/store,$(DATA)),true,false)
CKPT       ?= checkpoints/demo/last.ckpt
TEXT_MODEL ?=
LLM        ?=
NOTEBOOKS  ?= data/preprocess/__STEP*.ipynb predict_*.ipynb

notebooks: env
	mkdir -p $(NB_OUT)/executed
	GLIM_RAW="$(RAW)" GLIM_VARIANTS="$(VARIANTS)" GLIM_PROCESSED="$(NB_OUT)/processed" GLIM_DATA="$(DATA)" \
	GLIM_OVERWRITE="$(OVERWRITE)" GLIM_CKPT="$(CKPT)" GLIM_TEXT_MODEL="$(TEXT_MODEL)" GLIM_LLM="$(LLM)" \
	GLIM_OUT="$(NB_OUT)" $(VENV)/bin/jupyter nbconvert --to notebook --execute --output-dir $(NB_OUT)/executed \
	    --ExecutePreprocessor.timeout=-1 $(NOTEBOOKS)
	@echo "executed notebooks: $(NB_OUT)/executed"

test: env
	$(PY) -m pytest -q -ra --durations=15 tests

test-fast: env
	$(PY) -m pytest -q -ra -m "not slow" tests

bench: env
	$(PY) -m bench.run_all

clean:
	rm -rf results/demo results/notebooks data/demo checkpoints/demo
