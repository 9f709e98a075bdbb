"""LightningDataModule over a processed store: datasets per phase, the original's distinct-uid
batches per rank (SPEC §2)."""
from __future__ import annotations

from pathlib import Path

import lightning as L
from torch.utils.data import DataLoader

from data.dataset import GLIMDataset, collate
from data.sampler import DistinctUidBatchSampler
from data.store import open_store


class GLIMDataModule(L.LightningDataModule):
    """Train and val loaders with the original's batch sampler (``data.sampler``): train batches
    shuffled per epoch, val batches in store order, the items the sampler leaves out dropped.
    Batch sizes default to the model's ``bsz_train``/``bsz_val`` (train.py passes them); ranks
    come from the trainer.

    Seeds: ``sampler_seed`` seeds the train order (epoch e draws with ``sampler_seed + e``; the
    original's is 0, whatever the run's ``--seed``); ``seed`` seeds the noise that replaces the
    EEG under ``noise_input``. Neither is the run's seed (train.py's ``--seed``).

    Train-on-noise (``train.py --data.noise_input true``): every phase reads standard-normal noise
    in place of the EEG, the noise of the noise-input test control (``GLIMDataset``: one array per
    record, seeded by ``(seed, record)``), so the same in every epoch and for all 8 variants. Fixed
    rather than fresh per epoch: the EEG-trained model also sees one fixed input per record, so the
    noise-trained model gets the same chance to memorise its training records, and what separates
    the two on the test split is the information the EEG carries (``python -m evaluation.compare``).

    Departures from the original, off by default: ``length_grouping`` makes train batches of
    samples of similar EEG length (less padding, but other samples share a batch);
    ``keep_leftover`` puts every val record in a batch (the leftover in last, smaller batches).

    Args:
        data_dir: the processed store (written by ``python -m data.prepare``).
        bsz_train: train batch size per device (train.py takes the model's bsz_train).
        bsz_val: val batch size (train.py takes the model's bsz_val).
        num_workers: data loader worker processes.
        seed: seed of the noise that replaces the EEG under noise_input.
        noise_input: train and validate on standard-normal noise instead of the EEG (train-on-noise).
        pin_memory: pinned host memory for faster copies to the GPU.
        length_grouping: batches of similar EEG length (a departure from the original's batches).
        keep_leftover: every val record in a batch (a departure from the original's protocol).
        sampler_seed: seed of the train batch order (the original's: 0).
    """

    def __init__(self, data_dir: str | Path = "data/processed/zuco", bsz_train: int = 72,
                 bsz_val: int = 24, num_workers: int = 0, seed: int = 42, noise_input: bool = False,
                 pin_memory: bool = False, length_grouping: bool = False, keep_leftover: bool = False,
                 sampler_seed: int = 0, verify_store: bool = False):
        """``verify_store``: check every EEG row against the store's checksums on setup (the
        metadata, sizes and the records checksum, are always checked)."""
        super().__init__()
        self.data_dir = Path(data_dir)
        self.verify_store = verify_store
        self.bsz_train, self.bsz_val = bsz_train, bsz_val
        self.num_workers, self.seed, self.sampler_seed = num_workers, seed, sampler_seed
        self.noise_input, self.pin_memory = noise_input, pin_memory
        self.length_grouping, self.keep_leftover = length_grouping, keep_leftover
        self.datasets: dict[str, GLIMDataset] = {}

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        store = open_store(self.data_dir, verify="eeg" if self.verify_store else "metadata")
        for phase in ("train", "val", "test"):
            self.datasets[phase] = GLIMDataset(store, phase, noise_input=self.noise_input, noise_seed=self.seed)
            if len(self.datasets[phase]) == 0 and (phase == "train" and stage == "fit"):
                raise ValueError(f"{self.data_dir} holds no {phase} samples")

    def batch_sampler(self, phase: str) -> DistinctUidBatchSampler:
        """The batch sampler of ``phase`` for this process's rank."""
        ds = self.datasets[phase]
        train = phase == "train"
        trainer = self.trainer
        group = train and self.length_grouping and not self.noise_input
        return DistinctUidBatchSampler(
            ds.uids, self.bsz_train if train else self.bsz_val, shuffle=train, seed=self.sampler_seed,
            num_replicas=trainer.world_size if trainer else 1, rank=trainer.global_rank if trainer else 0,
            keep_leftover=self.keep_leftover and not train, lengths=ds.lengths if group else None)

    def _loader(self, phase: str) -> DataLoader:
        return DataLoader(self.datasets[phase], batch_sampler=self.batch_sampler(phase), collate_fn=collate,
                          num_workers=self.num_workers, pin_memory=self.pin_memory,
                          persistent_workers=self.num_workers > 0)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train")

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")
