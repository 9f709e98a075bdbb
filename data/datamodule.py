"""LightningDataModule over a processed store: datasets per phase, distinct-uid batches per rank."""
from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
from torch.utils.data import DataLoader

from .dataset import GLIMDataset, collate
from .sampler import DistinctUidBatchSampler
from .store import open_store


class GLIMDataModule(L.LightningDataModule):
    """Train batches: shuffled per epoch (``seed + epoch``), incomplete ones dropped. Val/test
    batches: in store order, every sample kept. Batch sizes default to the model's
    ``bsz_train``/``bsz_val`` (train.py passes them). ``length_grouping`` makes train batches
    of samples of similar EEG length (less padding, same invariants; see ``data.sampler``)."""

    def __init__(self, data_dir: str | Path = "data/processed/zuco", bsz_train: int = 72,
                 bsz_val: int = 24, num_workers: int = 0, seed: int = 42, noise_input: bool = False,
                 pin_memory: bool = False, length_grouping: bool = False):
        super().__init__()
        self.data_dir = Path(data_dir)
        self.bsz_train, self.bsz_val = bsz_train, bsz_val
        self.num_workers, self.seed = num_workers, seed
        self.noise_input, self.pin_memory = noise_input, pin_memory
        self.length_grouping = length_grouping
        self.datasets: dict[str, GLIMDataset] = {}

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        store = open_store(self.data_dir)
        for phase in ("train", "val", "test"):
            self.datasets[phase] = GLIMDataset(store, phase, noise_input=self.noise_input)
            if len(self.datasets[phase]) == 0 and (phase == "train" and stage == "fit"):
                raise ValueError(f"{self.data_dir} holds no {phase} samples")

    def _loader(self, phase: str) -> DataLoader:
        ds = self.datasets[phase]
        train = phase == "train"
        trainer = self.trainer
        group = train and self.length_grouping and not self.noise_input
        sampler = DistinctUidBatchSampler(
            ds.uids, self.bsz_train if train else self.bsz_val, shuffle=train, drop_last=train,
            seed=self.seed, num_replicas=trainer.world_size if trainer else 1,
            rank=trainer.global_rank if trainer else 0,
            lengths=np.repeat(ds.eeg_len, ds.n_variants) if group else None)  # (n_samples,)
        return DataLoader(ds, batch_sampler=sampler, collate_fn=collate, num_workers=self.num_workers,
                          pin_memory=self.pin_memory, persistent_workers=self.num_workers > 0)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train")

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")

    def predict_dataloader(self) -> DataLoader:
        return self._loader("test")
