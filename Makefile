# GLIM: `make demo` runs the synthetic demo end to end, `make test` runs the test suite, `make notebooks`
# runs the notebooks headless.
# All three create the environment (.venv) first, with the exact versions of requirements.lock (the
# versions the test suite was run with); `make lock` re-resolves environment.yml's ranges into it.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
export HF_HUB_OFFLINE ?= 1

LOCK   := requirements.lock

.PHONY: env lock demo demo-stages baseline-demo notebooks test test-fast bench clean

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

# The demo: a synthetic corpus, a tiny text model, GLIM trained on the EEG and, on the same budget,
# on noise (the train-on-noise control), both tested with the controls, then compared.
# `make demo-stages PY=python` runs the stages in an existing environment; DEMO_SEED seeds the
# corpus, the text model and both trainings, DEMO_SNR is the corpus' signal-to-noise ratio;
# DEMO_DATA/DEMO_CKPT/DEMO_OUT place what they write
# (bench/demo_seeds.py runs them for several seeds); DEMO_TIME prefixes every stage (a timer).
# `make demo` also writes everything the stages print to DEMO_LOG (plain progress lines, no bars).
# What a successful demo shows: docs/demo.md.
DEMO_SEED ?= 0
DEMO_DATA ?= data/demo
DEMO_CKPT ?= checkpoints/demo
DEMO_OUT  ?= results/demo
DEMO_LOG  ?= $(DEMO_OUT).log
DEMO_SNR  ?= 2.0
DEMO_TIME ?=
DEMO_RAW   = $(DEMO_DATA)/raw_data
DEMO_STORE = $(DEMO_DATA)/processed
DEMO_TRAIN = $(DEMO_TIME) $(PY) train.py --config configs/demo.yaml --overwrite --seed $(DEMO_SEED) \
             --data.data_dir $(DEMO_STORE) --model.text_model_id $(DEMO_CKPT)/tiny-t5
DEMO_TEST  = $(DEMO_TIME) $(PY) test.py --data_dir $(DEMO_STORE) --max_length 40 --overwrite

DEMO_VERDICTS = $(PY) -c 'import json, sys; from evaluation.grounding import grounding_lines; \
	print("\n".join("  " + line for line in grounding_lines(json.load(open(sys.argv[1]))["grounding"])))' $(1)/metrics.json; \
	grep -E '^- tested on' $(1)/report.md | sed 's/^- /  /'

demo: env
	@mkdir -p $(dir $(DEMO_LOG))
	@echo "== the demo's stages (their output also in $(DEMO_LOG)); what a successful demo shows: docs/demo.md"
	@bash -o pipefail -c '$(MAKE) --no-print-directory demo-stages 2>&1 | tee $(DEMO_LOG)'
	@echo "== trained on the EEG ($(DEMO_OUT)/report.md):"
	@$(call DEMO_VERDICTS,$(DEMO_OUT))
	@echo "== trained on noise ($(DEMO_OUT)/noise-trained/report.md):"
	@$(call DEMO_VERDICTS,$(DEMO_OUT)/noise-trained)
	@echo "== both compared: $(DEMO_OUT)/comparison/comparison.md; what these lines mean: docs/demo.md"

demo-stages:
	rm -rf $(DEMO_RAW)
	$(DEMO_TIME) $(PY) -m data.synthetic --out $(DEMO_RAW) --style short --subjects 3 --sentences 100,25,50,25,25 \
		--signal_to_noise $(DEMO_SNR) --seed $(DEMO_SEED)
	$(DEMO_TIME) $(PY) -m data.prepare --raw $(DEMO_RAW) --out $(DEMO_STORE) --labels $(DEMO_RAW)/labels_8variants.jsonl --overwrite
	$(DEMO_TIME) $(PY) -m data.synthetic.tiny_t5 --out $(DEMO_CKPT)/tiny-t5 --pretrain_on $(DEMO_STORE) --steps 300 --seed $(DEMO_SEED)
	$(DEMO_TRAIN) --out_dir $(DEMO_CKPT)
	$(DEMO_TRAIN) --out_dir $(DEMO_CKPT)/noise-trained --run_name glim-demo-noise --data.noise_input true
	$(DEMO_TEST) --ckpt $(DEMO_CKPT)/last.ckpt --out $(DEMO_OUT) --controls all
	$(DEMO_TEST) --ckpt $(DEMO_CKPT)/noise-trained/last.ckpt --out $(DEMO_OUT)/noise-trained --controls noise,shuffled
	$(DEMO_TIME) $(PY) -m evaluation.compare $(DEMO_OUT) $(DEMO_OUT)/noise-trained --out $(DEMO_OUT)/comparison --overwrite

# GLIM and the BrainTranslator baseline (docs/baseline.md) on the same demo store (with word features),
# tested on the same samples, compared side by side: results/demo-comparison/comparison.md
baseline-demo: env
	rm -rf $(DEMO_RAW)
	$(PY) -m data.synthetic --out $(DEMO_RAW) --style short --subjects 3 --sentences 100,25,50,25,25 \
		--signal_to_noise $(DEMO_SNR) --seed $(DEMO_SEED) --word_features GD
	$(PY) -m data.prepare --raw $(DEMO_RAW) --out $(DEMO_STORE) --labels $(DEMO_RAW)/labels_8variants.jsonl --word_features GD --overwrite
	$(PY) -m data.synthetic.tiny_t5 --out $(DEMO_CKPT)/tiny-t5 --pretrain_on $(DEMO_STORE) --steps 300 --seed $(DEMO_SEED)
	$(PY) -m data.synthetic.tiny_bart --out $(DEMO_CKPT)/tiny-bart --pretrain_on $(DEMO_STORE) --steps 300 --seed $(DEMO_SEED)
	$(DEMO_TRAIN) --out_dir $(DEMO_CKPT)
	$(PY) train.py --config configs/brain_translator_demo.yaml --overwrite --seed $(DEMO_SEED) --data.data_dir $(DEMO_STORE) \
		--model.text_model_id $(DEMO_CKPT)/tiny-bart
	$(DEMO_TEST) --ckpt $(DEMO_CKPT)/last.ckpt --out $(DEMO_OUT) --controls noise,shuffled
	$(DEMO_TEST) --ckpt checkpoints/demo-baseline/last.ckpt --out results/demo-baseline --controls noise,shuffled
	$(PY) -m evaluation.compare $(DEMO_OUT) results/demo-baseline --out results/demo-comparison --overwrite
	@echo "comparison: results/demo-comparison/comparison.md"

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

# The suite on TEST_WORKERS processes side by side (pytest-xdist), each taking whole test modules (a
# module's shared fixtures are built once), in tests/conftest.py's order (modules with slow tests first;
# --no-loadscope-reorder keeps it) and on one CPU thread each. TEST_WORKERS=0: all in one process.
TEST_WORKERS ?= 2
PYTEST_XDIST = -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

test: env
	$(PY) -m pytest -q -ra --durations=15 $(PYTEST_XDIST) tests

test-fast: env
	$(PY) -m pytest -q -ra -m "not slow" $(PYTEST_XDIST) tests

bench: env
	$(PY) -m bench.run_all

clean:
	rm -rf results/demo results/demo-baseline results/demo-comparison results/notebooks data/demo checkpoints/demo checkpoints/demo-baseline
