"""Store format, dataset expansion, collate and the distinct-uid batch sampler (docs/protocol.md §batches)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from data.dataset import GLIMDataset, collate
from data.prompts import SUBJECT_VOCAB, prompt_ids
from data.sampler import DistinctUidBatchSampler, distinct_uid_batches
from data.store import VARIANT_COLUMNS, StoreError, StoreWriter, open_store
from data.synthetic.random_store import write_random_store


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory):
    return write_random_store(tmp_path_factory.mktemp("store") / "zuco", n_sentences=12, n_subjects=2)


def test_store_round_trip_is_memory_mapped(store_dir):
    store = open_store(store_dir)
    assert isinstance(store.eeg, np.memmap) and store.eeg.shape == (48, 1280, 128)
    lens = store.records["eeg_len"].to_numpy()
    assert np.all(store.eeg[0, lens[0]:] == 0) and np.all(store.eeg[:, :, 104:] == 0)
    assert store.eeg[0, : lens[0], :104].std() > 0.5
    assert not list(store_dir.parent.glob("*.partial"))


def test_store_errors(tmp_path, store_dir):
    with pytest.raises(StoreError, match="not found"):
        open_store(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(StoreError, match="no store.json"):
        open_store(tmp_path / "empty")
    old = tmp_path / "old"
    write_random_store(old, 3, 1)
    meta = json.loads((old / "store.json").read_text())
    (old / "store.json").write_text(json.dumps({**meta, "version": 0}))
    with pytest.raises(StoreError, match="version 0"):
        open_store(old)


def test_interrupted_writer_leaves_no_store(tmp_path):
    with pytest.raises(RuntimeError):
        with StoreWriter(tmp_path / "s") as w:
            w.append(np.ones((300, 104)), {"subject": "ZAB"})
            raise RuntimeError("killed")
    assert not (tmp_path / "s").exists() and not (tmp_path / "s.partial").exists()


def test_prompt_vocabularies():
    assert len(SUBJECT_VOCAB) == 31
    assert prompt_ids("task3", "ZuCo2", "YTL") == (2, 2, 30)
    assert prompt_ids("task1", "ZuCo1", "ZAB") == (1, 1, 1)
    assert prompt_ids("task2", "ZuCo3", "YMH") == (1, 0, 0)


def test_train_expands_variants_eval_keeps_references(store_dir):
    store = open_store(store_dir)
    train, test = GLIMDataset(store, "train"), GLIMDataset(store, "test")
    n_train = int((store.records["phase"] == "train").sum())
    assert len(train) == 8 * n_train and len(test) == int((store.records["phase"] == "test").sum())
    targets = [train[v * n_train]["target_text"] for v in range(8)]  # variant-major
    assert targets == [train.records.iloc[0][c] for c in VARIANT_COLUMNS]
    item = test[0]
    assert item["target_text"] == item["raw_text"] and len(item["references"]) == 8
    assert item["model_input_text"] == "To English: " + item["raw_text"]
    assert item["eeg"].shape == (1280, 128) and item["eeg"].dtype == torch.float32


def test_collate_trims_common_padding_and_masks(store_dir):
    ds = GLIMDataset(open_store(store_dir), "val")
    items = [ds[i] for i in range(3)]
    batch = collate(items)
    length = max(it["eeg_len"] for it in items)
    assert batch["eeg"].shape == (3, length, 128)
    assert batch["mask"].sum(1).tolist() == [it["eeg_len"] for it in items]


def test_noise_input_is_seeded_standard_normal(store_dir):
    a, b = GLIMDataset(store_dir, "test", noise_input=True), GLIMDataset(store_dir, "test", noise_input=True)
    x = a[0]["eeg"]
    assert torch.equal(x, b[0]["eeg"]) and a[0]["eeg_len"] == 1280
    assert abs(float(x.mean())) < 0.02 and abs(float(x.std()) - 1) < 0.02


@settings(max_examples=60, deadline=None)
@given(uids=st.lists(st.integers(0, 12), min_size=0, max_size=200), bsz=st.integers(1, 10),
       drop_last=st.booleans(), seed=st.integers(0, 5))
def test_batches_hold_distinct_uids_and_cover_samples(uids, bsz, drop_last, seed):
    order = np.random.default_rng(seed).permutation(len(uids)).tolist()
    batches = distinct_uid_batches(uids, bsz, order, drop_last)
    flat = [i for b in batches for i in b]
    assert len(flat) == len(set(flat))
    assert all(len({uids[i] for i in b}) == len(b) <= bsz for b in batches)
    if drop_last:
        assert all(len(b) == bsz for b in batches)
    else:
        assert sorted(flat) == list(range(len(uids)))


def test_sampler_ranks_take_disjoint_interleaved_batches():
    uids = np.tile(np.arange(40), 8)
    full = list(DistinctUidBatchSampler(uids, 6, shuffle=True, seed=1))
    ranks = [list(DistinctUidBatchSampler(uids, 6, True, seed=1, num_replicas=3, rank=r)) for r in range(3)]
    assert len({len(r) for r in ranks}) == 1 and len(ranks[0]) == len(full) // 3
    for r in range(3):
        assert ranks[r] == full[: 3 * len(ranks[0])][r::3]
    seen = [i for r in ranks for b in r for i in b]
    assert len(seen) == len(set(seen))


def test_sampler_reshuffles_per_epoch_reproducibly():
    uids = np.arange(100) % 30
    s = DistinctUidBatchSampler(uids, 10, shuffle=True, seed=3)
    e0 = list(s)
    s.set_epoch(1)
    e1 = list(s)
    s.set_epoch(0)
    assert e0 != e1 and list(s) == e0
    s.set_epoch(1)
    assert list(DistinctUidBatchSampler(uids, 10, shuffle=True, seed=4)) == e1  # epoch e draws seed + e
    assert list(DistinctUidBatchSampler(uids, 10, shuffle=False))[0] == list(range(10))


def test_datamodule_sampler_seeds_and_leftover(store_dir):
    from data.datamodule import GLIMDataModule

    dm = GLIMDataModule(data_dir=store_dir, batch_size=4, val_batch_size=3, seed=7)
    dm.setup("fit")
    train, val = dm.datasets["train"], dm.datasets["val"]
    assert train.noise_seed == val.noise_seed == 7  # seed: the noise-input seed, not the sampler's
    assert list(dm.train_dataloader().batch_sampler) == list(DistinctUidBatchSampler(train.uids, 4, True, seed=0))
    other = GLIMDataModule(data_dir=store_dir, batch_size=4, sampler_seed=1)
    other.setup("fit")
    assert list(other.train_dataloader().batch_sampler) != list(dm.train_dataloader().batch_sampler)
    dropped = dm.val_dataloader().batch_sampler
    assert len(dropped) > 0 and all(len(b) == 3 for b in dropped) and dropped.leftover()
    kept = GLIMDataModule(data_dir=store_dir, val_batch_size=3, keep_leftover=True)
    kept.setup("fit")
    batches = list(kept.val_dataloader().batch_sampler)
    assert sorted(i for b in batches for i in b) == list(range(len(val)))
    assert all(len(set(val.uids[b])) == len(b) for b in batches)


def test_row_reader_equals_memory_map_and_reports_truncation(store_dir, tmp_path):
    from data.store import RowReader

    store = open_store(store_dir)
    reader = RowReader(store_dir / "eeg.npy")
    assert len(reader) == len(store)
    for i in (0, 7, len(store) - 1):
        assert np.array_equal(reader[i], store.eeg[i])
    cut = tmp_path / "eeg.npy"
    cut.write_bytes((store_dir / "eeg.npy").read_bytes()[:-100])
    with pytest.raises(StoreError, match="truncated"):
        RowReader(cut)[len(store) - 1]
