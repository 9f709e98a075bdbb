"""The batch sampler against the original's batches (reference/parity/sampler.json, docs/protocol.md §batches), and
the variant-major train dataset the original's sampler is run on."""
from __future__ import annotations

import json

import numpy as np
import pytest

from data.dataset import GLIMDataset
from data.sampler import DistinctUidBatchSampler, greedy_batches
from data.store import VARIANT_COLUMNS, open_store
from data.synthetic.random_store import write_random_store
from tests.paths import SHARED  # noqa: E402

GOLDEN = SHARED / "reference" / "parity" / "sampler.json"


@pytest.fixture(scope="module")
def cases() -> dict:
    if not GOLDEN.is_file():
        pytest.skip(f"{GOLDEN} is absent")
    return json.loads(GOLDEN.read_text())


def sampler_for(case: dict, rank: int) -> DistinctUidBatchSampler:
    replicas = case["num_replicas"] or 1
    return DistinctUidBatchSampler(case["dataset_uids"], case["batch_size"], shuffle=case["phase"] == "train",
                                   num_replicas=replicas, rank=rank)


@pytest.mark.parametrize("name", ["a", "b", "c", "d", "e"])
def test_batches_equal_the_originals(cases, name):
    case = cases[name]
    assert case["epochs"], "a case without epochs checks nothing"
    for rank in case["ranks"]:
        sampler = sampler_for(case, rank)
        assert len(sampler) == case["len"]
        for epoch, golden in case["epochs"].items():
            sampler.set_epoch(int(epoch))
            assert list(sampler) == golden["batches"][str(rank)], f"epoch {epoch}, rank {rank}"
            assert len(sampler) == case["len"]


@pytest.mark.parametrize("name", ["a", "c", "d"])
def test_greedy_counts_and_leftover_equal_the_originals(cases, name):
    case = cases[name]
    uids, bsz, n = case["dataset_uids"], case["batch_size"], len(case["dataset_uids"])
    sampler = sampler_for(case, 0)
    counts = [len(sampler.greedy_pass(seed)[0]) for seed in range(len(case["greedy_counts_seeds_0_9"]))]
    assert counts == case["greedy_counts_seeds_0_9"]
    for epoch, golden in case["epochs"].items():
        sampler.set_epoch(int(epoch))
        batches, rest = sampler.greedy_pass(int(epoch))
        assert len(batches) == golden["greedy_batch_count"]
        assert len(rest) == golden["indices_in_no_greedy_batch"]
        assert sorted(rest + [i for b in batches for i in b]) == list(range(n))
        cut = golden["truncated_by"]
        dropped = {i for b in batches[len(batches) - cut:] for i in b} if cut else set()
        assert sampler.leftover() == sorted(set(rest) | dropped)
        assert all(len(b) == bsz and len({uids[i] for i in b}) == bsz for b in batches)


def test_keep_leftover_puts_every_item_in_one_batch_after_the_originals(cases):
    case = cases["c"]
    uids, bsz = case["dataset_uids"], case["batch_size"]
    plain = list(sampler_for(case, 0))
    full = DistinctUidBatchSampler(uids, bsz, shuffle=False, keep_leftover=True)
    batches = list(full)
    assert batches[: len(plain)] == plain and len(batches) > len(plain) and len(full) == len(batches)
    assert sorted(i for b in batches for i in b) == list(range(len(uids)))
    assert all(0 < len(b) <= bsz and len({uids[i] for i in b}) == len(b) for b in batches)
    assert full.leftover() == []
    ranks = [list(DistinctUidBatchSampler(uids, bsz, False, num_replicas=2, rank=r, keep_leftover=True))
             for r in range(2)]
    assert ranks == [batches[0::2], batches[1::2]]


def test_greedy_walks_again_set_aside_then_open_batch_while_enough_uids():
    # walk 1 emits [0, 2, 4], sets 1 and 3 aside, leaves 5 and 6 open; walk 2 runs on [1, 3, 5, 6]
    assert greedy_batches([0, 0, 1, 1, 2, 3, 0], 3, range(7)) == ([[0, 2, 4], [1, 3, 5]], [6])
    # [1, 2] holds one uid, fewer than the batch size: no further walk
    assert greedy_batches([0, 0, 0, 1, 1, 2], 2, range(6)) == ([[0, 3], [4, 5]], [1, 2])


def test_train_dataset_is_variant_major(tmp_path):
    store = open_store(write_random_store(tmp_path / "store", n_sentences=6, n_subjects=2))
    train, val = GLIMDataset(store, "train"), GLIMDataset(store, "val")
    n = len(train.records)
    assert n > 1 and len(train) == len(VARIANT_COLUMNS) * n
    for i in range(len(train)):
        item, record = train[i], train.records.iloc[i % n]
        assert item["record"] == int(train.rows[i % n]) and item["sample"] == i
        assert item["target_text"] == record[VARIANT_COLUMNS[i // n]]
        assert item["text_uid"] == train.uids[i] == record["text uid"]
    assert np.array_equal(train.uids, np.tile(train.uids_per_record, len(VARIANT_COLUMNS)))
    assert np.array_equal(train.lengths, np.tile(train.eeg_len, len(VARIANT_COLUMNS)))
    assert len(val) == len(val.records) and np.array_equal(val.uids, val.records["text uid"].to_numpy())
