"""The BrainTranslator's samples: GLIM's records, split, batches and targets, with word vectors."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from data.dataset import GLIMDataset, collate
from data.store import VARIANT_COLUMNS, StoreWriter, open_store
from data.word_datamodule import WordDataModule
from data.word_dataset import WordFeatureDataset
from data.synthetic.random_store import write_random_store


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory):
    return write_random_store(tmp_path_factory.mktemp("words") / "store", n_sentences=12, word_features=True)


def test_same_records_targets_and_uids_as_glim(store_dir):
    store = open_store(store_dir)
    for phase in ("train", "val", "test"):
        glim, words = GLIMDataset(store, phase), WordFeatureDataset(store, phase)
        assert words.rows.tolist() == glim.rows.tolist()
        if phase == "train":  # the published target: the sentence, one sample per record
            assert len(words) == len(glim) // 8 and words[0]["target_text"] == glim[0]["raw_text"]
        else:
            assert np.array_equal(words.uids, glim.uids)
            keys = ("target_text", "references", "text_uid", "record", "subject", "task")
            assert all(words[i][k] == glim[i][k] for i in range(len(glim)) for k in keys)
    assert len(WordFeatureDataset(store, "train", expand_variants=True)) == len(GLIMDataset(store, "train"))


def test_items_hold_the_records_word_vectors(store_dir):
    store = open_store(store_dir)
    ds = WordFeatureDataset(store, "val", max_words=56)
    item = ds[1]
    record = item["record"]
    vectors = store.words[record]
    assert item["eeg"].shape == (56, 840) and item["eeg_len"] == item["n_words"] == len(vectors) > 0
    np.testing.assert_array_equal(item["eeg"][: len(vectors)].numpy(), vectors)
    assert not item["eeg"][len(vectors):].any()
    batch = collate([ds[0], ds[1], ds[2]])
    lengths = [ds[i]["eeg_len"] for i in range(3)]
    assert batch["eeg"].shape == (3, max(lengths), 840)
    assert batch["mask"].sum(1).tolist() == lengths and batch["n_words"] == lengths
    short = WordFeatureDataset(store, "val", max_words=2)[1]
    assert short["eeg"].shape == (2, 840) and short["eeg_len"] == 2


def test_noise_input_is_seeded_standard_normal_of_max_words(store_dir):
    a, b = (WordFeatureDataset(store_dir, "test", noise_input=True)[0] for _ in range(2))
    assert torch.equal(a["eeg"], b["eeg"]) and a["eeg_len"] == 56
    assert abs(float(a["eeg"].std()) - 1) < 0.05
    real = WordFeatureDataset(store_dir, "test")[0]
    assert not torch.equal(a["eeg"][:2], real["eeg"][:2]) and a["target_text"] == real["target_text"]


def test_a_record_without_words_reads_one_zero_vector(tmp_path):
    """As for a sentence none of whose words was fixated."""
    with StoreWriter(tmp_path / "s", word_features={"measure": "GD"}) as writer:
        for uid, words in enumerate((None, np.ones((3, 840), np.float32))):
            label = {c: f"Text {uid} {k}." for k, c in enumerate(VARIANT_COLUMNS)}
            writer.append(np.ones((300, 104)), {**label, "phase": "val", "subject": "ZAB", "dataset": "ZuCo1",
                                                 "task": "task1", "input text": f"Text {uid}.", "text uid": uid},
                          words)
    ds = WordFeatureDataset(tmp_path / "s", "val")
    empty, full = ds[0], ds[1]
    assert empty["eeg_len"] == 1 and empty["n_words"] == 0 and not empty["eeg"].any()
    assert full["eeg_len"] == full["n_words"] == 3
    assert collate([empty, full])["mask"].tolist() == [[True, False, False], [True, True, True]]


def test_a_store_without_word_features_is_refused(tmp_path):
    path = write_random_store(tmp_path / "plain", n_sentences=3, n_subjects=1)
    with pytest.raises(ValueError, match="holds no word-level EEG features: rebuild it .* --word-features GD"):
        WordFeatureDataset(path, "train")


def test_datamodule_reuses_glims_sampler_and_batches(store_dir):
    dm = WordDataModule(batch_size=3, val_batch_size=2, data_dir=store_dir)
    dm.setup("fit")
    assert isinstance(dm.datasets["val"], WordFeatureDataset)
    batches = list(dm.val_dataloader())
    assert batches and all(b["eeg"].shape[-1] == 840 and b["mask"].dtype == torch.bool for b in batches)
    assert all(len(set(b["text_uid"].tolist())) == len(b["text_uid"]) for b in batches)
    train = next(iter(dm.train_dataloader()))
    assert len(train["target_text"]) == 3 and train["target_text"] == train["raw_text"]
    with pytest.raises(ValueError, match="train_targets 'words'"):
        WordDataModule(train_targets="words", data_dir=store_dir)
