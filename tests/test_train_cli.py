"""train.py / test.py end to end on a tiny store and a tiny T5, DDP on CPU, and clear CLI errors."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
import yaml

from data.synthetic.random_store import write_random_store
from model.config import HPARAM_NAMES
from model.text_model import build_tiny_t5
from tests.commands import run, run_in_process, train_in_process
from tests.factories import TINY_DATA, TINY_GLIM
from tests.paths import ROOT  # noqa: E402


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    store = write_random_store(tmp / "store", n_sentences=12, n_subjects=2)
    t5 = build_tiny_t5(tmp / "tiny-t5", d_model=64)
    config = {"model": {**TINY_GLIM, "text_model_id": str(t5)}, "data": {"data_dir": str(store), **TINY_DATA},
              "accelerator": "cpu", "devices": 1, "precision": "32-true", "max_epochs": 2,
              "ckpt_every": 1, "progress": False, "logger": "csv"}
    (tmp / "tiny.yaml").write_text(yaml.safe_dump(config))
    return tmp


def test_fit_writes_checkpoints_and_config_then_test_scores(setup):
    out = setup / "run"
    r = run_in_process("train.py", "--config", str(setup / "tiny.yaml"), "--out_dir", str(out),
                       "--limit_train_batches", "8")  # of 32
    assert r.returncode == 0, r.stderr[-3000:]
    names = sorted(p.name for p in out.glob("*.ckpt"))
    assert names == ["glim-zuco-epoch=0-step=8.ckpt", "glim-zuco-epoch=1-step=16.ckpt", "last.ckpt"]
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["model"]["hidden_dim"] == 32 and saved["seed"] == 42
    hparams = torch.load(out / "last.ckpt", weights_only=True)["hyper_parameters"]  # the published names
    assert set(hparams) == HPARAM_NAMES and hparams["bsz_train"] == hparams["bsz_val"] == 4
    assert hparams["lr"] == 1e-4 and hparams["full_val_interval"] == 10 and hparams["bs_retrieval"] == 24
    res = setup / "results"
    r = run_in_process("test.py", "--ckpt", str(out / "last.ckpt"), "--data_dir", str(setup / "store"),
                       "--out", str(res), "--progress", "false")
    assert r.returncode == 0, r.stderr[-3000:]
    import pandas as pd
    samples = pd.read_csv(res / "samples.csv")
    assert len(samples) == 16 and {"Input Text", "targets_json", "Generated Text", "Bleu1", "Bleu4",
                                   "Rouge1-fmeasure", "WER", "Generated Text (w/tf)"} <= set(samples.columns)
    metrics = json.loads((res / "metrics.json").read_text())["metrics"]
    assert metrics["n_samples"] == 16 and 0 <= metrics["retrieval_pool/R@1"] <= 1
    assert abs(metrics["Bleu1"] - samples["Bleu1"].mean()) < 1e-9
    logged = pd.read_csv(next((res / "logs").glob("version_*/metrics.csv")))
    assert logged["Bleu1"].iloc[0] == pytest.approx(metrics["Bleu1"])
    # refuses to overwrite results (a new process: the command line's exit status)
    r = run("test.py", "--ckpt", str(out / "last.ckpt"), "--data_dir", str(setup / "store"), "--out", str(res))
    assert r.returncode != 0 and "already holds results" in r.stderr and "--overwrite" in r.stderr


@pytest.mark.slow
def test_ddp_two_ranks_on_cpu_see_disjoint_batches(setup):
    out = setup / "ddp"
    r = run("train.py", "--config", str(setup / "tiny.yaml"), "--out_dir", str(out), "--devices", "2",
            "--strategy", "ddp", "--max_epochs", "1", "--record_batches", "true")
    assert r.returncode == 0, r.stderr[-3000:]
    ranks = [[json.loads(x) for x in (out / f"batches/rank{k}.jsonl").read_text().splitlines()] for k in (0, 1)]
    assert len(ranks[0]) == len(ranks[1]) == 16  # 32 batches of 4 split over 2 ranks
    seen = [[i for b in rank for i in b["samples"]] for rank in ranks]
    assert len(set(seen[0])) == len(seen[0]) == 64 and not set(seen[0]) & set(seen[1])
    for b in ranks[0] + ranks[1]:
        assert len(set(b["uids"])) == len(b["uids"]) == 4
    assert (out / "last.ckpt").is_file()
    assert r.stdout.count(f"done: {out / 'last.ckpt'}") == 1 and r.stdout.count("done: trained 1 epoch ") == 1
    assert r.stdout.count("epoch 0 (1 of 1)  train/loss") == 1  # each line once, by rank 0
    import pandas as pd  # full validation: each rank generated 2 of the 4 val batches, rank 0 wrote all
    full_val = pd.read_csv(out / "full_val" / "epoch=0" / "samples.csv")
    assert sorted(full_val["sample"]) == list(range(16)) and set(full_val["batch"]) == {0, 1, 2, 3}


def test_bad_input_gives_one_line_errors(setup, tmp_path):
    r = run("train.py", "--config", str(setup / "tiny.yaml"), "--model.no_such_key", "1")
    assert r.returncode != 0 and "no_such_key" in r.stderr
    bad = yaml.safe_load((setup / "tiny.yaml").read_text())
    bad["model"]["hidden_dimm"] = 3
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    r = run("train.py", "--config", str(tmp_path / "bad.yaml"))
    assert r.returncode != 0 and "hidden_dimm" in r.stderr
    r = run("train.py", "--config", str(setup / "tiny.yaml"), "--data.data_dir", str(tmp_path / "none"),
            "--out_dir", str(tmp_path / "o"))
    assert r.returncode == 1 and "processed data directory not found" in r.stderr
    assert "Traceback" not in r.stderr
    (tmp_path / "foreign.ckpt").write_bytes(b"PK\x03\x04 not a checkpoint")
    r = run_in_process("test.py", "--ckpt", str(tmp_path / "foreign.ckpt"), "--data_dir", str(setup / "store"),
                       "--out", str(tmp_path / "res"))
    assert r.returncode == 1 and "cannot be read" in r.stderr and "Traceback" not in r.stderr
    narrow = build_tiny_t5(tmp_path / "t5-32", d_model=32)
    r = run_in_process("train.py", "--config", str(setup / "tiny.yaml"), "--text_model", str(narrow),
                       "--out_dir", str(tmp_path / "o2"))
    assert r.returncode == 1 and "d_model 32" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("where", ["command line", "yaml"])
@pytest.mark.parametrize("old, new", [("bsz_train", "--data.batch_size"), ("bsz_val", "--data.val_batch_size"),
                                      ("lr", "--lr"), ("bs_retrieval", "--retrieval_batch_size")])
def test_moved_options_name_their_new_home(setup, tmp_path, capsys, where, old, new):
    """A run setting that left ``--model.*`` fails in one line naming where it lives now."""
    if where == "yaml":
        moved = yaml.safe_load((setup / "tiny.yaml").read_text())
        moved["model"][old] = 8
        (tmp_path / "old.yaml").write_text(yaml.safe_dump(moved))
        argv = ("--config", str(tmp_path / "old.yaml"))
    else:
        argv = ("--config", str(setup / "tiny.yaml"), f"--model.{old}", "8")
    assert train_in_process(*argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --model.{old} is now {new} ") and len(err.splitlines()) == 1


def test_initial_weights_are_glim_built_right_after_manual_seed(setup, monkeypatch):
    """train.py seeds, then builds the model before anything else draws: the weights handed to
    ``fit`` equal ``GLIM(**hparams)`` built right after ``torch.manual_seed(seed)``, bit for bit."""
    import lightning as L

    from model.glim import GLIM

    handed = {}

    def fit(trainer, model, **kwargs):
        handed["state"] = {k: v.detach().clone() for k, v in model.state_dict().items()}
        handed["hparams"] = dict(model.hparams)

    monkeypatch.setattr(L.Trainer, "fit", fit)
    assert train_in_process("--config", str(setup / "tiny.yaml"), "--out_dir", str(setup / "seeded"),
                            "--seed", "7", "--full_val", "false") == 0
    torch.manual_seed(7)
    expected = GLIM(**handed["hparams"]).state_dict()
    assert handed["state"].keys() == expected.keys()
    for name, tensor in expected.items():
        assert torch.equal(handed["state"][name], tensor), name
    torch.manual_seed(8)
    other = GLIM(**handed["hparams"]).state_dict()
    assert not all(torch.equal(handed["state"][k], v) for k, v in other.items())  # the seed matters


def test_float32_precisions_keep_full_matmul_precision():
    """On a GPU train.py sets matmul precision 'medium' unless the precision asks for float32."""
    from infra.numerics import is_float32, training_numerics

    assert all(is_float32(p) for p in ("32-true", "32", 32, "64-true"))
    assert not any(is_float32(p) for p in ("bf16-mixed", "bf16-true", "16-mixed"))
    assert all(training_numerics(p, gpu=True).matmul is None for p in ("32-true", "32", 32, "64-true"))


@pytest.mark.parametrize("option, message", [
    (("--logger", "foo"), "unknown logger 'foo'"), (("--precision", "17"), "unknown --precision '17'"),
    (("--accelerator", "gpu"), "--accelerator cpu --devices 1"), (("--data.data_dir", "/no/store"), "not found"),
    (("--model.num_heads", "5"), "not divisible by num_heads 5"), (("--data.num_workers", "-1"), "num_workers"),
    (("--model.commitment_loss_weight", "1"), "set hidden_eeg_len = input_text_len"),
])
def test_options_are_checked_before_anything_loads(setup, tmp_path, capsys, monkeypatch, option, message):
    import training.fit

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(training.fit, "run", lambda cfg, parser: pytest.fail("the run started"))
    assert train_in_process("--config", str(setup / "tiny.yaml"), "--out_dir", str(tmp_path / "o"), *option) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and len(err.splitlines()) == 1


HEAVY = ("torch", "lightning", "transformers", "scipy")
NEEDS = {"data.synthetic.corpus": ("scipy",)}  # it writes the .mat files with scipy.io (1.4 s to fail here)
BAD_OPTIONS = [
    ("train", ["--logger", "foo"], "unknown logger"), ("train", ["--precision", "17"], "--precision"),
    ("train", ["--data.data_dir", "/no/store"], "not found"),
    ("train", ["--config", "configs/demo.yaml", "--model.num_heads", "5"], "num_heads"),
    ("test", ["--ckpt", "/no/such.ckpt"], "not found"), ("test", ["--ckpt", "{tmp}/zip.ckpt", "--numerics", "fp8"], "fp8"),
    ("test", ["--ckpt", "{tmp}/zip.ckpt", "--data_dir", "/no/store"], "not found"),
    ("test", ["--ckpt", "{tmp}/zip.ckpt", "--controls", "noise,typo"], "unknown control(s) ['typo']"),
    ("aggregate", ["{tmp}/run", "{tmp}/run", "--out", "{tmp}/agg"], "given twice"),
    ("aggregate", ["{tmp}/run", "/no/run", "--out", "{tmp}/agg"], "holds no metrics.json"),
    ("evaluation.score", ["/no/samples.csv", "--out", "{tmp}/s"], "not found"),
    ("evaluation.score", ["{tmp}/samples.csv", "--out", "{tmp}/s", "--generated_col", "nope"], "nope"),
    ("evaluation.compare", ["{tmp}/run", "/no/run", "--out", "{tmp}/c"], "samples.csv not found"),
    ("data.prepare", ["--raw", "/no/raw", "--out", "{tmp}/store"], "/no/raw"),
    ("data.preprocess.variants", ["--labels", "/no/l.jsonl", "--out", "{tmp}/v.jsonl", "--llm", "x", "--t5", "y"],
     "label table not found"),
    ("data.synthetic.tiny_t5", ["--out", "{tmp}/t5", "--pretrain_on", "/no/store"], "not found"),
    ("data.synthetic.corpus", ["--out", "{tmp}/raw", "--subjects", "two"], "--subjects 'two'"),
]  # one interpreter: a heavy import shows in the first case that makes it, so data.synthetic.corpus (scipy) is last
PROBE = """
import contextlib, importlib, io, json, sys
out = []
for script, argv, heavy in json.loads(sys.argv[1]):
    before, err = set(sys.modules), io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            status = importlib.import_module(script).main(argv)
        except SystemExit as e:
            status = e.code
    loaded = [m for m in heavy if m in sys.modules and m not in before]
    out.append({"status": status, "loaded": loaded, "stderr": err.getvalue()})
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def bad_option_runs(tmp_path_factory) -> list[dict]:
    """Every case of ``BAD_OPTIONS`` in one fresh interpreter (one start-up, not one per case), with
    the heavy modules each case imported."""
    tmp = tmp_path_factory.mktemp("bad")
    (tmp / "run").mkdir()
    (tmp / "run" / "metrics.json").write_text("{}")
    (tmp / "zip.ckpt").write_bytes(b"PK\x03\x04")  # a zip archive's first bytes: read only after the checks
    (tmp / "samples.csv").write_text("Input Text,generated\nthe film,a film\n")
    cases = [(script, [a.format(tmp=tmp) for a in argv], [m for m in HEAVY if m not in NEEDS.get(script, ())])
             for script, argv, _ in BAD_OPTIONS]
    r = subprocess.run([sys.executable, "-c", PROBE, json.dumps(cases)], capture_output=True, text=True, cwd=ROOT,
                       timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("case", range(len(BAD_OPTIONS)), ids=[f"{s}-{i}" for i, (s, _, _) in enumerate(BAD_OPTIONS)])
def test_a_bad_option_fails_before_torch_or_lightning_is_imported(bad_option_runs, case):
    """The checks use light modules only, so a bad option fails in a fraction of a second rather
    than after torch, Lightning and the text model loaded (a fresh interpreter is asked)."""
    message = BAD_OPTIONS[case][2]
    run = bad_option_runs[case]
    assert run["status"] in (1, 2), run  # 2: an argparse error or data.*'s "error" exit code
    assert run["loaded"] == [], run
    last = run["stderr"].strip().splitlines()[-1]  # argparse prints its usage above the error line
    assert "error: " in last and message in last and "Traceback" not in run["stderr"], run["stderr"]
