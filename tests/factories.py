"""Small things the tests build themselves: a random store, a tiny text model, tiny GLIM configs."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from data.prompts import ZUCO1_SUBJECTS, ZUCO2_SUBJECTS
from data.store import LABEL_COLUMNS, VARIANT_COLUMNS, StoreWriter

WORDS = ("film", "story", "actor", "great", "dull", "born", "married", "founded", "studied",
         "award", "city", "river", "music", "long", "short", "bright", "quiet", "house", "war", "peace")

TINY_GLIM = dict(input_eeg_len=1280, hidden_eeg_len=8, input_text_len=32, tgt_text_len=24,
                 input_dim=128, hidden_dim=32, embed_dim=64, n_in_blocks=1, n_out_blocks=1,
                 num_heads=4, mlp_ratio=2, bsz_train=4, bsz_val=4)

TINY_BRAIN_TRANSLATOR = dict(word_dim=840, max_words=56, n_layers=1, num_heads=4, ff_dim=64, dropout=0.0,
                             tgt_text_len=64, stage1_epochs=1, stage1_lr=1e-3, stage1_lr_step=1, lr=1e-3,
                             lr_step=10, optimizer="adamw", bsz_train=4, bsz_val=4)
"""A BrainTranslator small enough for CPU tests (with ``text_model_id`` a tiny BART: ``model.bart``)."""


def sentence(rng: np.random.Generator) -> str:
    return " ".join(rng.choice(WORDS, size=rng.integers(3, 7))).capitalize() + "."


def write_random_store(path: Path, n_sentences: int = 12, n_subjects: int = 2, seed: int = 0,
                       phases: tuple[str, ...] = ("train", "val", "test"), word_features: bool = False) -> Path:
    """A store of random EEG for ``n_sentences`` distinct texts read by ``n_subjects`` subjects,
    the sentences dealt round-robin to the phases; with ``word_features`` also one random unit
    vector (840) per word of each sentence but the last (none for a one-word sentence)."""
    rng = np.random.default_rng(seed)
    texts = list(dict.fromkeys(sentence(rng) for _ in range(n_sentences * 3)))[:n_sentences]
    subjects = [*ZUCO1_SUBJECTS[: n_subjects], *ZUCO2_SUBJECTS[: n_subjects]]
    with StoreWriter(path, word_features={"measure": "GD"} if word_features else None) as w:
        for subject in subjects:
            dataset = "ZuCo1" if subject in ZUCO1_SUBJECTS else "ZuCo2"
            for uid, text in enumerate(texts):
                task = ("task1", "task2", "task3")[uid % 3]
                length = int(rng.integers(250, 1280))
                label = dict.fromkeys(LABEL_COLUMNS)
                label.update({"raw text": text, "input text": text, "dataset": dataset, "task": task,
                              "control": False, "text uid": uid, "raw label": None,
                              "sentiment label": "positive" if task == "task1" else None,
                              "relation label": "awarding" if task == "task3" else None})
                label.update({c: f"{text[:-1]} {k}." for k, c in enumerate(VARIANT_COLUMNS)})
                eeg = rng.standard_normal((length, 104)).astype(np.float32)
                words = rng.standard_normal((len(text.split()) - 1, 840)).astype(np.float32) if word_features else None
                w.append(eeg, {**label, "subject": subject, "phase": phases[uid % len(phases)]}, words)
    return path


def write_tiny_checkpoint(path: Path) -> Path:
    """A checkpoint of an untrained tiny GLIM (weights, hyper-parameters, epoch 0) at ``path``."""
    import torch

    from model.glim import GLIM

    model = GLIM(**{**TINY_GLIM, "text_model_id": "unused"})
    torch.save({"epoch": 0, "global_step": 0, "hyper_parameters": dict(model.hparams),
                "state_dict": model.state_dict()}, path)
    return path
