"""Train-on-noise control: ``train.py --data.noise_input true`` trains on the seeded noise of the
noise-input test control (one fixed noise array per record, the same in every epoch and variant)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from data.synthetic.random_store import write_random_store
from train import build_parser
from training.fit import TrainData


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory):
    return write_random_store(tmp_path_factory.mktemp("store") / "zuco", n_sentences=12, n_subjects=2)


def test_train_on_noise_reads_the_seeded_noise_of_every_record(store_dir) -> None:
    cfg = build_parser().parse_args(["--data.data_dir", str(store_dir), "--data.noise_input", "true",
                                     "--data.batch_size", "4", "--data.val_batch_size", "3"])
    data = TrainData(**vars(cfg.data))
    data.setup("fit")
    train = data.datasets["train"]
    n_records = len(train.records)
    item, same_record = train[0], train[n_records]  # variant 0 and variant 1 of the first record
    expected = np.random.default_rng((cfg.data.seed, item["record"])).standard_normal((1280, 128), dtype=np.float32)
    assert torch.equal(item["eeg"], torch.from_numpy(expected)) and item["eeg_len"] == 1280
    assert torch.equal(same_record["eeg"], item["eeg"])  # every variant of a record reads its noise
    assert torch.equal(train[0]["eeg"], item["eeg"])  # and every epoch
    assert not torch.equal(train[1]["eeg"], item["eeg"])  # other records, other noise
    assert data.datasets["val"].noise_input and data.datasets["test"].noise_input


def test_training_on_eeg_is_the_default(store_dir) -> None:
    cfg = build_parser().parse_args(["--data.data_dir", str(store_dir), "--data.batch_size", "4",
                                     "--data.val_batch_size", "3"])
    data = TrainData(**vars(cfg.data))
    data.setup("fit")
    assert not data.datasets["train"].noise_input
    assert data.datasets["train"][0]["eeg_len"] < 1280
