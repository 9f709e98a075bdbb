"""python -m evaluation.compare: paired comparison of two test runs and the 2x2 train/test-on-noise grid."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evaluation.compare import main


def write_run(root: Path, bleu: float, noise_bleu: float | None, n: int = 60, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True)

    def table(mean: float) -> pd.DataFrame:
        return pd.DataFrame({"sample": np.arange(n), "Generated Text": "a b", "Bleu1": rng.normal(mean, 0.05, n),
                             "WER": rng.normal(1.0, 0.05, n)})

    table(bleu).to_csv(root / "samples.csv", index=False)
    if noise_bleu is not None:
        (root / "controls" / "noise").mkdir(parents=True)
        table(noise_bleu).to_csv(root / "controls" / "noise" / "samples.csv", index=False)
    return root


def test_comparison_and_grid(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    a = write_run(tmp_path / "eeg-trained", 0.30, 0.10)
    b = write_run(tmp_path / "noise-trained", 0.15, 0.14, seed=1)
    assert main([str(a), str(b), "--out", str(tmp_path / "cmp"), "--bootstrap", "200", "--permutations", "200"]) == 0
    table = pd.read_csv(tmp_path / "cmp" / "comparison.csv").set_index("metric")
    assert table.at["Bleu1", "B − A"] == pytest.approx(-0.15, abs=0.03)
    assert table.at["Bleu1", "lo"] < table.at["Bleu1", "B − A"] < table.at["Bleu1", "hi"] < 0
    assert bool(table.at["Bleu1", "A significantly better"])
    assert not bool(table.at["WER", "A significantly better"])
    md = (tmp_path / "cmp" / "comparison.md").read_text()
    assert "tested on EEG / noise" in md
    assert "| noise (B) | noise |" in md.split("## Trained on")[1]
    grid = pd.DataFrame(json.loads((tmp_path / "cmp" / "comparison.json").read_text())["grid"])
    means = grid.set_index(["trained on", "tested on"])["Bleu1"]
    expected = {("EEG (A)", "EEG"): 0.30, ("EEG (A)", "noise"): 0.10, ("noise (B)", "EEG"): 0.15,
                ("noise (B)", "noise"): 0.14}
    assert means.to_dict() == pytest.approx(expected, abs=0.03)


def test_no_grid_without_the_noise_control(tmp_path: Path) -> None:
    a, b = write_run(tmp_path / "a", 0.3, None), write_run(tmp_path / "b", 0.3, 0.1, seed=1)
    assert main([str(a), str(b), "--out", str(tmp_path / "cmp"), "--bootstrap", "50", "--permutations", "50"]) == 0
    assert "Trained on" not in (tmp_path / "cmp" / "comparison.md").read_text()


def test_runs_on_different_samples_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    a, b = write_run(tmp_path / "a", 0.3, None, n=60), write_run(tmp_path / "b", 0.3, None, n=50)
    assert main([str(a), str(b), "--out", str(tmp_path / "cmp")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "different test samples" in err and "\n" not in err
    assert not (tmp_path / "cmp").exists()
