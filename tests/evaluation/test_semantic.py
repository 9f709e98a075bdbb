"""Optional semantic metrics with a tiny locally built encoder (no download)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from evaluation.score import main as score_main
from evaluation.semantic import bertscore_frame, load_encoder, n_way_hits, semantic_frame


@pytest.fixture(scope="module")
def encoder_dir(tmp_path_factory) -> Path:
    from transformers import BertConfig, BertModel, ByT5Tokenizer

    path = tmp_path_factory.mktemp("tiny-encoder")
    tok = ByT5Tokenizer()
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=len(tok), hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=32, max_position_embeddings=160)).save_pretrained(path)
    tok.save_pretrained(path)
    return path


GEN = ["the film was good", "a man was born", "the film was good", "xx"]
RAW = ["the film was good", "he was born in ohio", "a bad movie", "she wrote books"]


def test_bertscore_equals_torchmetrics_pair_by_pair(encoder_dir: Path) -> None:
    from torchmetrics.functional.text.bert import bert_score

    frame = bertscore_frame(load_encoder(str(encoder_dir)), GEN, RAW)
    for i, (g, r) in enumerate(zip(GEN, RAW)):
        single = bert_score([g], [r], model_name_or_path=str(encoder_dir))
        assert frame.at[i, "semantic/BERTScore-f1"] == pytest.approx(float(single["f1"]), abs=1e-6)
    assert frame.at[0, "semantic/BERTScore-f1"] == pytest.approx(1.0)


def test_semantic_frame_columns_and_identity(encoder_dir: Path) -> None:
    frame = semantic_frame(load_encoder(str(encoder_dir)), GEN, RAW, ways=(2, 4))
    assert list(frame.columns) == ["semantic/BERTScore-precision", "semantic/BERTScore-recall",
                                   "semantic/BERTScore-f1", "semantic/cosine", "semantic/retrieval2/top1",
                                   "semantic/retrieval4/top1"]
    assert frame.at[0, "semantic/cosine"] == pytest.approx(1.0)
    assert frame.at[0, "semantic/retrieval4/top1"] == 1.0  # an exact copy always ranks its sentence first


def test_n_way_retrieval_is_seeded_and_finds_exact_copies() -> None:
    rng = np.random.default_rng(0)
    raw_emb = torch.nn.functional.normalize(torch.as_tensor(rng.normal(size=(30, 8))), dim=-1)
    raw = [f"s{i}" for i in range(30)]
    assert n_way_hits(raw_emb, raw_emb, raw, 24).tolist() == [1.0] * 30
    noise = torch.nn.functional.normalize(torch.as_tensor(rng.normal(size=(30, 8))), dim=-1)
    a, b = n_way_hits(noise, raw_emb, raw, 10, seed=3), n_way_hits(noise, raw_emb, raw, 10, seed=3)
    assert np.array_equal(a, b) and a.mean() < 0.5  # chance is 1/10
    assert np.isnan(n_way_hits(raw_emb[:3], raw_emb[:3], raw[:3], 4)).all()  # 3 sentences < 4-way


def test_score_cli_semantic_option(encoder_dir: Path, tmp_path: Path) -> None:
    csv = tmp_path / "in.csv"
    pd.DataFrame({"Input Text": RAW, "Generated Text": GEN}).to_csv(csv, index=False)
    assert score_main([str(csv), "--out", str(tmp_path / "plain")]) == 0
    plain = json.loads((tmp_path / "plain" / "metrics.json").read_text())["metrics"]
    assert not any(k.startswith("semantic/") for k in plain)  # nothing semantic without the option
    assert score_main([str(csv), "--out", str(tmp_path / "sem"), "--semantic", str(encoder_dir)]) == 0
    sem = json.loads((tmp_path / "sem" / "metrics.json").read_text())["metrics"]
    assert "semantic/BERTScore-f1" in sem and "semantic/retrieval2/top1" in sem
    assert score_main([str(csv), "--out", str(tmp_path / "bad"), "--semantic", str(tmp_path / "none")]) == 1
