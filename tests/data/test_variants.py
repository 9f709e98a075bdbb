"""Step 2's text variants with tiny local models: filling, hints, fallback, resume, errors."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from data.preprocess import variants
from data.preprocess.steps import save_label_table
from data.store import LABEL_COLUMNS, VARIANT_COLUMNS
from model.text_model import TextModelError, build_tiny_t5

CHAT_TEMPLATE = ("{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}\n{% endfor %}"
                 "{% if add_generation_prompt %}<reply>{% endif %}")
ROWS = [
    ("A gripping, funny film.", "ZuCo1", "task1", "1", "positive", None),
    ("Dull and far too long.", "ZuCo1", "task1", "-1", "negative", None),
    ("He was born in Paris in 1900.", "ZuCo1", "task2", "NATIONALITY", None, None),
    ("She married the painter in 1920.", "ZuCo2", "task3", "WIFE", None, "marriage"),
    ("He studied law at Yale.", "ZuCo2", "task3", "EDUCATION", None, "education"),
]


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> tuple[str, str]:
    """(tiny causal LM with a chat template, tiny T5), both with a file-free byte tokenizer."""
    import torch
    from transformers import ByT5Tokenizer, LlamaConfig, LlamaForCausalLM

    root = tmp_path_factory.mktemp("models")
    t5 = build_tiny_t5(root / "t5", d_model=32)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=384, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=2048,
                         pad_token_id=0, bos_token_id=1, eos_token_id=1)
    LlamaForCausalLM(config).save_pretrained(root / "llm")
    tokenizer = ByT5Tokenizer()
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(root / "llm")
    return str(root / "llm"), str(t5)


@pytest.fixture
def labels(tmp_path: Path) -> Path:
    table = pd.DataFrame(
        [(t, d, k, False, raw, t, i, s, r) for i, (t, d, k, raw, s, r) in enumerate(ROWS)],
        columns=LABEL_COLUMNS[:9])
    path = tmp_path / "labels.jsonl"
    table.to_json(path, orient="records", lines=True)
    return path


def _run(labels: Path, out: Path, models: tuple[str, str], *extra: str) -> int:
    llm, t5 = models
    return variants.main(["--labels", str(labels), "--out", str(out), "--llm", llm, "--t5", t5,
                          "--batch-size", "4", "--max-new-tokens", "12", *extra])


def _fake_generate(calls: list[list[str]], error_texts: tuple[str, ...] = ()):
    def fake(gen, prompts, **options):
        calls.append(list(prompts))
        answers = []
        for p in prompts:
            sentence = p.rsplit("Sentence: ", 1)[-1] if "Sentence: " in p else p.split(": ", 1)[1]
            if p.startswith(variants.GENERAL_PROMPT.split("\n")[0]):
                answers.append(f"general {sentence}")
            elif sentence in error_texts:
                answers.append(variants.ERROR_MARK)
            else:
                answers.append(f"answer {sentence}")
        return answers
    return fake


def test_all_variants_filled_with_tiny_models(labels, tmp_path, models):
    out = tmp_path / "out.jsonl"
    assert _run(labels, out, models) == 0
    table = pd.read_json(out, lines=True, dtype=False)
    assert list(table.columns[:len(LABEL_COLUMNS)]) == list(LABEL_COLUMNS)
    assert len(table) == len(ROWS)
    for column in VARIANT_COLUMNS:
        assert table[column].map(lambda v: isinstance(v, str) and v.strip() != "").all(), column
    assert not (tmp_path / "out.jsonl.tmp").exists()
    cache = variants.load_cache(f"{out}.cache.jsonl")
    assert len(cache) == len(ROWS) * len(VARIANT_COLUMNS)


def test_sampling_is_seeded(labels, tmp_path, models):
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert _run(labels, first, models, "--limit", "2", "--seed", "7") == 0
    assert _run(labels, second, models, "--limit", "2", "--seed", "7") == 0
    assert first.read_text() == second.read_text()


def test_prompts_carry_the_right_hint(labels, tmp_path, models, monkeypatch):
    calls: list[list[str]] = []
    monkeypatch.setattr(variants, "generate", _fake_generate(calls))
    assert _run(labels, tmp_path / "out.jsonl", models) == 0
    prompts = [p for batch in calls for p in batch]
    for text, _, task, _, sentiment, relation in ROWS:
        mine = [p for p in prompts if p.endswith(f"Sentence: {text}")]
        assert len(mine) == 6  # three principles, two samples
        for p in mine:
            if task == "task1":
                assert variants.SENTIMENT_HINT.format(label=sentiment) in p
            elif task == "task3":
                assert variants.RELATION_HINT.format(label=relation) in p
            else:
                assert "sentiment" not in p and "relation" not in p
        naive = sorted(p for p in prompts if p.endswith(f": {text}") and p not in mine)
        assert naive == [f"Summarize: {text}", f"To English: {text}"]


def test_error_answers_fall_back_to_the_general_prompt(labels, tmp_path, models, monkeypatch):
    calls: list[list[str]] = []
    failing = ROWS[0][0], ROWS[3][0]
    monkeypatch.setattr(variants, "generate", _fake_generate(calls, failing))
    out = tmp_path / "out.jsonl"
    assert _run(labels, out, models) == 0
    table = pd.read_json(out, lines=True, dtype=False).set_index("input text")
    for text, *_ in ROWS:
        expected = "general" if text in failing else "answer"
        for column in VARIANT_COLUMNS[:6]:
            assert table.at[text, column] == f"{expected} {text}"
    general = [p for batch in calls for p in batch if p.startswith("Simplify this sentence")]
    assert len(general) == 6 * len(failing)
    assert variants.RELATION_HINT.format(label="marriage") in "".join(general)


def test_resume_skips_done_answers(labels, tmp_path, models, monkeypatch):
    out = tmp_path / "out.jsonl"
    calls: list[list[str]] = []
    fake = _fake_generate(calls)

    def interrupted(gen, prompts, **options):
        if len(calls) == 3:
            raise KeyboardInterrupt
        return fake(gen, prompts, **options)

    monkeypatch.setattr(variants, "generate", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _run(labels, out, models)
    assert not out.exists()
    done = len(variants.load_cache(f"{out}.cache.jsonl"))
    assert done == 4 + 1 + 4  # lexical v0 in two batches, the first of lexical v1
    monkeypatch.setattr(variants, "generate", fake)
    calls.clear()
    assert _run(labels, out, models) == 0
    assert sum(len(b) for b in calls) == len(ROWS) * len(VARIANT_COLUMNS) - done
    calls.clear()
    assert _run(labels, tmp_path / "again.jsonl", models, "--cache", f"{out}.cache.jsonl") == 0
    assert calls == []
    assert (tmp_path / "again.jsonl").read_text() == out.read_text()


def test_final_write_is_atomic(tmp_path, monkeypatch):
    out = tmp_path / "out.jsonl"
    out.write_text("old\n")
    table = pd.DataFrame({"input text": ["a", "b"], "raw label": [("X", "Y"), float("nan")]})

    def broken(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(variants.os, "replace", broken)
    with pytest.raises(OSError):
        save_label_table(table, out)
    assert out.read_text() == "old\n" and not (tmp_path / "out.jsonl.tmp").exists()
    monkeypatch.undo()
    save_label_table(table, out)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows == [{"input text": "a", "raw label": ["X", "Y"]}, {"input text": "b", "raw label": None}]


def test_missing_models_give_one_clear_line(labels, tmp_path, models, capsys):
    missing = tmp_path / "no-such-model"
    with pytest.raises(variants.InstructionModelError, match="has no config.json.*--local-dir"):
        variants.load_instruction_model(str(missing))
    with pytest.raises(variants.InstructionModelError, match="hf download"):
        variants.load_instruction_model("nobody-here/not-a-model")
    assert _run(labels, tmp_path / "out.jsonl", (str(missing), models[1])) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(missing) in err and "config.json" in err
    assert _run(labels, tmp_path / "out2.jsonl", (models[0], str(missing))) == 2
    assert "config.json" in capsys.readouterr().err
    with pytest.raises(TextModelError, match="--t5"):
        variants.load_t5("nobody-here/not-a-t5")


def test_cache_of_another_model_is_refused(labels, tmp_path, models, monkeypatch):
    monkeypatch.setattr(variants, "generate", _fake_generate([]))
    out = tmp_path / "out.jsonl"
    assert _run(labels, out, models) == 0
    llm, t5 = models
    other = str(Path(llm).with_name("other-llm"))
    with pytest.raises(variants.VariantError, match="--llm"):
        variants.generate_variants(variants.read_label_table(labels), llm=other, t5=t5,
                                   cache_path=f"{out}.cache.jsonl", progress=False)
