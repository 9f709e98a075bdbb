"""The BrainTranslator baseline through the command lines: train.py fits it (``--architecture
brain_translator``) with the data options as the one source of its batch sizes, resumes it
exactly, test.py recognises its checkpoint and judges it by GLIM's protocol (generation without
teacher forcing beside the teacher-forced figures, the noise and shuffled controls, retrieval and
zero-shot not applicable), and evaluation.compare pairs it with GLIM on the same test samples."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from data.synthetic.random_store import write_random_store
from data.word_dataset import WordFeatureDataset
from evaluation import compare
from evaluation.columns import GENERATED, GENERATED_TF, bleu, tf
from evaluation.metrics import roundtrip
from evaluation.run import evaluation_loader
from model.bart import build_tiny_bart
from model.brain_translator_module import BrainTranslator
from model.checkpoint import model_from_checkpoint
from tests.eval_factories import random_checkpoint
from tests.factories import TINY_BRAIN_TRANSLATOR, TINY_DATA
from tests.commands import run_in_process, train_in_process
from tests.paths import ROOT
from tests.test_resume import assert_same_training_state, kill_at_new_checkpoint

COMMON = ("--deterministic", "true", "--limit_train_batches", "3", "--limit_val_batches", "1",
          "--progress", "false")
TEST_FAST = ("--progress", "false", "--max_length", "24", "--batch_size", "4", "--bootstrap", "200",
             "--permutations", "200")


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("baseline")
    store = write_random_store(tmp / "store", n_sentences=12, n_subjects=2, word_features=True)
    bart = build_tiny_bart(tmp / "tiny-bart", d_model=32)
    config = {"architecture": "brain_translator",
              "model": {**TINY_BRAIN_TRANSLATOR, "text_model_id": str(bart)},
              "data": {"data_dir": str(store), **TINY_DATA}, "accelerator": "cpu", "devices": 1,
              "precision": "32-true", "ckpt_every": 1, "logger": "csv", "full_val": False,
              "run_name": "bt"}
    (tmp / "bt.yaml").write_text(yaml.safe_dump(config))
    return tmp


def train(setup: Path, out: Path, *extra: str) -> int:
    return train_in_process("--config", str(setup / "bt.yaml"), "--out_dir", str(out), *COMMON, *extra)


@pytest.fixture(scope="module")
def fitted(setup) -> Path:
    """Two epochs straight through (the first with BART mostly frozen, then everything)."""
    out = setup / "straight"
    assert train(setup, out, "--max_epochs", "2") == 0
    return out / "last.ckpt"


def test_train_py_fits_the_baseline_with_the_data_options_as_batch_sizes(fitted):
    ckpt = torch.load(fitted, weights_only=True)
    hp = ckpt["hyper_parameters"]
    assert ckpt["epoch"] == 1 and ckpt["global_step"] == 6
    assert (hp["bsz_train"], hp["bsz_val"]) == (TINY_DATA["batch_size"], TINY_DATA["val_batch_size"])
    assert hp["word_dim"] == 840 and "lr" in hp and hp["lr"] == TINY_BRAIN_TRANSLATOR["lr"]  # its own rate
    assert ckpt["glim_run"]["config"]["architecture"] == "brain_translator"
    assert any(k.startswith("net.text_model.") for k in ckpt["state_dict"])  # BART's trained weights saved
    log = pd.read_csv(fitted.parent / "logs" / "version_0" / "metrics.csv")
    assert log["train/loss"].notna().sum() == 6 and log["val/loss"].notna().sum() == 2


def test_checkpoint_round_trip_recognises_the_baseline(fitted):
    model = model_from_checkpoint(fitted)
    assert isinstance(model, BrainTranslator) and model.run_settings["bsz_val"] == TINY_DATA["val_batch_size"]
    state = torch.load(fitted, weights_only=True)["state_dict"]
    own = model.state_dict()
    assert own.keys() == state.keys() and all(torch.equal(own[k], state[k]) for k in state)


@pytest.mark.slow
def test_run_killed_mid_epoch_ends_like_the_uninterrupted_run(setup, fitted, capsys):
    """SIGKILLed in the middle of epoch 1 (after the change of step: everything trains) and
    continued by the same command: the weights and the optimizer state of the straight run, bit
    for bit (the loader's order, the stage, the learning rate and the RNG states come back)."""
    out, last = setup / "killed", setup / "killed" / "last.ckpt"
    argv = ("--config", str(setup / "bt.yaml"), "--out_dir", str(out), *COMMON, "--max_epochs", "2",
            "--ckpt_every_n_steps", "1")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    with open(setup / "killed.log", "w") as log:
        proc = subprocess.Popen([sys.executable, str(ROOT / "train.py"), *argv], stdout=log, stderr=log, env=env)
    step = kill_at_new_checkpoint(proc, last, at_least=4)
    assert 3 < step < 6  # epoch 1 has steps 4 to 6
    assert train_in_process(*argv) == 0
    assert f"resuming from {last} (epoch 1, step {step})" in capsys.readouterr().err
    assert_same_training_state(fitted, last)


def test_glim_only_options_and_a_store_without_word_features_are_refused(setup, tmp_path, capsys):
    assert train(setup, tmp_path / "a", "--lr", "0.1") == 1
    assert "error: --lr: GLIM's only; the BrainTranslator's optimiser settings are --model.lr" in capsys.readouterr().err
    plain = write_random_store(tmp_path / "plain", n_sentences=6)
    assert train(setup, tmp_path / "b", "--data.data_dir", str(plain)) == 1
    assert "holds no word-level EEG features" in capsys.readouterr().err
    assert train(setup, tmp_path / "c", "--architecture", "bart") == 2
    assert "unknown --architecture 'bart': use one of glim, brain_translator" in capsys.readouterr().err


@pytest.fixture(scope="module")
def judged(setup, fitted) -> tuple[Path, str]:
    out = setup / "results-bt"
    r = run_in_process("test.py", "--ckpt", str(fitted), "--data_dir", str(setup / "store"), "--out", str(out),
                       "--controls", "all", *TEST_FAST)
    assert r.returncode == 0, r.stderr[-3000:]
    return out, r.stdout + r.stderr


@pytest.mark.slow
def test_test_py_judges_the_baseline_by_the_protocol(judged):
    out, printed = judged
    record = json.loads((out / "metrics.json").read_text())
    assert record["model"] == "BrainTranslator"
    assert set(record["not_applicable"]) == {"retrieval", "zero_shot", "prompt-free"}
    assert set(record["controls"]) == {"noise", "shuffled"}  # prompt-free left out, said so
    assert "note: control prompt-free left out" in printed
    metrics = record["metrics"]
    assert isinstance(metrics[bleu(1)], float) and isinstance(metrics[tf(bleu(1))], float)
    assert not [k for k in metrics if k.startswith(("retrieval", "zero_shot"))]  # no number where N/A
    assert record["baselines"] == {} and set(record["diversity"]) == {"EEG", "noise", "shuffled"}
    assert "generated (beam search, no teacher forcing): BLEU-1 @MTV " in printed
    assert "teacher-forced (argmax of the teacher-forced logits, not a generation):" in printed
    assert "retrieval: not applicable" in printed and "zero-shot: not applicable" in printed
    report = (out / "report.md").read_text()
    assert report.startswith("# BrainTranslator test report")
    assert "Not applicable: the BrainTranslator has no EEG embedding in the text space." in report
    for control in ("noise", "shuffled"):
        samples = pd.read_csv(out / "controls" / control / "samples.csv")
        assert samples["sample"].tolist() == pd.read_csv(out / "samples.csv")["sample"].tolist()


@pytest.mark.slow
def test_generations_come_from_the_word_vectors_alone(setup, fitted, judged):
    """test.py's generations are what the model decodes from the word vectors with every target
    text replaced: no teacher forcing."""
    out, _ = judged
    samples = pd.read_csv(out / "samples.csv", keep_default_na=False)
    model = model_from_checkpoint(fitted).eval()
    loader = evaluation_loader(WordFeatureDataset(setup / "store", "test"), 4)
    batch = next(iter(loader))
    batch["target_text"] = ["nothing to see"] * len(batch["target_text"])
    generated = model.generate(batch, num_beams=2, max_length=24, no_repeat_ngram_size=0, repetition_penalty=1.0,
                               length_penalty=1.0, early_stopping=False)
    expected = roundtrip(generated, model.tokenizer, model.cfg.tgt_text_len)
    assert samples[GENERATED].head(len(expected)).tolist() == expected
    assert (samples[GENERATED] != samples[GENERATED_TF]).any()  # the teacher-forced figures are another column


@pytest.mark.slow
def test_prompt_free_is_refused_for_the_baseline(setup, fitted, tmp_path):
    r = run_in_process("test.py", "--ckpt", str(fitted), "--data_dir", str(setup / "store"),
                       "--out", str(tmp_path / "r"), "--prompt_free", "true", *TEST_FAST)
    assert r.returncode == 1 and "error: --prompt_free: not applicable: the BrainTranslator reads no prompt" in r.stderr


@pytest.mark.slow
def test_compare_pairs_glim_and_the_baseline_on_the_same_test_samples(setup, judged, capsys):
    glim_out = setup / "results-glim"
    r = run_in_process("test.py", "--ckpt", str(random_checkpoint(setup)), "--data_dir", str(setup / "store"),
                       "--out", str(glim_out), "--retrieval_batch_size", "4", *TEST_FAST)
    assert r.returncode == 0, r.stderr[-3000:]
    out = setup / "comparison"
    assert compare.main([str(glim_out), str(judged[0]), "--out", str(out), "--bootstrap", "200",
                         "--permutations", "200"]) == 0
    table = pd.read_csv(out / "comparison.csv")
    glim, bt = (pd.read_csv(d / "samples.csv") for d in (glim_out, judged[0]))
    row = table.set_index("metric").loc[bleu(1)]
    assert row["A"] == pytest.approx(glim[bleu(1)].mean()) and row["B"] == pytest.approx(bt[bleu(1)].mean())
    assert row["B − A"] == pytest.approx(row["B"] - row["A"])
    assert not table["metric"].str.startswith(("retrieval", "zero_shot")).any()  # only what both have
    md = (out / "comparison.md").read_text()
    assert "BrainTranslator (B) vs GLIM (A)" in md and f"{len(bt)} paired test samples" in md
