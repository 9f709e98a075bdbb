"""The demo's pipeline on a synthetic corpus whose EEG carries nothing of the text: the verdicts
must all be "not grounded" (the demo's own corpus gives "grounded": bench/demo_seeds.py)."""
from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from data.label_sentences import LABEL_SENTENCES
from data.preprocess.prepare import prepare
from data.store import open_store
from data.synthetic import tiny_t5
from data.synthetic.corpus import LABELS_FILE, write_corpus
from data.synthetic.eeg import NO_SIGNAL_SAMPLES, read_sentence, subject_profile
from data.synthetic.random_store import write_random_store
from tests.commands import load_script, train_in_process
from tests.paths import ROOT

SIZES = (60, 12, 24, 12, 12)  # SR, NR1, TSR1, NR2, TSR2: short sentences, 2 + 2 readers


def test_without_signal_the_reading_time_does_not_depend_on_the_words():
    profile, rng = subject_profile("ZAB"), np.random.default_rng(0)
    words = {n: ["word"] * n for n in (3, 30)}
    lengths = {n: [read_sentence(w, profile, rng, None).data.shape[1] for _ in range(200)] for n, w in words.items()}
    for n, ls in lengths.items():
        assert NO_SIGNAL_SAMPLES[0] + 20 <= min(ls) and max(ls) <= NO_SIGNAL_SAMPLES[1] + 50, n
    assert abs(np.mean(lengths[3]) - np.mean(lengths[30])) < 150  # ~0 apart; with words' own times ~3800
    assert not np.any(read_sentence(["film"] * 5, profile, rng, None).data[104])


def test_the_demo_text_model_knows_every_word_of_the_zero_shot_label_sentences(tmp_path):
    """Unknown words all read as one ``<unk>``: label sentences made of them would be alike."""
    from transformers import AutoTokenizer

    store = write_random_store(tmp_path / "store", n_sentences=6)
    with redirect_stdout(io.StringIO()):
        assert tiny_t5.main(["--out", str(tmp_path / "t5"), "--pretrain_on", str(store), "--steps", "0"]) == 0
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "t5")
    for sentence in LABEL_SENTENCES:
        assert tokenizer.unk_token_id not in tokenizer(sentence)["input_ids"], sentence
    assert tokenizer.unk_token_id in tokenizer("Sentiment classification: It is gorgeous.")["input_ids"]


@pytest.mark.slow
def test_a_corpus_without_signal_is_grounded_nowhere(tmp_path):
    raw, store, ckpt, out = tmp_path / "raw_data", tmp_path / "store", tmp_path / "ckpt", tmp_path / "results"
    write_corpus(raw, 2, 2, SIZES, seed=3, signal_to_noise=None, style="short")
    prepare(raw, store, labels=raw / LABELS_FILE, console=Console(file=io.StringIO()))
    assert len(open_store(store).records.query("phase == 'test'")) >= 20
    with redirect_stdout(io.StringIO()):
        assert tiny_t5.main(["--out", str(ckpt / "tiny-t5"), "--pretrain_on", str(store), "--steps", "100"]) == 0
        assert train_in_process("--config", str(ROOT / "configs" / "demo.yaml"), "--data.data_dir", str(store),
                                "--model.text_model_id", str(ckpt / "tiny-t5"), "--out_dir", str(ckpt),
                                "--max_epochs", "3", "--progress", "false") == 0
        assert load_script("test.py").main(["--ckpt", str(ckpt / "last.ckpt"), "--data_dir", str(store),
                                            "--out", str(out), "--max_length", "40", "--controls", "noise,shuffled",
                                            "--report", "false", "--progress", "false", "--bootstrap", "200"]) == 0
    verdicts = json.loads((out / "metrics.json").read_text())["grounding"]
    assert {family: v["tested"] for family, v in verdicts.items()} == dict.fromkeys(
        ("generation", "retrieval", "classification"), True)
    assert not [family for family, v in verdicts.items() if v["grounded"]]
