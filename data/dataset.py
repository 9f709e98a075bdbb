"""GLIM samples from a processed store (docs/protocol.md §batches)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from data.prompts import INPUT_PREFIX, prompt_ids
from data.store import VARIANT_COLUMNS, RowReader, Store, StoreError, open_store

META_COLUMNS = ("dataset", "task", "subject", "raw label", "sentiment label", "relation label")


class GLIMDataset(Dataset):
    """Samples of one phase. ``train`` expands every record over the 8 target variants (the
    variant is the target), variant-major as in the original: with R records (store order),
    sample i is variant i // R of record i % R. ``val``/``test`` keep one sample per record, the
    raw sentence as the target and the 8 variants as references. EEG rows are read from the memory-mapped store on
    access (``RowReader``: plain reads, no memory map, so the resident memory of a training
    process does not grow with the store); ``noise_input`` replaces them by standard-normal noise (seeded per record, mask all
    ones) for the noise control."""

    def __init__(self, store: Store | str | Path, phase: str, expand_variants: bool | None = None,
                 noise_input: bool = False, noise_seed: int = 42):
        store = store if isinstance(store, Store) else open_store(store)
        self.path = store.path
        self.phase = phase
        self.expand = phase == "train" if expand_variants is None else expand_variants
        self.noise_input, self.noise_seed = noise_input, noise_seed
        recs = store.records
        self.rows = np.flatnonzero((recs["phase"] == phase).to_numpy())  # record indices
        self.records = recs.iloc[self.rows].reset_index(drop=True)
        missing = [c for c in VARIANT_COLUMNS if c not in self.records.columns]
        if missing:
            raise StoreError(f"{store.path}: records lack the target variant columns {missing}")
        self.n_variants = len(VARIANT_COLUMNS) if self.expand else 1
        self.eeg_len = self.records["eeg_len"].to_numpy()
        self.uids_per_record = self.records["text uid"].to_numpy()
        self.prompts = np.array([prompt_ids(t, d, s) for t, d, s in
                                 self.records[["task", "dataset", "subject"]].itertuples(index=False)],
                                dtype=np.int64).reshape(-1, 3)
        self._eeg = RowReader(self.path / "eeg.npy")

    @property
    def uids(self) -> np.ndarray:
        """Text uid of every sample (index order)."""
        return np.tile(self.uids_per_record, self.n_variants)  # (n_samples,)

    @property
    def lengths(self) -> np.ndarray:
        """EEG length of every sample's record (index order)."""
        return np.tile(self.eeg_len, self.n_variants)  # (n_samples,)

    def __len__(self) -> int:
        return len(self.records) * self.n_variants

    def _eeg_row(self, j: int) -> tuple[np.ndarray, int]:
        if self.noise_input:
            rng = np.random.default_rng((self.noise_seed, int(self.rows[j])))
            shape = self._eeg.shape[1:]
            return rng.standard_normal(shape, dtype=np.float32), shape[0]
        return self._eeg[self.rows[j]], int(self.eeg_len[j])

    def __getitem__(self, i: int) -> dict[str, Any]:
        v, j = divmod(i, len(self.records))  # variant-major: (variant, record)
        rec = self.records.iloc[j]
        eeg, length = self._eeg_row(j)
        references = [str(rec[c]) for c in VARIANT_COLUMNS]
        return {
            "eeg": torch.from_numpy(eeg),  # (l, c)
            "eeg_len": length,
            "prompt_ids": torch.from_numpy(self.prompts[j]),  # (3,)
            "model_input_text": INPUT_PREFIX + str(rec["input text"]),  # what the text encoder reads
            "target_text": references[v] if self.expand else str(rec["input text"]),
            "raw_text": str(rec["input text"]),
            "references": references,
            "text_uid": int(rec["text uid"]),
            "record": int(self.rows[j]),
            "sample": i,
            **{k: ("" if rec.get(k) is None else str(rec.get(k))) for k in META_COLUMNS},
        }


def collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack tensors, cut the trailing padding common to the batch, keep strings as lists.
    ``eeg_len`` stays a list of host ints, so that the model can skip each sample's padding
    without reading the mask back from an accelerator."""
    length = max(it["eeg_len"] for it in items)
    batch: dict[str, Any] = {
        "eeg": torch.stack([it["eeg"][:length] for it in items]),  # (n, l, c)
        "mask": torch.arange(length)[None] < torch.tensor([it["eeg_len"] for it in items])[:, None],
        "prompt_ids": torch.stack([it["prompt_ids"] for it in items]),  # (n, 3)
        "text_uid": torch.tensor([it["text_uid"] for it in items]),
        "record": torch.tensor([it["record"] for it in items]),
        "sample": torch.tensor([it["sample"] for it in items]),
    }
    for key in items[0]:
        if key not in batch:
            batch[key] = [int(it[key]) if key == "eeg_len" else it[key] for it in items]
    return batch
