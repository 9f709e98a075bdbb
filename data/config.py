"""The data module's typed options (``--data.*``). Light on purpose (no torch): the command lines
parse and check them before anything heavy is imported."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from infra.errors import OptionError


@dataclass
class DataConfig:
    """Options of ``data.datamodule.GLIMDataModule``. The batch sizes are saved in checkpoints
    under the published checkpoint's names ``bsz_train`` and ``bsz_val`` (``model.config.RUN_SETTINGS``).

    Seeds: ``sampler_seed`` seeds the train order (epoch e draws with ``sampler_seed + e``; the
    original's is 0, whatever the run's ``--seed``); ``seed`` seeds the noise that replaces the
    EEG under ``noise_input``. Neither is the run's seed (train.py's ``--seed``).

    Args:
        data_dir: the processed store (written by ``python -m data.prepare``).
        batch_size: train batch size per device (samples of distinct sentences).
        val_batch_size: val batch size (distinct sentences per batch), also test.py's default.
        num_workers: data loader worker processes.
        seed: seed of the noise that replaces the EEG under noise_input.
        noise_input: train and validate on standard-normal noise instead of the EEG (train-on-noise).
        pin_memory: pinned host memory for faster copies to the GPU.
        length_grouping: batches of similar EEG length (a departure from the original's batches).
        keep_leftover: every val record in a batch (a departure from the original's protocol).
        sampler_seed: seed of the train batch order (the original's: 0).
        verify_store: check every EEG row against the store's checksums on setup (the metadata,
            sizes and the records checksum, are always checked).
    """

    data_dir: str | Path = "data/processed/zuco"
    batch_size: int = 72
    val_batch_size: int = 24
    num_workers: int = 0
    seed: int = 42
    noise_input: bool = False
    pin_memory: bool = False
    length_grouping: bool = False
    keep_leftover: bool = False
    sampler_seed: int = 0
    verify_store: bool = False

    def __post_init__(self) -> None:
        for name in ("batch_size", "val_batch_size"):
            if getattr(self, name) < 1:
                raise OptionError(f"data.{name} must be at least 1, not {getattr(self, name)}")
        if self.num_workers < 0:
            raise OptionError(f"data.num_workers must be 0 or more, not {self.num_workers}")
