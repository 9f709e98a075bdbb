"""A random store for tests and benchmarks: random EEG for a few distinct sentences of random
words, read by ZuCo1 and ZuCo2 subjects, dealt round-robin to the phases. Not ZuCo-like beyond its
format (the demo's corpus is ``data.synthetic.corpus``)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from data.prompts import ZUCO1_SUBJECTS, ZUCO2_SUBJECTS
from data.store import LABEL_COLUMNS, VARIANT_COLUMNS, StoreWriter

WORDS = ("film", "story", "actor", "great", "dull", "born", "married", "founded", "studied",
         "award", "city", "river", "music", "long", "short", "bright", "quiet", "house", "war", "peace")


def sentence(rng: np.random.Generator) -> str:
    """3 to 6 random words, capitalised, with a full stop."""
    return " ".join(rng.choice(WORDS, size=rng.integers(3, 7))).capitalize() + "."


def write_random_store(path: Path, n_sentences: int = 12, n_subjects: int = 2, seed: int = 0,
                       phases: tuple[str, ...] = ("train", "val", "test"), word_features: bool = False) -> Path:
    """A store of random EEG for ``n_sentences`` distinct texts read by ``n_subjects`` subjects,
    the sentences dealt round-robin to the phases; with ``word_features`` also one random
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
