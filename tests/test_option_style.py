"""One option style in every command: underscores, no abbreviations, and an unknown option (a
misspelling, an abbreviation, the hyphenated spelling) is one ``error:`` line naming the closest
valid option, exit status 2. Walks every command of the project (``COMMANDS``, checked complete)."""
from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys

import pytest

from infra.options import check_option_names, closest_option
from tests.paths import ROOT

COMMANDS = [  # (file with the __main__ guard, the command as typed, module whose main() parses, an option)
    ("train.py", "python train.py", "train", "--max_epochs"),
    ("test.py", "python test.py", "test", "--num_beams"),
    ("aggregate.py", "python aggregate.py", "evaluation.across_runs", "--allow_different"),
    ("evaluation/across_runs.py", "python aggregate.py", "evaluation.across_runs", "--overwrite"),
    ("evaluation/compare.py", "python -m evaluation.compare", "evaluation.compare", "--permutations"),
    ("evaluation/score.py", "python -m evaluation.score", "evaluation.score", "--generated_col"),
    ("data/prepare.py", "python -m data.prepare", "data.preprocess.prepare", "--word_features"),
    ("data/preprocess/prepare.py", "python -m data.prepare", "data.preprocess.prepare", "--materials"),
    ("data/preprocess/import_table.py", "python -m data.preprocess.import_table", "data.preprocess.import_table",
     "--out"),
    ("data/preprocess/variants.py", "python -m data.preprocess.variants", "data.preprocess.variants",
     "--max_new_tokens"),
    ("data/verify.py", "python -m data.verify", "data.verify", "--help"),
    ("data/synthetic/__main__.py", "python -m data.synthetic", "data.synthetic.corpus", "--signal_to_noise"),
    ("data/synthetic/corpus.py", "python -m data.synthetic", "data.synthetic.corpus", "--word_features"),
    ("data/synthetic/tiny_t5.py", "python -m data.synthetic.tiny_t5", "data.synthetic.tiny_t5", "--pretrain_on"),
    ("data/synthetic/tiny_bart.py", "python -m data.synthetic.tiny_bart", "data.synthetic.tiny_bart", "--mask_rate"),
    ("bench/bench_data_memory.py", "python -m bench.bench_data_memory", "bench.bench_data_memory", "--sizes_gb"),
    ("bench/bench_eval.py", "python -m bench.bench_eval", "bench.bench_eval", "--sentences"),
    ("bench/bench_metrics.py", "python -m bench.bench_metrics", "bench.bench_metrics", "--process"),
    ("bench/bench_prepare.py", "python -m bench.bench_prepare", "bench.bench_prepare", "--workers"),
    ("bench/bench_step.py", "python -m bench.bench_step", "bench.bench_step", "--warmup"),
    ("bench/gpu_check.py", "python -m bench.gpu_check", "bench.gpu_check", "--dry_run"),
    ("bench/memory_estimate.py", "python -m bench.memory_estimate", "bench.memory_estimate", "--target_tokens"),
    ("bench/run_all.py", "python -m bench.run_all", "bench.run_all", "--only"),
    ("bench/demo_seeds.py", "python -m bench.demo_seeds", "bench.demo_seeds", "--jobs"),
    ("bench/vs_original.py", "python -m bench.vs_original", "bench.vs_original", "--variants"),
    ("model/bart.py", "python -m model.bart", "model.bart", "--d_model"),
]
INTERNAL = {"bench/step_worker.py"}
"""Run by another command with positional arguments (``bench.vs_original`` starts it), not by users."""
SKIP = {".venv", ".git", "tests", "shared", "checkpoints", "results"}


def main_files() -> set[str]:
    """Every file of the project a user can run: a ``__main__`` guard or a ``__main__.py``."""
    found = set()
    for dirpath, dirnames, filenames in os.walk(ROOT):
        dirnames[:] = [d for d in dirnames if d not in SKIP and not d.startswith(".")]
        for name in filenames:
            path = os.path.join(dirpath, name)
            if name.endswith(".py") and (name == "__main__.py" or "__name__ == \"__main__\"" in open(path).read()):
                found.add(os.path.relpath(path, ROOT))
    return found


def test_every_command_is_walked():
    assert main_files() - INTERNAL == {file for file, *_ in COMMANDS}


def bad_spellings(option: str) -> list[str]:
    """What users type instead of ``option``: an abbreviation, a typo, the hyphenated spelling."""
    name = option[2:]
    bad = [option[:-1], "--" + name[:-1] + name[-1] * 2]
    return bad + (["--" + name.replace("_", "-")] if "_" in name else [])


def run_main(module: str, argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        status = importlib.import_module(module).main(argv)
    except SystemExit as e:
        status = e.code
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("file, command, module, option", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_an_unknown_option_is_one_line_naming_the_closest(file, command, module, option, capsys):
    for bad in bad_spellings(option) if option != "--help" else ["--hepl", "--hel"]:
        status, out, err = run_main(module, [bad, "1"], capsys)
        assert status == 2 and out == ""
        assert err == f"error: unknown option {bad}; did you mean {option}? (see {command} --help)\n", err
    status, out, err = run_main(module, ["--no_such_option_at_all=3"], capsys)
    assert status == 2 and err == f"error: unknown option --no_such_option_at_all (see {command} --help)\n"


@pytest.mark.parametrize("command, argv, message", [
    ("train", ["--max_epochs", "x"], "--max_epochs: expected int, got x"),
    ("test", ["--ckpt", "a.ckpt", "--num_beams", "x"], "--num_beams: expected int, got x"),
    ("test", ["--num_beams", "2"], "--ckpt is required"),
    ("evaluation.compare", ["a", "b", "--out", "o", "--seed", "x"], "argument --seed: invalid int value: 'x'"),
    ("data.preprocess.prepare", ["--word_features", "XYZ"], "argument --word_features: invalid choice: 'XYZ'"),
])
def test_a_bad_value_is_one_line_too(command, argv, message, capsys):
    status, out, err = run_main(command, argv, capsys)
    assert status == 2 and len(err.splitlines()) == 1 and err.startswith(f"error: {message}"), err
    assert err.rstrip().endswith("--help)")


def test_run_as_a_process_the_exit_status_is_2():
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-m", "data.verify", "store", "--stor"], capture_output=True, text=True,
                       cwd=ROOT, env=env, timeout=120)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr == "error: unknown option --stor (see python -m data.verify --help)\n"


def test_closest_option():
    known = ["--max_epochs", "--data.batch_size", "--text_model", "--model.hidden_dim", "-h"]
    assert closest_option("--text-model", known) == "--text_model"
    assert closest_option("--data-batch-size", known) == "--data.batch_size"
    assert closest_option("--model.hidden-dim", known) == "--model.hidden_dim"
    assert closest_option("--zzz", known) is None
    check_option_names(["--max_epochs=3", "--", "--not_an_option"], known)  # after --: positional
    with pytest.raises(ValueError, match=re.escape("unknown option --max_epoch; did you mean --max_epochs?")):
        check_option_names(["--data.batch_size", "4", "--max_epoch", "1"], known)
