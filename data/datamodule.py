"""LightningDataModule over a processed store: datasets per phase, the original's distinct-uid
batches per rank (docs/protocol.md §batches)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
from torch.utils.data import DataLoader

from data.config import DataConfig
from data.dataset import GLIMDataset
from data.loader import distinct_text_loader
from data.store import Store, StoreError, open_store


class GLIMDataModule(L.LightningDataModule):
    """Train and val loaders with the original's batch sampler (``data.sampler``): train batches
    shuffled per epoch, val batches in store order, the items the sampler leaves out dropped
    (``data.loader``). Batch sizes are ``batch_size`` (train) and ``val_batch_size``; ranks come
    from the trainer.

    Train-on-noise (``train.py --data.noise_input true``): every phase reads standard-normal noise
    in place of the EEG, the noise of the noise-input test control (``GLIMDataset``: one array per
    record, seeded by ``(seed, record)``), so the same in every epoch and for all 8 variants. Fixed
    rather than fresh per epoch: the EEG-trained model also sees one fixed input per record, so the
    noise-trained model gets the same chance to memorise its training records, and what separates
    the two on the test split is the information the EEG carries (``python -m evaluation.compare``).

    Departures from the original, off by default: ``length_grouping`` makes train batches of
    samples of similar EEG length (less padding, but other samples share a batch);
    ``keep_leftover`` puts every val record in a batch (the leftover in last, smaller batches).

    Options: the fields of ``data.config.DataConfig`` (documented there), as keywords.
    """

    def __init__(self, **options: Any):
        super().__init__()
        cfg = DataConfig(**options)
        self.data_dir = Path(cfg.data_dir)
        self.verify_store = cfg.verify_store
        self.batch_size, self.val_batch_size = cfg.batch_size, cfg.val_batch_size
        self.num_workers, self.seed, self.sampler_seed = cfg.num_workers, cfg.seed, cfg.sampler_seed
        self.noise_input, self.pin_memory = cfg.noise_input, cfg.pin_memory
        self.length_grouping, self.keep_leftover = cfg.length_grouping, cfg.keep_leftover
        self.datasets: dict[str, GLIMDataset] = {}

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        store = open_store(self.data_dir, verify="eeg" if self.verify_store else "metadata")
        for phase in ("train", "val", "test"):
            self.datasets[phase] = self.make_dataset(store, phase)
            if len(self.datasets[phase]) == 0 and (phase == "train" and stage == "fit"):
                raise StoreError(f"{self.data_dir} holds no {phase} samples")

    def make_dataset(self, store: Store, phase: str) -> GLIMDataset:
        """The dataset of ``phase`` (a subclass may read other inputs of the same records)."""
        return GLIMDataset(store, phase, noise_input=self.noise_input, noise_seed=self.seed)

    def _loader(self, phase: str) -> DataLoader:
        """The loader of ``phase`` for this process's rank."""
        ds = self.datasets[phase]
        train = phase == "train"
        trainer = self.trainer
        group = train and self.length_grouping and not self.noise_input
        return distinct_text_loader(
            ds, self.batch_size if train else self.val_batch_size, shuffle=train, seed=self.sampler_seed,
            num_replicas=trainer.world_size if trainer else 1, rank=trainer.global_rank if trainer else 0,
            keep_leftover=self.keep_leftover and not train, lengths=ds.lengths if group else None,
            num_workers=self.num_workers, pin_memory=self.pin_memory, persistent_workers=self.num_workers > 0)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train")

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")
