"""The fast paths change nothing: text-state cache, encoding by length, length-grouped batches, no host
sync in the training step."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from data.datamodule import GLIMDataModule
from data.dataset import GLIMDataset, collate
from data.sampler import DistinctUidBatchSampler
from data.synthetic.random_store import write_random_store
from model.glim import GLIM
from model.text_cache import TextSpace, TextStateCache
from tests.factories import TINY_GLIM

LOSSES = ("loss", "loss_clip", "loss_lm")


def make_glim(tiny_t5: str, cache: bool = True, **hp) -> GLIM:
    torch.manual_seed(0)
    m = GLIM(**{**TINY_GLIM, **hp}, text_model_id=tiny_t5)
    m.attach_text_model()
    m.use_text_cache(cache)
    return m.eval()


def make_batch(n: int = 4, length: int = 300, seed: int = 2) -> dict:
    g = torch.Generator().manual_seed(seed)
    texts = [f"sentence {'number ' * i}{i} is here." for i in range(n)]  # different token counts
    lengths = torch.randint(length // 2, length + 1, (n,), generator=g)
    lengths[0] = length
    mask = torch.arange(length)[None] < lengths[:, None]  # (n, l)
    return {"eeg": torch.randn(n, length, 128, generator=g) * mask[..., None], "mask": mask,
            "eeg_len": lengths.tolist(), "prompt_ids": torch.tensor([[1, 1, 3]] * n),
            "model_input_text": ["To English: " + t for t in texts], "target_text": texts}


@pytest.mark.parametrize("commitment", [0.0, 0.5])  # > 0: states padded to input_text_len
def test_cached_text_states_give_identical_losses(tiny_t5, commitment):
    batch = make_batch()
    hp = dict(commitment_loss_weight=commitment, hidden_eeg_len=TINY_GLIM["input_text_len"])
    plain = make_glim(tiny_t5, cache=False, **hp)(batch)
    cached = make_glim(tiny_t5, **hp)
    first, again = cached(batch), cached(batch)  # a miss for every text, then only hits
    assert cached.text_cache.hits == cached.text_cache.misses == 4
    for k in LOSSES + (("loss_commit",) if commitment else ()):
        assert torch.equal(plain[k], first[k]) and torch.equal(plain[k], again[k]), k


def test_states_cached_from_other_batches_match_within_float_tolerance(tiny_t5):
    batch = make_batch()
    plain = make_glim(tiny_t5, cache=False)(batch)
    cached = make_glim(tiny_t5)
    for text in batch["model_input_text"]:  # each text encoded alone: other shapes, other reduction order
        cached.text_states([text])
    warm = cached(batch)
    assert cached.text_cache.misses == 4 and cached.text_cache.hits == 4
    for k in LOSSES:
        assert torch.allclose(plain[k], warm[k], atol=1e-5, rtol=0), k


def test_texts_are_encoded_at_their_length_bucket(tiny_t5, monkeypatch):
    """Without the commitment loss the frozen encoder runs each text over its token count rounded
    up to ``LENGTH_BUCKET``, not ``max_len``: the real tokens' states equal the padded encoding's
    within float noise, the rest is zero, and a text's states do not depend on its companions."""
    from model.frozen_text import LENGTH_BUCKET

    tm = make_glim(tiny_t5).text_model
    texts = ["To English: a.", "To English: a longer sentence.", "To English: mid size one", "x"]
    padded, counts = tm.encode_texts(texts, 48, pad_to_max=True)  # (k, 48, d)
    widths = []
    encode = tm.encode
    monkeypatch.setattr(tm, "encode", lambda ids, mask: widths.append(ids.shape[1]) or encode(ids, mask))
    states, lengths = tm.encode_texts(texts, 48, pad_to_max=False)
    assert lengths == counts and states.shape[1] == max(counts) < 48
    assert sorted(widths) == sorted({-(-n // LENGTH_BUCKET) * LENGTH_BUCKET for n in counts})
    for i, n in enumerate(counts):
        assert torch.allclose(states[i, :n], padded[i, :n], atol=1e-5)
        assert not states[i, n:].any()
        alone, _ = tm.encode_texts([texts[i]], 48, pad_to_max=False)
        assert torch.equal(alone[0], states[i, :n])


def test_text_states_repad_and_persist(tiny_t5, tmp_path, monkeypatch):
    m = make_glim(tiny_t5)
    m.use_text_cache(directory=str(tmp_path))
    labels = ["Sentiment classification: It is negative.", "Sentiment classification: It is neutral."]
    states, mask = m.text_states(labels, max_len=32)
    plain_states, plain_mask = make_glim(tiny_t5, cache=False).text_states(labels, max_len=32)
    assert torch.equal(mask, plain_mask) and torch.equal(states[mask], plain_states[plain_mask])
    assert not states[~mask].any()  # re-padded with zeros
    assert [p.suffix for p in m.text_cache.save()] == [".safetensors"]

    fresh = make_glim(tiny_t5)  # another run: the states come from the file
    fresh.use_text_cache(directory=str(tmp_path))
    monkeypatch.setattr(fresh._text(), "encode_texts", lambda *a, **k: pytest.fail("text states recomputed"))
    again, again_mask = fresh.text_states(labels[::-1], max_len=32)
    assert torch.equal(again, states.flip(0)) and torch.equal(again_mask, mask.flip(0))


def test_cache_evicts_least_recently_used_beyond_its_budget():
    cache = TextStateCache(max_bytes=3 * 2 * 4 * 4)  # three entries of (2 tokens, 4) float32
    space = TextSpace("m", 8, "float32")
    encode = lambda texts: (torch.ones(len(texts), 2, 4), [2] * len(texts))  # noqa: E731
    cache.states(space, ["a", "b"], encode, torch.device("cpu"))
    cache.states(space, ["a"], encode, torch.device("cpu"))  # "a" used last
    cache.states(space, ["c", "d"], encode, torch.device("cpu"))
    assert len(cache) == 3 and cache.nbytes == cache.max_bytes
    cache.states(space, ["a", "c", "d"], encode, torch.device("cpu"))
    assert cache.misses == 4  # "b" was the one evicted, "a" survived


@pytest.mark.parametrize("groups", [1, 2, 4])
def test_encoding_by_length_is_exact_in_outputs_and_gradients(tiny_t5, groups):
    """Each group of samples over its own longest length gives the outputs and the gradients of
    every sample over the full padded length (the original's work), within float noise."""
    batch = make_batch(n=6, length=300)
    padded = {**batch, "eeg": torch.nn.functional.pad(batch["eeg"], (0, 0, 0, 980)),
              "mask": torch.nn.functional.pad(batch["mask"], (0, 980))}  # (n, 1280, c)
    results = {}
    for name, b, k in (("original", padded, 0), ("grouped", padded, groups), ("collated", batch, groups)):
        m = make_glim(tiny_t5).train()
        m.max_length_groups = k
        torch.manual_seed(5)
        out = m(b)
        out["loss"].backward()
        results[name] = (out, {n: p.grad.clone() for n, p in m.named_parameters() if p.grad is not None})
    ref_out, ref_grad = results["original"]
    for name in ("grouped", "collated"):
        out, grad = results[name]
        assert torch.allclose(out["eeg_emb"], ref_out["eeg_emb"], atol=1e-5), name
        for k in LOSSES:
            assert torch.allclose(out[k], ref_out[k], atol=1e-5), (name, k)
        assert grad.keys() == ref_grad.keys()
        for n in grad:
            assert torch.allclose(grad[n], ref_grad[n], atol=1e-5, rtol=1e-4), (name, n)


def test_groups_by_length_minimise_padded_work():
    from model.length_groups import group_by_length

    lengths = [300, 1280, 310, 1200, 640, 650, 305]
    groups = group_by_length(lengths, 3)
    assert sorted(i for g in groups for i in g) == list(range(len(lengths)))
    assert [sorted(lengths[i] for i in g) for g in groups] == [[300, 305, 310], [640, 650], [1200, 1280]]
    assert group_by_length(lengths, 1) == [list(range(len(lengths)))]
    assert group_by_length([5], 4) == [[0]]


class HostSyncs(TorchDispatchMode):
    """Counts the operators that copy a device value to the host (a sync on CUDA)."""

    SYNCING = {torch.ops.aten._local_scalar_dense.default, torch.ops.aten.nonzero.default}

    def __init__(self):
        super().__init__()
        self.seen: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func in self.SYNCING:
            self.seen.append(str(func))
        return func(*args, **(kwargs or {}))


@pytest.mark.filterwarnings("ignore:You are trying to `self.log")
def test_training_step_does_not_read_device_values(tiny_t5):
    m = make_glim(tiny_t5).train()
    batch = make_batch()
    m.training_step(batch, 0)  # fills the text cache (first epoch)
    with HostSyncs() as syncs:
        m.training_step(batch, 1).backward()
    assert syncs.seen == []
    with HostSyncs() as syncs:
        batch["mask"].sum().item()
    assert syncs.seen  # the detector sees a read of a value


def mean_padding(batches: list[list[int]], lengths: np.ndarray) -> float:
    return float(np.mean([1 - lengths[b].mean() / lengths[b].max() for b in batches]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_length_grouping_keeps_invariants_and_cuts_padding(seed):
    rng = np.random.default_rng(seed)
    uids = np.repeat(rng.permutation(300), 8)  # 300 texts x 8 variants
    lengths = np.repeat(rng.integers(64, 1281, 300), 8)
    bsz, ranks = 12, 3
    plain = list(DistinctUidBatchSampler(uids, bsz, True, seed=seed))
    full = list(DistinctUidBatchSampler(uids, bsz, True, seed=seed, keep_leftover=True, lengths=lengths))
    flat = [i for b in full for i in b]
    assert sorted(flat) == list(range(len(uids)))
    assert all(len(set(uids[b])) == len(b) for b in full)
    per_rank = [list(DistinctUidBatchSampler(uids, bsz, True, seed=seed, num_replicas=ranks,
                                             rank=r, lengths=lengths)) for r in range(ranks)]
    assert len({len(r) for r in per_rank}) == 1
    seen = [i for r in per_rank for b in r for i in b]
    assert len(seen) == len(set(seen)) > 0.95 * len(uids)
    assert all(len(b) == bsz and len(set(uids[b])) == bsz for r in per_rank for b in r)
    assert mean_padding(per_rank[0], lengths) < 0.5 * mean_padding(plain, lengths)
    s = DistinctUidBatchSampler(uids, bsz, True, seed=seed, lengths=lengths)
    e0 = list(s)
    s.set_epoch(1)
    assert list(s) != e0
    s.set_epoch(0)
    assert list(s) == e0


def test_datamodule_length_grouping(tmp_path):
    store = write_random_store(tmp_path / "store", n_sentences=12, n_subjects=2)
    dm = GLIMDataModule(data_dir=store, batch_size=4, val_batch_size=4, length_grouping=True)
    dm.setup("fit")
    batches = list(dm.train_dataloader().batch_sampler)
    ds: GLIMDataset = dm.datasets["train"]
    assert len({i for b in batches for i in b}) == sum(map(len, batches)) == len(ds)
    assert all(len(set(ds.uids[b])) == 4 for b in batches)
    batch = collate([ds[i] for i in batches[0]])
    assert batch["mask"][:, -1].any()  # collate cut the common padding
