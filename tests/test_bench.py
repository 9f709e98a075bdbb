"""The benchmarks' own logic (never their timings): the GPU check's dry run (every code path on the
CPU), its refusal without CUDA, its projection arithmetic, the demo run it checks, and the step
bench's count of encoded time steps."""
from __future__ import annotations

import math
import sys

import numpy as np
import pytest
import torch

from bench import gpu_check
from bench.bench_step import encoded_steps
from bench.demo_check import DemoFailed, demo_check, run, smoke_demo
from bench.workload import Pool


def test_gpu_check_refuses_without_cuda_in_one_line(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert gpu_check.main([]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "CUDA" in err and "Traceback" not in err


def test_gpu_check_dry_run_prints_one_table_of_finite_figures(capsys):
    assert gpu_check.main(["--dry_run", "--skip", "demo"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ")][1:]
    names = [r.split("|")[1].strip() for r in rows]
    assert [n.split(",")[0] for n in names] == ["train step"] * 3 + [
        "GLIM defaults (cache warm) / padded path", "peak memory of a worst-case step",
        "bench.memory_estimate prediction", "generation"]
    assert "cache warm" in names[0] and "cache off" in names[1] and "padded path" in names[2]
    values = {n: float(r.split("|")[2].strip().rstrip("s")) for n, r in zip(names, rows)}
    assert all(math.isfinite(v) and v > 0 for n, v in values.items() if not n.startswith("peak"))  # no GPU: nan
    assert out.strip().endswith("passed")


def test_gpu_check_refuses_unknown_parts(capsys):
    assert gpu_check.main(["--dry_run", "--skip", "demo,tea"]) == 2
    assert capsys.readouterr().err.startswith("error: --skip takes demo, memory, generation, not tea")


@pytest.mark.slow
def test_demo_run_trains_and_tests_one_epoch(tmp_path):
    """The demo part of the GPU check, on the CPU at tiny sizes: the corpus, the store, a tiny T5,
    one epoch of train.py under bf16-mixed and test.py with the noise control, each checked."""
    rows = dict(demo_check(tmp_path, "cpu", smoke_demo()))
    assert (tmp_path / "ckpt" / "last.ckpt").is_file() and (tmp_path / "results" / "report.md").is_file()
    train = next(v for k, v in rows.items() if k.startswith("demo train.py"))
    assert math.isfinite(float(train.split("train/loss ")[1]))
    test = next(v for k, v in rows.items() if k.startswith("demo test.py"))
    assert "retrieval_pool/R@1" in test and "vs noise" in test


def test_demo_step_failure_is_one_line_with_its_log(tmp_path):
    with pytest.raises(DemoFailed, match=r"exited 2: error: .* \(log: .*bad.log\)"):
        run([sys.executable, "train.py", "--config", str(tmp_path / "missing.yaml")], tmp_path / "bad.log")


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


def test_vs_original_table_gives_each_pair_its_ratio_to_the_original(tmp_path):
    from bench.vs_original import ORIGINAL, Pair, markdown

    pairs = [Pair({ORIGINAL: 4.0, "default": 2.0}, {ORIGINAL: 630, "default": 630},
                  {ORIGINAL: 1280, "default": 1170}, 2.1),
             Pair({ORIGINAL: 5.0, "default": 3.0}, {ORIGINAL: 620, "default": 620},
                  {ORIGINAL: 1280, "default": 1150}, 2.3)]
    table = markdown(pairs, ["default"], "head", [2.0, 2.1, 2.3])
    rows = [r for r in table.splitlines() if r.startswith("| ")]
    assert rows[0].startswith("| pair | original s [real / padded] | default s")
    assert rows[2] == "| 1 | 4.00 [630 / 1280] | 2.00 [630 / 1170] | 0.500 | 2.1 |"
    assert rows[3].endswith("| 0.600 | 2.3 |")
    assert rows[4].startswith("| median | 4.50 | 2.50 | **0.55** |")
    assert "2.0 2.1 2.3" in table


def test_vs_original_refuses_bad_options_and_a_missing_original_in_one_line(tmp_path, capsys, monkeypatch):
    from bench import vs_original

    with pytest.raises(SystemExit) as stop:
        vs_original.main(["--harness", str(tmp_path), "--variants", "default,fast"])
    assert stop.value.code == 2 and capsys.readouterr().err.startswith("error: --variants takes default, warm")
    with pytest.raises(SystemExit):
        vs_original.main(["--harness", str(tmp_path / "none")])
    assert capsys.readouterr().err.startswith("error: --harness DIR")
    (tmp_path / "setup.sh").write_text("echo \"echo 'original missing: no git mirror' >&2; exit 3\"\n")
    assert vs_original.main(["--harness", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == "error: original missing: no git mirror\n"


def test_subword_text_model_has_flan_t5_like_token_counts_and_loads(tmp_path):
    """``--tokenizer subword``: the model's files linked, a T5-style tokenizer (pad 0, eos 1 after
    every text) of about 1.35 tokens per word on the texts it was trained on."""
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer, T5Config, T5ForConditionalGeneration

    from bench.subword import TOKENS_PER_WORD, subword_text_model

    rng = np.random.default_rng(0)  # words of 1-3 of 30 syllables: subwords to learn, as in prose
    syllables = [a + b for a in "bcdfglmnprst" for b in "aeiou"][:30]
    word = lambda: "".join(rng.choice(syllables, size=rng.integers(1, 4)))  # noqa: E731
    texts = [" ".join(word() for _ in range(rng.integers(8, 25))).capitalize() + "." for _ in range(600)]
    small = tmp_path / "small"
    T5ForConditionalGeneration(T5Config(vocab_size=384, d_model=16, d_kv=4, d_ff=32, num_layers=1,
                                        num_heads=2, decoder_start_token_id=0)).save_pretrained(small)
    with pytest.raises(ValueError, match="vocabulary of 384"):
        subword_text_model(small, texts, tmp_path / "none")
    model_dir = tmp_path / "model"
    T5ForConditionalGeneration(T5Config(vocab_size=4096, d_model=16, d_kv=4, d_ff=32, num_layers=1,
                                        num_heads=2, decoder_start_token_id=0)).save_pretrained(model_dir)
    out = tmp_path / "subword"
    per_word = subword_text_model(model_dir, texts, out)
    assert abs(per_word - TOKENS_PER_WORD) < 0.05  # 1.71, 1.49, 1.32, 1.11 at 500, 1000, 2000, 4000 tokens
    assert (out / "model.safetensors").is_symlink()
    tok, model = AutoTokenizer.from_pretrained(out), AutoModelForSeq2SeqLM.from_pretrained(out)
    enc = tok(texts[:3], max_length=64, truncation=True, padding="max_length", return_tensors="pt")
    lengths = enc["attention_mask"].sum(1)  # (3,)
    assert (enc["input_ids"][torch.arange(3), lengths - 1] == 1).all() and tok.pad_token_id == 0
    assert int(enc["input_ids"].max()) < model.config.vocab_size
    assert tok.decode(enc["input_ids"][0], skip_special_tokens=True) == texts[0]
