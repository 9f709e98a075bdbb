"""test.py with controls end to end on a tiny store + random tiny GLIM, and aggregate.py."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from data.store import open_store
from evaluation.columns import published_columns
from tests.commands import run, run_in_process
from tests.eval_factories import eval_store, random_checkpoint
from tests.ports import free_port

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FAST = ("--progress", "false", "--max_length", "16", "--batch_size", "6", "--retrieval_batch_size", "6",
        "--bootstrap", "400", "--permutations", "400")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("eval")
    store = eval_store(tmp / "store", n_sentences=12)  # 6 test sentences x 4 subjects
    return tmp, store, random_checkpoint(tmp)


@pytest.fixture(scope="module")
def controls_run(setup):
    tmp, store, ckpt = setup
    out = tmp / "res"
    r = run_in_process("test.py", "--ckpt", str(ckpt), "--data_dir", str(store), "--out", str(out), "--controls", "all",
                       *FAST)
    assert r.returncode == 0, r.stderr[-3000:]
    return out, r.stdout


@pytest.mark.slow
def test_controls_command_writes_samples_metrics_comparisons(controls_run, setup):
    out, stdout = controls_run
    samples = pd.read_csv(out / "samples.csv")
    assert len(samples) == 24
    assert list(samples.columns[:len(published_columns())]) == published_columns()
    for col in ("Rouge1-fmeasure@MTV03", "GM\\.BLEU4@RAW", "rank@pool", "retrieval_batch6/top10",
                "P(sentiment=neutral|EEG)", "P(relation=visit|gen)", "P(corpus=movie|raw)", "zero_shot/relation@EEG/top3"):
        assert col in samples.columns, col
    probs = samples[[c for c in samples.columns if c.startswith("P(relation=") and c.endswith("|EEG)")]]
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-6)

    result = json.loads((out / "metrics.json").read_text())
    m = result["metrics"]
    assert m["n_samples"] == 24 and m["retrieval_pool/size"] == 6 and m["retrieval_batch6/n"] == 24
    assert m["Bleu1"] == pytest.approx(samples["Bleu1"].mean())
    assert m["zero_shot/sentiment@EEG/top1"] == pytest.approx(samples["zero_shot/sentiment@EEG/top1"].mean())
    assert {"Bleu1 (w/tf)", "GM\\.BLEU2@MTV07", "retrieval_pool/MRR", "retrieval_pool/median_rank"} <= set(m)
    assert {g["Raw Task Key"] for g in result["groups"]} == {"task1", "task2", "task3"}
    assert len(result["groups"]) == 12  # 3 tasks x 4 subjects
    assert set(result["controls"]) == {"noise", "prompt-free", "shuffled"}
    for name, c in result["controls"].items():
        rows = {r["metric"]: r for r in c["comparison"]}
        assert rows["Bleu1"]["n"] == 24 and rows["zero_shot/sentiment@EEG/top1"]["n"] == 8
        assert rows["retrieval_pool/MRR"]["diff"] == pytest.approx(
            c["metrics"]["retrieval_pool/MRR"] - m["retrieval_pool/MRR"])
        assert 0 < rows["Bleu1"]["p"] <= 1 and rows["Bleu1"]["lo"] <= rows["Bleu1"]["diff"] <= rows["Bleu1"]["hi"]
        ctrl = pd.read_csv(out / "controls" / name / "samples.csv")
        assert ctrl["sample"].tolist() == samples["sample"].tolist()
        assert ctrl["Input Text"].tolist() == samples["Input Text"].tolist()
    assert set(result["grounding"]) == {"generation", "retrieval", "classification"}


@pytest.mark.slow
def test_a_random_checkpoint_is_not_shown_to_be_grounded(controls_run):
    """An untrained GLIM reads nothing from the EEG: no family may be called grounded."""
    out, stdout = controls_run
    result = json.loads((out / "metrics.json").read_text())
    for family, v in result["grounding"].items():
        assert v["tested"] and v["against"] == ["noise", "shuffled"] and not v["grounded"], (family, v)
        assert all(not m["grounded"] and m["p_holm"] >= 0.05 for m in v["metrics"].values())
    lines = [line for line in stdout.splitlines() if line.startswith(("generation:", "retrieval:", "classification:"))]
    assert len(lines) == 3 and all(": NOT shown to be grounded in the EEG" in line for line in lines)
    assert "BLEU-1 @MTV" in stdout and "BLEU-1 @RAW" in stdout and "\\" not in stdout  # readable, no escapes
    assert "prompt-free" not in result["grounding"]["retrieval"]["against"]


@pytest.mark.slow
def test_one_ci_per_result_and_the_baselines_diversity_provenance(controls_run, setup):
    """metrics.json and report.md show the same bootstrap CI; baselines, collapse figures and the
    provenance are in both."""
    out, stdout = controls_run
    result = json.loads((out / "metrics.json").read_text())
    report = (out / "report.md").read_text()
    lo, hi = result["ci95"]["Bleu1"]
    assert f"| BLEU-1 @MTV | {result['metrics']['Bleu1']:.4f} [{lo:.4f}, {hi:.4f}] |" in report
    assert set(result["controls"]["noise"]["ci95"]) == set(result["ci95"])
    assert "GM\\.BLEU1@RAW" in result["ci95"] and "Rouge1-fmeasure@RAW" in result["ci95"]
    assert "| BLEU-1 @RAW |" in report and "GM\\." not in report and "@RAW against the sentence the subject actually read" in report
    zs = result["baselines"]["zero_shot"]["zero_shot/corpus@EEG/top1"]
    samples = pd.read_csv(out / "samples.csv")
    is_movie = (samples["Raw Task Key"] == "task1").mean()
    assert zs["majority_rate"] == pytest.approx(max(is_movie, 1 - is_movie)) and zs["chance"] == 0.5
    chance = result["baselines"]["retrieval_chance"]
    assert chance["retrieval_pool/R@1"] == pytest.approx(1 / 6) and chance["retrieval_batch6/top5"] == pytest.approx(5 / 6)
    assert "balanced acc. from EEG" in report and "majority rate" in report
    d = result["diversity"]
    assert set(d) == {"EEG", "noise", "prompt-free", "shuffled"}
    assert d["EEG"]["distinct generations"] == samples["Generated Text"].fillna("").nunique()
    assert "## Collapse and diversity" in report and "distinct generations:" in stdout
    prov = result["provenance"]
    import hashlib

    assert prov["checkpoint"]["sha256"] == hashlib.sha256(setup[2].read_bytes()).hexdigest()
    assert prov["store"]["store.json"]["format"] == "glim-store" and len(prov["code"]["commit"]) == 40
    assert "## Provenance" in report and prov["checkpoint"]["sha256"] in report
    assert "no training logs found beside the checkpoint" in report  # the random checkpoint has none


@pytest.mark.slow
def test_shuffled_control_reads_eeg_of_another_sentence(controls_run, setup):
    out, _ = controls_run
    records = open_store(setup[1]).records
    shuffled = pd.read_csv(out / "controls" / "shuffled" / "samples.csv")
    own = records["text uid"].to_numpy()[shuffled["record"]]
    partner = records["text uid"].to_numpy()[shuffled["EEG record"]]
    assert (own == shuffled["text uid"]).all() and not (own == partner).any()
    assert sorted(shuffled["EEG record"]) == sorted(shuffled["record"])  # a permutation of the samples
    noise = pd.read_csv(out / "controls" / "noise" / "samples.csv")
    assert (noise["EEG record"] == noise["record"]).all()


@pytest.mark.slow
def test_report_and_figures(controls_run):
    out, _ = controls_run
    report = (out / "report.md").read_text()
    for heading in ("## Is it grounded in the EEG?", "## Generation against each target", "## Retrieval",
                    "## Zero-shot classification", "## EEG vs controls", "### shuffled", "## Per group", "## Examples"):
        assert heading in report
    assert "@MTV07" in report and "teacher-forced" in report
    import matplotlib.image

    pngs = sorted(p.name for p in (out / "figures").glob("*.png"))
    assert pngs == ["controls.png", "metrics.png", "retrieval_ranks.png", "variants.png", "zero_shot_confusion.png"]
    for name in pngs:
        path = out / "figures" / name
        assert path.read_bytes()[:8] == PNG_MAGIC
        img = matplotlib.image.imread(path)
        assert img.shape[0] > 100 and img.shape[1] > 100
        assert f"figures/{name}" in report
    assert not list(out.rglob("*.tmp*"))


@pytest.mark.slow
def test_aggregate_of_runs(controls_run, tmp_path):
    out, _ = controls_run
    second = tmp_path / "run2"
    second.mkdir()
    result = json.loads((out / "metrics.json").read_text())
    result["metrics"]["Bleu1"] = result["metrics"]["Bleu1"] + 0.1
    result["provenance"]["checkpoint"]["sha256"] = "0" * 64  # another seed's checkpoint
    (second / "metrics.json").write_text(json.dumps(result))
    r = run("aggregate.py", str(out), str(second), "--out", str(tmp_path / "agg"))
    assert r.returncode == 0, r.stderr
    agg = json.loads((tmp_path / "agg" / "aggregate.json").read_text())["metrics"]
    b = agg["Bleu1"]
    assert b["n"] == 2 and b["mean"] == pytest.approx(result["metrics"]["Bleu1"] - 0.05)
    assert b["hi"] - b["mean"] == pytest.approx(12.7062 * 0.1 / np.sqrt(2) / np.sqrt(2), rel=1e-4)
    assert "shuffled/retrieval_pool/MRR" in agg and "noise − EEG/Bleu1" in agg
    md = (tmp_path / "agg" / "aggregate.md").read_text()
    assert "| BLEU-1 @MTV |" in md and "| noise − EEG: BLEU-1 @MTV |" in md and "1 degree of freedom" in r.stdout


def test_aggregate_cli_t_interval_and_errors(tmp_path):
    runs = []
    for i, v in enumerate((0.2, 0.3, 0.4)):
        d = tmp_path / f"seed{i}"
        d.mkdir()
        (d / "metrics.json").write_text(json.dumps({"metrics": {"Bleu1": v, "n_samples": 10, "Bleu4": None}}))
        runs.append(str(d))
    r = run("aggregate.py", *runs, "--out", str(tmp_path / "agg"))
    assert r.returncode == 0, r.stderr
    agg = json.loads((tmp_path / "agg" / "aggregate.json").read_text())
    assert agg["metrics"]["Bleu1"]["mean"] == pytest.approx(0.3)
    assert agg["metrics"]["Bleu1"]["lo"] == pytest.approx(0.3 - 4.302653 * 0.1 / np.sqrt(3), rel=1e-5)
    assert "Bleu4" not in agg["metrics"]
    r = run("aggregate.py", *runs, "--out", str(tmp_path / "agg"))
    assert r.returncode == 1 and "--overwrite" in r.stderr
    r = run("aggregate.py", runs[0], str(tmp_path / "nothing"), "--out", str(tmp_path / "agg2"))
    assert r.returncode == 1 and "no metrics.json" in r.stderr and "Traceback" not in r.stderr


def test_control_flags_are_checked_before_loading(setup, tmp_path):
    tmp, store, ckpt = setup
    base = ("--ckpt", str(ckpt), "--data_dir", str(store), "--out", str(tmp_path / "o"))
    r = run("test.py", *base, "--controls", "noise,bogus")
    assert r.returncode == 1 and "bogus" in r.stderr and "prompt-free" in r.stderr
    r = run("test.py", *base, "--noise_input", "true", "--shuffled", "true")
    assert r.returncode == 1 and "choose one" in r.stderr
    r = run("test.py", *base, "--shuffled", "true", "--controls", "noise")
    assert r.returncode == 1 and "EEG run" in r.stderr


@pytest.mark.slow
def test_single_control_run(setup, tmp_path):
    tmp, store, ckpt = setup
    out = tmp_path / "pf"
    r = run_in_process("test.py", "--ckpt", str(ckpt), "--data_dir", str(store), "--out", str(out),
                       "--prompt_free", "true", "--report", "false", *FAST)
    assert r.returncode == 0, r.stderr[-3000:]
    result = json.loads((out / "metrics.json").read_text())
    assert result["condition"] == "prompt-free" and result["prompt_mode"] == "zero" and result["controls"] == {}
    assert not (out / "report.md").exists()
    shutil.rmtree(out)


@pytest.mark.slow
def test_two_ranks_gather_every_test_sample_once_on_rank_zero(setup, tmp_path):
    """torchrun with 2 CPU ranks (gloo): each rank predicts its batches, rank 0 writes the union:
    samples.csv, metrics.json (but for the --out path) and the logged metrics are those of the
    one-process run, byte for byte."""
    import os
    import subprocess
    import sys

    from tests.paths import ROOT

    tmp, store, ckpt = setup
    args = ["--ckpt", str(ckpt), "--data_dir", str(store), *FAST, "--report", "false"]
    single = run_in_process("test.py", *args, "--out", str(tmp_path / "one"))
    assert single.returncode == 0, single.stderr[-2000:]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port",
                          str(free_port()), str(ROOT / "test.py"), *args, "--out", str(tmp_path / "two")],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)
    assert two.returncode == 0, two.stderr[-3000:]
    one = pd.read_csv(tmp_path / "one/samples.csv")
    both = pd.read_csv(tmp_path / "two/samples.csv")
    n_test = int((open_store(store).records["phase"] == "test").sum())
    assert len(both) == n_test and sorted(both["sample"]) == list(range(n_test))
    assert (tmp_path / "two/samples.csv").read_bytes() == (tmp_path / "one/samples.csv").read_bytes()
    results = [json.loads((tmp_path / name / "metrics.json").read_text()) for name in ("one", "two")]
    for result, name in zip(results, ("one", "two")):
        assert result["config"].pop("out") == result["provenance"]["config"].pop("out") == str(tmp_path / name)
    assert results[0] == results[1]
    logged = [(tmp_path / name / "logs/version_0/metrics.csv").read_bytes() for name in ("one", "two")]
    assert logged[0] == logged[1]


@pytest.mark.slow
def test_protocol_drops_the_leftover_or_takes_every_record(setup, tmp_path):
    """Batches of 5 over 4 readers of 6 test sentences leave 4 records in no batch: dropped by
    default (and said so), evaluated with --all_records true."""
    tmp, store, ckpt = setup
    args = ("--ckpt", str(ckpt), "--data_dir", str(store), *FAST, "--batch_size", "5")
    dropped = run_in_process("test.py", *args, "--out", str(tmp_path / "dropped"))
    assert dropped.returncode == 0, dropped.stderr[-3000:]
    assert "protocol: sampler batches, leftover dropped: 20 of 24 records evaluated, 4 left out" in dropped.stdout
    result = json.loads((tmp_path / "dropped" / "metrics.json").read_text())
    assert result["protocol"] == {"name": "sampler batches, leftover dropped", "records": 24, "evaluated": 20,
                                  "left_out": 4}
    assert result["numerics"] == "float32" and result["metrics"]["n_samples"] == 20  # the CPU default
    assert len(pd.read_csv(tmp_path / "dropped" / "samples.csv")) == 20
    assert "20 of 24 records evaluated, 4 left out" in (tmp_path / "dropped" / "report.md").read_text()

    every = run_in_process("test.py", *args, "--out", str(tmp_path / "every"), "--all_records", "true",
                           "--report", "false")
    assert every.returncode == 0, every.stderr[-3000:]
    assert "protocol: all records: 24 of 24 records evaluated, 0 left out" in every.stdout
    result = json.loads((tmp_path / "every" / "metrics.json").read_text())
    assert result["protocol"]["name"] == "all records" and result["protocol"]["left_out"] == 0
    samples = pd.read_csv(tmp_path / "every" / "samples.csv")
    assert sorted(samples["sample"]) == list(range(24))


def test_unknown_numerics_is_refused(setup, tmp_path):
    tmp, store, ckpt = setup
    r = run("test.py", "--ckpt", str(ckpt), "--data_dir", str(store), "--out", str(tmp_path / "o"),
            "--numerics", "fp8")
    assert r.returncode == 1 and "unknown numerics 'fp8'" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "o").exists()


def test_options_and_paths_are_checked_before_loading(setup, tmp_path):
    tmp, store, ckpt = setup
    (tmp_path / "file").write_text("")
    cases = {("--ckpt", str(tmp_path / "none.ckpt")): "checkpoint not found",
             ("--logger", "foo"): "unknown logger 'foo'",
             ("--phase", "dev"): "unknown --phase 'dev'",
             ("--data_dir", str(tmp_path)): str(tmp_path),
             ("--out", str(tmp_path / "file" / "o")): "is not a directory"}
    for option, said in cases.items():
        args = {"--ckpt": str(ckpt), "--data_dir": str(store), "--out": str(tmp_path / "o"), option[0]: option[1]}
        r = run("test.py", *[x for kv in args.items() for x in kv])
        assert r.returncode == 1 and said in r.stderr, (option, r.stderr[-2000:])
        assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, (option, r.stderr)
        assert not (tmp_path / "o").exists()


def test_score_checks_its_input_and_output_before_reading(tmp_path, capsys):
    from evaluation.score import main as score

    (tmp_path / "file").write_text("")
    (tmp_path / "bad.csv").write_bytes(b"\xff\xfe\x00 not a csv")
    assert score([str(tmp_path / "none.csv"), "--out", str(tmp_path / "o")]) == 1
    assert "input file not found" in capsys.readouterr().err
    assert score([str(tmp_path / "bad.csv"), "--out", str(tmp_path / "file" / "o")]) == 1
    assert "is not a directory" in capsys.readouterr().err  # the output, before the unreadable input is read
    (tmp_path / "held").mkdir()
    (tmp_path / "held" / "metrics.json").write_text("{}")
    assert score([str(tmp_path / "bad.csv"), "--out", str(tmp_path / "held")]) == 1
    assert "--overwrite" in capsys.readouterr().err
