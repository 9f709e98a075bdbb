"""The benchmarks' own logic (never their timings): the GPU check's smoke mode, its refusal
without CUDA, its projection arithmetic, and the step bench's count of encoded time steps."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from bench import gpu_check
from bench.bench_step import Pool, encoded_steps


def test_gpu_check_refuses_without_cuda_in_one_line(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert gpu_check.main([]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "CUDA" in err and "Traceback" not in err


def test_gpu_check_smoke_mode_prints_one_table_of_finite_figures(capsys):
    assert gpu_check.main(["--dry_run"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")][1:]
    names = [r.split("|")[1].strip() for r in rows]
    assert [n.startswith("train step") for n in names] == [True, True, False]
    assert "text cache on" in names[0] and "text cache off" in names[1] and names[2].startswith("generation")
    values = [float(r.split("|")[2].strip().rstrip("s")) for r in rows]
    assert all(math.isfinite(v) and v > 0 for v in values)


def test_projection_uses_the_published_step_counts():
    assert gpu_check.steps_per_epoch(8) * gpu_check.EPOCHS == 49_600  # glim-zuco-epoch=199-step=49600
    assert gpu_check.steps_per_epoch(1) == 17_908 * 8 // 72
    assert gpu_check.hours(1.0, 8) == pytest.approx(49_600 / 3600)


def test_flop_count_grows_with_the_text_encoder_and_the_batch():
    small = gpu_check.smoke_sizes()
    f = gpu_check.step_flops(small, n_batches=1)
    assert f["cached"] > 0 and f["text encoder"] > 0
    small.batch *= 2
    assert gpu_check.step_flops(small, n_batches=1)["text encoder"] == pytest.approx(2 * f["text encoder"])


def test_encoded_steps_count_the_padded_work_and_the_groups():
    pool = Pool(n_texts=24, max_len=1280)
    batch = pool.batch(pool.batches(12)[0], full_length=True, seed=0)
    lengths = np.array(batch["eeg_len"])
    assert encoded_steps(batch, 0) == 1280
    assert encoded_steps(batch, 1) == lengths.max()
    assert lengths.mean() <= encoded_steps(batch, 4) <= encoded_steps(batch, 2) <= lengths.max()
