"""The samples of the BrainTranslator baseline: GLIM's samples (``data.dataset``) with the record's
word-level EEG vectors in place of its sentence EEG."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from data.dataset import GLIMDataset
from data.store import Store, open_store
from data.word_store import NO_WORD_FEATURES


class WordFeatureDataset(GLIMDataset):
    """GLIM's samples of one phase, reading word vectors instead of the sentence EEG.

    Same records, order, text uids, split, targets, references and record fields as
    ``GLIMDataset`` (so the sampler cuts the same batches and the samples pair up with GLIM's);
    ``eeg`` is the record's word vectors padded to ``max_words`` (max_words, dim) and ``eeg_len``
    its word count, so that ``data.dataset.collate`` gives ``eeg`` (n, w, dim) and ``mask`` (n, w).
    A record without a fixated word reads one zero vector (``n_words`` says 0). ``noise_input``
    reads ``max_words`` standard-normal vectors instead, all unmasked, seeded per record as GLIM's
    noise. ``expand_variants`` defaults to False: the published target is the sentence.
    """

    def __init__(self, store: Store | str | Path, phase: str, expand_variants: bool = False,
                 noise_input: bool = False, noise_seed: int = 42, max_words: int = 56):
        store = store if isinstance(store, Store) else open_store(store)
        if store.words is None:
            raise ValueError(NO_WORD_FEATURES.format(path=store.path))
        super().__init__(store, phase, expand_variants, noise_input, noise_seed)
        self.words = store.words
        self.max_words = max_words
        self.n_words = np.minimum(self.words.counts()[self.rows], max_words)  # (records,)
        self.eeg_len = np.maximum(self.n_words, 1)

    def _eeg_row(self, j: int) -> tuple[np.ndarray, int]:
        shape = (self.max_words, self.words.dim)
        if self.noise_input:
            rng = np.random.default_rng((self.noise_seed, int(self.rows[j])))
            return rng.standard_normal(shape, dtype=np.float32), self.max_words
        padded = np.zeros(shape, np.float32)  # (max_words, dim)
        vectors = self.words[int(self.rows[j])][: self.max_words]  # (w, dim)
        padded[: len(vectors)] = vectors
        return padded, int(self.eeg_len[j])

    def __getitem__(self, i: int) -> dict[str, Any]:
        item = super().__getitem__(i)
        item["n_words"] = int(self.n_words[i % len(self.records)])
        return item
