"""Under several ranks the predictions go to rank 0 only; the other ranks stop after gathering."""
from __future__ import annotations

import os

import pandas as pd
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from evaluation.predict import Predictions, gather_predictions
from tests.ports import free_port


def _worker(rank: int, world: int, port: int, results: dict) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        samples = pd.DataFrame({"sample": [rank + world * k for k in range(3)], "rank": rank})
        vec = torch.full((3, 2), float(rank))
        out = gather_predictions(Predictions(samples, vec, vec.clone()), rank, world)
        results[rank] = None if out is None else (out.samples["sample"].tolist(), out.eeg_vec[:, 0].tolist())
    finally:
        dist.destroy_process_group()


@pytest.mark.slow  # two processes, each importing torch and Lightning
def test_only_rank_zero_receives_the_gathered_predictions() -> None:
    world = 2
    with mp.Manager() as manager:
        results = manager.dict()
        mp.spawn(_worker, args=(world, free_port(), results), nprocs=world, join=True)
        results = dict(results)
    assert results[1] is None  # nothing left to score on rank 1
    samples, ranks = results[0]
    assert samples == list(range(6))  # every sample once, in sample order
    assert ranks == [0.0, 1.0] * 3  # the vectors follow their samples
