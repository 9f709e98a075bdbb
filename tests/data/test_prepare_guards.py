"""`python -m data.prepare` guards: --overwrite, --strict and exit codes, leftovers of a killed run,
a full disk or an unwritable directory, progress lines in a log."""
from __future__ import annotations

import errno
import tempfile
from pathlib import Path

import pytest

from data.preprocess import prepare
from data.preprocess.steps import save_label_table
from data.store import StoreWriter, open_store
from tests.zuco_files import corpus_labels, eeg, write_corpus, write_v5

SR_DIR = Path("ZuCo1") / "task1- SR" / "Matlab files"


@pytest.fixture()
def corpus(tmp_path: Path) -> tuple[Path, Path]:
    raw = write_corpus(tmp_path / "raw")
    return raw, save_label_table(corpus_labels(raw), tmp_path / "labels.jsonl")


def _run(capsys, raw: Path, labels: Path, out: Path, *extra: str) -> tuple[int, str, str]:
    code = prepare.main(["--raw", str(raw), "--labels", str(labels), "--out", str(out), "--workers", "1", *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_existing_store_is_replaced_only_with_overwrite(corpus, tmp_path, capsys) -> None:
    raw, labels = corpus
    out = tmp_path / "out"
    assert _run(capsys, raw, labels, out)[0] == 0
    before = (out / "store.json").read_bytes()
    code, stdout, stderr = _run(capsys, raw, labels, out)
    assert code == 2 and stderr.strip() == f"error: {out} already holds a store; pass --overwrite to replace it"
    assert (out / "store.json").read_bytes() == before
    assert _run(capsys, raw, labels, out, "--overwrite")[0] == 0 and len(open_store(out)) == 12


def test_problems_give_exit_1_and_strict_writes_nothing(corpus, tmp_path, capsys) -> None:
    raw, labels = corpus
    write_v5(raw / SR_DIR / "resultsZKH_SR.mat", [("Not in the materials.", eeg(600))])
    code, stdout, _ = _run(capsys, raw, labels, tmp_path / "lenient")
    assert code == 1 and len(open_store(tmp_path / "lenient")) == 12
    assert stdout.index("1 record matched no label row") < stdout.index("records")
    assert "the split (sentences) was computed without them" in stdout and "resultsZKH_SR.mat" in stdout
    code, stdout, stderr = _run(capsys, raw, labels, tmp_path / "strict", "--strict")
    assert code == 3 and stderr.startswith("error: --strict: 1 record matched") and len(stderr.splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.jsonl", "lenient", "raw"]


def test_leftovers_of_a_killed_run_are_removed(corpus, tmp_path, capsys) -> None:
    raw, labels = corpus
    for leftover in (".out.spill-abc123", "out.partial"):
        (tmp_path / leftover).mkdir()
        (tmp_path / leftover / "0.f32").write_bytes(b"x")
    code, stdout, _ = _run(capsys, raw, labels, tmp_path / "out")
    assert code == 0 and "left by an interrupted run" in stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.jsonl", "out", "raw"]


def test_store_caught_between_renames_is_put_back(corpus, tmp_path, capsys) -> None:
    raw, labels = corpus
    assert _run(capsys, raw, labels, tmp_path / "out")[0] == 0
    (tmp_path / "out").rename(tmp_path / "out.old")  # killed inside StoreWriter.close
    code, _, stderr = _run(capsys, raw, labels, tmp_path / "out")
    assert code == 2 and "already holds a store" in stderr and len(open_store(tmp_path / "out")) == 12


def test_full_disk_is_one_line_and_leaves_nothing(corpus, tmp_path, capsys, monkeypatch) -> None:
    raw, labels = corpus
    original = StoreWriter.append

    def full(self, eeg_row, record):
        if self.n == 5:
            raise OSError(errno.ENOSPC, "No space left on device", str(self.tmp / "eeg.npy"))
        return original(self, eeg_row, record)

    monkeypatch.setattr(StoreWriter, "append", full)
    code, _, stderr = _run(capsys, raw, labels, tmp_path / "out")
    assert code == 2 and len(stderr.strip().splitlines()) == 1
    assert stderr.startswith(f"error: no space left on the device of {tmp_path / 'out.partial' / 'eeg.npy'} (")
    assert "free; the store needs about" in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.jsonl", "raw"]


def test_unwritable_directory_is_one_line(corpus, tmp_path, capsys, monkeypatch) -> None:
    raw, labels = corpus

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "ro"))

    monkeypatch.setattr(tempfile, "mkdtemp", refuse)
    code, _, stderr = _run(capsys, raw, labels, tmp_path / "ro" / "out")
    assert code == 2 and stderr.strip() == (f"error: cannot write to {tmp_path / 'ro'}: Permission denied; "
                                            "choose another --out or fix its permissions")


def test_progress_lines_when_stdout_is_not_a_terminal(corpus, tmp_path, capsys) -> None:
    raw, labels = corpus
    code, stdout, _ = _run(capsys, raw, labels, tmp_path / "out")
    lines = [line for line in stdout.splitlines() if line.startswith("reading ZuCo files: ")]
    assert code == 0 and len(lines) >= 2 and lines[-1].startswith("reading ZuCo files: 3/3 (100%)  stored 12")
    assert all("elapsed" in line and "ETA" in line for line in lines)
