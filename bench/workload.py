"""The workload of the training-step benchmarks: the paper's model configuration and synthetic
batches drawn as the original sampler draws them, over ZuCo-like EEG lengths and sentences."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import yaml

from data.sampler import DistinctUidBatchSampler
from data.prompts import INPUT_PREFIX
from data.synthetic.random_store import WORDS

ROOT = Path(__file__).resolve().parents[1]
SAMPLING_RATE = 128


def paper_hparams() -> dict:
    """The model section of configs/glim_zuco.yaml without the text model."""
    hp = yaml.safe_load((ROOT / "configs/glim_zuco.yaml").read_text())["model"]
    hp.pop("text_model_id")
    return hp


def zuco_lengths(rng: np.random.Generator, n: int) -> np.ndarray:
    """EEG lengths like ZuCo's: log-normal around 4.4 s (sigma 0.55), cut to 0.5-10 s, in steps at
    128 Hz (64..1280): mean ~630 steps, longest of 12 ~1170 on average, as measured on ZuCo."""
    seconds = np.exp(rng.normal(np.log(4.4), 0.55, n)).clip(0.5, 10.0)
    return (seconds * SAMPLING_RATE).astype(int)


def zuco_sentence(rng: np.random.Generator) -> str:
    """A sentence of 10-30 words (ZuCo's are 20 words on average)."""
    return " ".join(rng.choice(WORDS, size=int(rng.integers(10, 31)))).capitalize() + "."


class Pool:
    """Samples (uid, length, texts) of a synthetic train split: ``n_texts`` texts x 8 variants."""

    def __init__(self, n_texts: int, seed: int = 0, max_len: int = 1280):
        rng = np.random.default_rng(seed)
        self.uids = np.repeat(np.arange(n_texts), 8)  # (n,)
        self.lengths = np.repeat(zuco_lengths(rng, n_texts).clip(1, max_len), 8)  # (n,) one record per text
        self.max_len = max_len
        self.texts = [zuco_sentence(rng) for _ in range(n_texts)]
        self.targets = [[zuco_sentence(rng) for _ in range(8)] for _ in range(n_texts)]

    def batches(self, batch: int, seed: int = 0) -> list[list[int]]:
        """The original sampler's batches of epoch 0."""
        return list(DistinctUidBatchSampler(self.uids, batch, shuffle=True, seed=seed))

    def input_texts(self) -> list[str]:
        """Every input text of the pool (what the text cache holds after the first epoch)."""
        return [INPUT_PREFIX + t for t in self.texts]

    def batch(self, idx: list[int], full_length: bool, seed: int) -> dict:
        """A collated batch; ``full_length`` pads every EEG to ``max_len`` steps instead of the longest."""
        lengths = self.lengths[idx]
        width = self.max_len if full_length else int(lengths.max())
        g = torch.Generator().manual_seed(seed)
        mask = torch.arange(width)[None] < torch.as_tensor(lengths)[:, None]  # (n, l)
        return {"eeg": torch.randn(len(idx), width, 128, generator=g) * mask[..., None], "mask": mask,
                "eeg_len": [int(x) for x in lengths],
                "prompt_ids": torch.tensor([[1, 0, 0]] * len(idx)),
                "model_input_text": [INPUT_PREFIX + self.texts[self.uids[i]] for i in idx],
                "target_text": [self.targets[self.uids[i]][i % 8] for i in idx]}

    def collated(self, batches: list[list[int]], full_length: bool) -> list[dict]:
        return [self.batch(idx, full_length, seed=k) for k, idx in enumerate(batches)]
