"""The data module of the BrainTranslator baseline: GLIM's (same store, split, sampler, batches,
options) over ``data.word_dataset.WordFeatureDataset``."""
from __future__ import annotations

from typing import Any

from data.datamodule import GLIMDataModule
from data.store import Store
from data.word_dataset import WordFeatureDataset


class WordDataModule(GLIMDataModule):
    """``GLIMDataModule`` reading word vectors. ``train_targets``: ``sentence`` (one train sample
    per record, the sentence as target, as published) or ``variants`` (GLIM's 8 per record);
    ``max_words``: word vectors per sample. Other options: those of ``GLIMDataModule`` (batch sizes
    by default the published 32 for training and GLIM's 24 for val and test)."""

    def __init__(self, train_targets: str = "sentence", max_words: int = 56, **options: Any):
        super().__init__(**{"batch_size": 32, "val_batch_size": 24, **options})
        if train_targets not in ("sentence", "variants"):
            raise ValueError(f"train_targets {train_targets!r}: expected sentence or variants")
        self.train_targets, self.max_words = train_targets, max_words

    def make_dataset(self, store: Store, phase: str) -> WordFeatureDataset:
        return WordFeatureDataset(store, phase, expand_variants=phase == "train" and self.train_targets == "variants",
                                  noise_input=self.noise_input, noise_seed=self.seed, max_words=self.max_words)
