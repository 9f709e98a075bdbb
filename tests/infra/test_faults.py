"""Fault injection: a full disk or an unwritable directory is one ``error:`` line naming the path
and the space, never a traceback, and leaves nothing that looks finished; a rerun needs no
``--overwrite``. (Kill points: tests/test_resume.py; corrupt bytes: tests/test_corruption.py.)"""
from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pandas as pd
import pytest
import torch

from evaluation import across_runs, score
from infra import atomic, checkpoint_io
from infra.atomic import WriteError, atomic_dir, atomic_write_text
from infra.checkpoint_io import AtomicCheckpointIO

ENOSPC = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def full_disk_for(monkeypatch, name: str) -> None:
    """Every fsync of a temporary file of ``name`` fails as on a full disk."""
    real = os.fsync

    def fsync(fd: int) -> None:
        if Path(os.readlink(f"/proc/self/fd/{fd}")).name.startswith(f".{name}."):
            raise ENOSPC
        real(fd)

    monkeypatch.setattr(atomic.os, "fsync", fsync)


def assert_one_error_line(err: str, path: Path) -> None:
    line = err.strip()
    assert line.startswith("error: ") and "\n" not in line and "Traceback" not in line, line
    assert str(path) in line and "free there" in line and "needed" in line, line


def test_a_result_directory_appears_whole_or_not_at_all(tmp_path):
    out = tmp_path / "res"
    with pytest.raises(WriteError, match=f"cannot write {out}/b.txt: no space left .* free there"):
        with atomic_dir(out) as partial:
            atomic_write_text(partial / "a.txt", "a")
            raise OSError(errno.ENOSPC, "No space left on device", str(partial / "b.txt"))
    assert list(tmp_path.iterdir()) == []  # no partial sibling, no target
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "old.csv").write_text("old result")
    with atomic_dir(out, replaces=("old.csv",)) as partial:
        atomic_write_text(partial / "new.csv", "new")
    assert sorted(p.name for p in out.iterdir()) == ["new.csv", "notes.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["res"]


def test_an_unwritable_directory_is_a_write_error(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes anywhere")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(WriteError, match="permission denied"):
        atomic_write_text(locked / "x.json", "{}")


def test_score_on_a_full_disk_leaves_nothing_and_reruns_without_overwrite(tmp_path, monkeypatch, capsys):
    csv = tmp_path / "in.csv"
    pd.DataFrame({"Input Text": ["The cat sat on the mat."], "Generated Text": ["The cat sat."]}).to_csv(csv, index=False)
    out = tmp_path / "scored"
    with monkeypatch.context() as m:
        full_disk_for(m, "metrics.json")
        assert score.main([str(csv), "--out", str(out)]) == 1
    assert_one_error_line(capsys.readouterr().err, out / "metrics.json")
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["in.csv"]
    assert score.main([str(csv), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["metrics.json", "samples.csv"]


def test_aggregate_on_a_full_disk_leaves_nothing_and_reruns_without_overwrite(tmp_path, monkeypatch, capsys):
    runs = []
    for i, v in enumerate((0.2, 0.4)):
        (tmp_path / f"r{i}").mkdir()
        (tmp_path / f"r{i}" / "metrics.json").write_text(json.dumps({"metrics": {"Bleu1": v}}))
        runs.append(str(tmp_path / f"r{i}"))
    out = tmp_path / "agg"
    with monkeypatch.context() as m:
        full_disk_for(m, "aggregate.md")
        assert across_runs.main([*runs, "--out", str(out)]) == 1
    assert_one_error_line(capsys.readouterr().err, out / "aggregate.md")
    assert not out.exists()
    assert across_runs.main([*runs, "--out", str(out)]) == 0 and (out / "aggregate.json").is_file()


def test_a_checkpoint_on_a_full_disk_is_a_write_error_and_the_old_one_stays(tmp_path, monkeypatch):
    path = tmp_path / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint({"w": torch.arange(4.0)}, path)

    def failing_save(obj, f):  # what torch's writer raises when the disk fills
        f.write(b"PK")
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598")

    monkeypatch.setattr(checkpoint_io.torch, "save", failing_save)
    monkeypatch.setattr(checkpoint_io, "free_bytes", lambda p: 10)
    with pytest.raises(WriteError, match=f"cannot write {path}: no space left .* about 64 B needed"):
        AtomicCheckpointIO().save_checkpoint({"w": torch.zeros(16)}, path)
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]
    assert torch.equal(torch.load(path, weights_only=True)["w"], torch.arange(4.0))
