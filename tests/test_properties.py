"""Property-based checks with random and malformed input: the raw-file readers give clean per-file
results or errors, the batch sampler keeps its invariants, collate keeps every sample intact and
the metrics take any unicode."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from data.dataset import collate
from data.preprocess import readers
from data.preprocess.readers import MaterialError, read_sentences
from data.sampler import DistinctUidBatchSampler
from data.synthetic.mat import StructArray
from data.synthetic.mat import write_v5 as write_plain_v5
from evaluation.metrics import reference_score_loop, score_samples
from infra.resume import ResumableBatches
from tests.zuco_files import eeg, write_v5, write_v73


def checks(examples: int) -> settings:
    """No deadline (shared CI machines), no example database written into the project, the same
    examples on every run (derandomized: CI never turns red by chance; scipy's ``loadmat`` can
    segfault on some damaged files, which would kill the test process, see ``data.prepare``'s
    reader-crash handling); the per-test ``tmp_path`` is only overwritten between examples."""
    return settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def assert_clean_records(path) -> list:
    """Every sentence record of ``path`` has usable EEG or a reason; nothing raises."""
    records = list(read_sentences(path))
    assert records
    for r in records:
        if r.eeg is None:
            assert r.reason, r
        else:
            assert r.reason is None and r.eeg.ndim == 2 and r.eeg.dtype.kind in "fiu"
    return records


# ------------------------------------------------------------------------------------ .mat files
@checks(60)
@given(data=st.binary(max_size=2048), header=st.sampled_from([b"", b"MATLAB 5.0 MAT-file", b"\x89HDF\r\n\x1a\n"]))
def test_random_bytes_as_mat_file_are_an_unreadable_file(tmp_path, data, header):
    path = tmp_path / "resultsZAB_SR.mat"
    path.write_bytes(header + data)
    records = assert_clean_records(path)
    assert records[0].index is None and records[0].reason in ("unreadable file", "missing field")


@pytest.fixture(scope="module")
def mat_files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mat")
    sentences = [("Hello world.", eeg(300, 1)), ("Missing one.", None), ("Third one.", eeg(260, 2))]
    plain = StructArray({"content": text, "rawData": np.nan if raw is None else raw}
                        for text, raw in sentences)
    write_plain_v5(tmp / "v5-plain.mat", plain, compress=False)
    return {"v5": write_v5(tmp / "v5.mat", sentences).read_bytes(),
            "v5-plain": (tmp / "v5-plain.mat").read_bytes(),
            "v73": write_v73(tmp / "v73.mat", sentences).read_bytes()}


@checks(150)
@given(kind=st.sampled_from(["v5", "v5-plain", "v73"]), flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True),
                                                                    st.integers(1, 255)), min_size=1, max_size=6),
       cut=st.one_of(st.none(), st.floats(0, 1)))
def test_damaged_mat_files_give_records_or_reasons(tmp_path, mat_files, kind, flips, cut):
    data = bytearray(mat_files[kind])
    for where, mask in flips:
        data[int(where * len(data))] ^= mask
    if cut is not None:
        data = data[: int(cut * len(data))]
    path = tmp_path / f"{kind}.mat"
    path.write_bytes(bytes(data))
    assert_clean_records(path)


# ------------------------------------------------------------------------------------ CSV files
CSV_READERS = [readers.read_sentiment_task1, readers.read_relations_task2, readers.read_relations_task3,
               readers.read_nr, readers.read_nr_control_questions, readers.read_tsr]
csv_text = st.text(alphabet=st.one_of(st.sampled_from(list(';,"\n\r#\ufeff\x00 \t')), st.characters()),
                   max_size=200)


@checks(150)
@given(text=csv_text, raw=st.binary(max_size=64))
def test_malformed_csv_gives_a_table_or_a_one_line_error_naming_the_file(tmp_path, text, raw):
    path = tmp_path / "material.csv"
    path.write_bytes(text.encode("utf-8", "surrogatepass") + raw)
    for read in CSV_READERS:
        try:
            table = read(path)
        except MaterialError as error:
            message = str(error)
            assert message.startswith(str(path)) and "\n" not in message, message
        else:
            assert all(isinstance(v, (str, bool)) for v in table.to_numpy().ravel())


# ------------------------------------------------------------------------------------ sampler
@checks(200)
@given(uids=st.lists(st.integers(0, 15), max_size=120), bsz=st.integers(1, 9), keep_leftover=st.booleans(),
       shuffle=st.booleans(), seed=st.integers(0, 2**31), epoch=st.integers(0, 50),
       replicas=st.integers(1, 4), grouped=st.booleans(), skip=st.integers(0, 5))
def test_sampler_invariants(uids, bsz, keep_leftover, shuffle, seed, epoch, replicas, grouped, skip):
    lengths = [(7 * i) % 1280 for i in range(len(uids))] if grouped else None

    def sampler(rank: int) -> DistinctUidBatchSampler:
        s = DistinctUidBatchSampler(uids, bsz, shuffle=shuffle, seed=seed, num_replicas=replicas, rank=rank,
                                    keep_leftover=keep_leftover, lengths=lengths)
        s.set_epoch(epoch)
        return s

    ranks = [list(sampler(r)) for r in range(replicas)]
    batches = [b for r in ranks for b in r]
    distinct = {tuple(b) for b in batches}
    flat = [i for b in distinct for i in b]
    assert len(flat) == len(set(flat)) and set(flat) <= set(range(len(uids)))  # only whole batches repeat
    assert all(0 < len(b) <= bsz and len({uids[i] for i in b}) == len(b) for b in batches)
    left = sampler(0).leftover()
    assert sorted(flat + left) == list(range(len(uids)))
    if keep_leftover:
        assert left == [] and len(batches) == len(distinct)
    else:
        assert all(len(b) == bsz for b in batches)
        assert len({len(r) for r in ranks}) == 1
        if epoch < 10 or not shuffle:  # the length is the fewest batches of epochs 0..9
            assert len(batches) == len(distinct)
    again = sampler(0)
    assert len(again) == len(ranks[0]) and list(again) == ranks[0]  # reproducible per (seed, epoch)
    assert list(ResumableBatches(again, skip, epoch=epoch)) == ranks[0][skip:]  # the epoch resumed


# ------------------------------------------------------------------------------------ collate
@checks(60)
@given(lengths=st.lists(st.integers(0, 40), min_size=1, max_size=6), channels=st.integers(1, 5),
       texts=st.lists(st.text(max_size=10), min_size=6, max_size=6))
def test_collate_keeps_every_sample(lengths, channels, texts):
    width = max(lengths) + 3
    items = [{"eeg": torch.randn(width, channels), "eeg_len": n, "prompt_ids": torch.tensor([1, 2, k]),
              "text_uid": k, "record": 10 + k, "sample": 20 + k, "model_input_text": texts[k],
              "references": texts[: k + 1]} for k, n in enumerate(lengths)]
    batch = collate(items)
    n, longest = len(items), max(lengths)
    assert batch["eeg"].shape == (n, longest, channels) and batch["mask"].shape == (n, longest)
    assert batch["mask"].sum(1).tolist() == lengths
    for k, item in enumerate(items):
        assert torch.equal(batch["eeg"][k], item["eeg"][:longest])
    assert batch["text_uid"].tolist() == list(range(n)) and batch["model_input_text"] == texts[:n]
    assert batch["references"] == [texts[: k + 1] for k in range(n)] and batch["eeg_len"] == lengths


# ------------------------------------------------------------------------------------ metrics
any_text = st.text(max_size=24)


@checks(60)
@given(rows=st.lists(st.tuples(any_text, st.lists(any_text, min_size=2, max_size=2), any_text),
                     min_size=1, max_size=3))
def test_metrics_take_any_unicode_and_match_the_reference(rows):
    generated, references, raw = ([r[i] for r in rows] for i in range(3))
    fast = score_samples(generated, references, raw)
    assert fast.shape[0] == len(rows) and not fast.columns.duplicated().any()
    bounded = fast.drop(columns=["WER"]).to_numpy()
    assert np.all((bounded >= 0) & (bounded <= 1))
    assert np.array_equal(fast.to_numpy(), reference_score_loop(generated, references, raw).to_numpy(),
                          equal_nan=True)


@checks(30)
@given(generated=st.lists(any_text, min_size=1, max_size=3), other=st.integers(0, 2))
def test_metrics_reject_mismatched_lengths_cleanly(generated, other):
    assume(other != len(generated))
    with pytest.raises(ValueError, match="generated texts but"):
        score_samples(generated, None, ["x"] * other)
