"""The test protocol (docs/protocol.md §evaluation): the sampler's batches with the leftover dropped or every record,
what the results say about it, and the numerics chosen per device."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from evaluation.protocol import protocol, protocol_line
from evaluation.run import NoBatchError, evaluation_loader
from infra.numerics import evaluation_numerics, resolve_numerics, training_numerics


class Uids:
    """The part of a dataset the test loader reads: the text uid of every sample."""

    def __init__(self, uids: list[int]):
        self.uids = np.asarray(uids)
        self.phase = "test"

    def __len__(self) -> int:
        return len(self.uids)


# 4 readers of the same 6 sentences, reader-major: batches of 5 leave 4 records in no batch
READERS = Uids([u for _ in range(4) for u in range(6)])


def batches(all_records: bool, batch_size: int = 5) -> list[list[int]]:
    return list(evaluation_loader(READERS, batch_size, all_records=all_records).batch_sampler)


def test_leftover_is_dropped_by_default() -> None:
    kept = batches(all_records=False)
    assert [len(b) for b in kept] == [5, 5, 5, 5]
    seen = [i for b in kept for i in b]
    assert len(set(seen)) == 20 and all(len({READERS.uids[i] for i in b}) == len(b) for b in kept)
    assert kept[0] == [0, 1, 2, 3, 4]  # unshuffled, in dataset order


def test_all_records_puts_the_leftover_in_extra_batches() -> None:
    every = batches(all_records=True)
    assert every[:4] == batches(all_records=False)
    assert sorted(i for b in every for i in b) == list(range(24))
    assert all(len(b) < 5 for b in every[4:]) and all(len({READERS.uids[i] for i in b}) == len(b) for b in every)


def test_too_few_distinct_sentences_is_a_clear_error() -> None:
    with pytest.raises(NoBatchError, match="24 test records of 6 distinct sentences fill no batch of 8"):
        batches(all_records=False, batch_size=8)
    assert sum(map(len, batches(all_records=True, batch_size=8))) == 24


def test_protocol_says_what_was_left_out() -> None:
    dropped = protocol(2227, 2208, all_records=False)
    assert dropped == {"name": "sampler batches, leftover dropped", "records": 2227, "evaluated": 2208,
                       "left_out": 19}
    line = protocol_line(dropped)
    assert "2208 of 2227 records evaluated, 19 left out" in line and "--all_records true" in line
    every = protocol(2227, 2227, all_records=True)
    assert every["name"] == "all records" and every["left_out"] == 0
    assert protocol_line(every) == "protocol: all records: 2227 of 2227 records evaluated, 0 left out"


def test_numerics_are_the_published_ones_on_a_gpu_and_float32_on_the_cpu() -> None:
    assert resolve_numerics("auto", "cuda") == "bf16" and resolve_numerics("auto", "cpu") == "float32"
    assert resolve_numerics("float32", "cuda") == "float32" and resolve_numerics("bf16", "cpu") == "bf16"
    with pytest.raises(ValueError, match="float32"):
        resolve_numerics("fp8", "cuda")
    before = torch.get_float32_matmul_precision()
    try:
        published = evaluation_numerics("auto", "cuda")
        assert published.apply() is torch.bfloat16 and torch.get_float32_matmul_precision() == "medium"
        assert published.autocast_bf16 and published.name == "bf16"
        float32 = evaluation_numerics("auto", "cpu")
        assert float32.apply() is None and torch.get_float32_matmul_precision() == "highest"
        assert not float32.autocast_bf16 and float32.name == "float32"
    finally:
        torch.set_float32_matmul_precision(before)


def test_training_numerics_follow_the_lightning_precision() -> None:
    """On a GPU bf16-mixed is the published numerics; 16-mixed keeps a float32 text model but the
    medium matmul precision; float32 changes nothing; on the CPU too a bf16 precision holds the text
    model in bf16 (as the original; float32 with ``cpu_bf16_text`` False) and full validation follows
    bf16 autocast when the precision asks for it."""
    gpu = training_numerics("bf16-mixed", gpu=True)
    assert (gpu.text_bf16, gpu.autocast_bf16, gpu.matmul) == (True, True, "medium")
    assert training_numerics("16-mixed", gpu=True).matmul == "medium"
    assert not training_numerics("16-mixed", gpu=True).text_bf16
    assert training_numerics("32-true", gpu=True).matmul is None
    cpu = training_numerics("bf16-mixed", gpu=False)  # a bf16 text model, as the original's
    assert (cpu.text_bf16, cpu.autocast_bf16, cpu.matmul) == (True, True, None)
    assert not training_numerics("bf16-mixed", gpu=False, cpu_bf16_text=False).text_bf16
    assert training_numerics("bf16-mixed", gpu=True, cpu_bf16_text=False).text_bf16
    assert not training_numerics("32", gpu=False).autocast_bf16
