"""Control conditions: the datasets of the EEG run with the EEG or the prompt taken away.

- ``noise``: every EEG replaced by standard-normal noise (seed 42), mask all ones (docs/protocol.md §batches).
- ``prompt-free``: every prompt id 0 (``<UNK>`` for task, dataset and subject).
- ``shuffled``: each sample reads the EEG (and mask) of another sample with a different text,
  by a fixed seeded derangement; its own text, prompts and labels are kept.

A control dataset has the same samples in the same order as the EEG dataset, so rows pair up
(``evaluation.grounding`` compares them).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from data.dataset import GLIMDataset
from evaluation.stats import derangement_by_group

PROMPT_MODE = {"prompt-free": "zero"}  # evaluation prompt mode a control forces


class ControlDataset(Dataset):
    """The samples of ``base`` (same uids, same order), altered by ``__getitem__``."""

    def __init__(self, base: Dataset):
        self.base = base

    @property
    def uids(self) -> np.ndarray:
        return self.base.uids

    def __len__(self) -> int:
        return len(self.base)


class PromptFree(ControlDataset):
    """The samples of ``base`` with every prompt id set to 0."""

    def __getitem__(self, i: int) -> dict[str, Any]:
        item = self.base[i]
        return {**item, "prompt_ids": torch.zeros_like(item["prompt_ids"])}


class ShuffledEEG(ControlDataset):
    """The samples of ``base``, sample i reading the EEG of sample ``partner[i]`` (another text)."""

    def __init__(self, base: Dataset, seed: int = 42):
        super().__init__(base)
        self.partner = derangement_by_group(np.asarray(base.uids), seed)

    def __getitem__(self, i: int) -> dict[str, Any]:
        item, other = self.base[i], self.base[int(self.partner[i])]
        return {**item, "eeg": other["eeg"], "eeg_len": other["eeg_len"], "eeg_record": other["record"]}


def control_dataset(name: str, store, phase: str, seed: int = 42) -> Dataset:
    """The dataset of a control (or of the EEG run for ``name='eeg'``)."""
    if name == "noise":
        return GLIMDataset(store, phase, noise_input=True)
    base = GLIMDataset(store, phase)
    if name in ("eeg", None):
        return base
    if name == "prompt-free":
        return PromptFree(base)
    if name == "shuffled":
        return ShuffledEEG(base, seed)
    raise ValueError(f"unknown control {name!r}")
