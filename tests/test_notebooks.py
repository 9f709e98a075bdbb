"""The predict_*.ipynb notebooks execute on a tiny store, a random tiny GLIM and a tiny chat LLM,
with their parameters given through environment variables, in the repository and as a copy outside it."""
from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from tests.eval_factories import eval_store, random_checkpoint, tiny_chat_llm
from tests.paths import ROOT

TASKS = ("corpus", "sentiment", "relation")
ENV = ("GLIM_CKPT", "GLIM_DATA", "GLIM_TEXT_MODEL", "GLIM_LLM", "GLIM_OUT")


@pytest.fixture(scope="module")
def params(tmp_path_factory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("nb")
    return {"GLIM_CKPT": str(random_checkpoint(tmp)), "GLIM_DATA": str(eval_store(tmp / "store", n_sentences=12)),
            "GLIM_TEXT_MODEL": "", "GLIM_LLM": str(tiny_chat_llm(tmp / "llm")), "GLIM_OUT": str(tmp / "out")}


def execute(path: Path, cwd: Path) -> nbformat.NotebookNode:
    """Run a notebook unchanged in a fresh kernel started in ``cwd`` (which inherits the environment)."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


def test_parameters_cell_is_tagged_and_reads_the_environment():
    for task in TASKS:
        first = nbformat.read(ROOT / f"predict_{task}.ipynb", as_version=4).cells[0]
        assert first.cell_type == "code" and "parameters" in first.metadata.get("tags", [])
        for name in ENV:
            assert f'os.environ.get("{name}"' in first.source, (task, name)


@pytest.mark.slow
@pytest.mark.parametrize("task", TASKS)
def test_notebook_executes(task, params, monkeypatch, tmp_path):
    for name, value in params.items():
        monkeypatch.setenv(name, value)
    if task == "relation":  # a copy outside the repository finds the project through GLIM_ROOT
        path = tmp_path / "copy.ipynb"
        shutil.copy(ROOT / f"predict_{task}.ipynb", path)
        monkeypatch.setenv("GLIM_ROOT", str(ROOT))
        nb = execute(path, tmp_path)
    else:
        monkeypatch.delenv("GLIM_ROOT", raising=False)
        nb = execute(ROOT / f"predict_{task}.ipynb", ROOT)
    table = pd.read_csv(Path(params["GLIM_OUT"]) / f"{task}_classification.csv")
    assert table["source"].tolist() == ["EEG vector (zero-shot)", "raw sentence vector (reference)",
                                        "generated sentence vector", "LLM on generated sentence", "chance"]
    assert table["top1"].between(0, 1).all()
    if task == "relation":
        assert table["top3"].iloc[0] >= table["top1"].iloc[0]
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if "image/png" in o.get("data", {})]
    assert images, "the confusion matrices are shown"


@pytest.mark.slow
def test_a_copy_outside_the_repository_without_glim_root_says_so(monkeypatch, tmp_path):
    from nbclient.exceptions import CellExecutionError

    monkeypatch.delenv("GLIM_ROOT", raising=False)
    shutil.copy(ROOT / "predict_corpus.ipynb", tmp_path / "copy.ipynb")
    with pytest.raises(CellExecutionError, match="set GLIM_ROOT"):
        execute(tmp_path / "copy.ipynb", tmp_path)


def make_notebooks(tmp_path: Path, **variables: str) -> list[str]:
    """The documented command, ``make notebooks VAR=...``, with the environment taken as installed
    (``-o``: make never rebuilds it here)."""
    import sys

    venv = Path(sys.executable).parent.parent
    return ["make", "--no-print-directory", "-C", str(ROOT), "-o", f"{venv}/.installed", f"VENV={venv}",
            f"NB_OUT={tmp_path / 'nb'}", *(f"{k}={v}" for k, v in variables.items()), "notebooks"]


def test_make_notebooks_covers_every_notebook(tmp_path):
    import subprocess

    dry = subprocess.run([*make_notebooks(tmp_path), "-n"], capture_output=True, text=True, check=True).stdout
    command = dry.replace("\\\n", " ").split("nbconvert", 1)[1].splitlines()[0]
    assert "--execute" in command and "--to notebook" in command
    names = {p.relative_to(ROOT).as_posix() for p in (*ROOT.glob("*.ipynb"), *ROOT.glob("data/**/*.ipynb"))}
    assert 'GLIM_OVERWRITE="true"' in dry  # its own store (under NB_OUT) is replaced when run again
    other = subprocess.run([*make_notebooks(tmp_path, DATA="data/processed/zuco"), "-n"], capture_output=True,
                           text=True, check=True).stdout
    assert 'GLIM_OVERWRITE="false"' in other  # a store named by the user is not
    assert len(names) == 7 and all(any(Path(n).match(pattern) for pattern in command.split()) for n in names)


@pytest.mark.slow
def test_make_notebooks_runs_them_headless(tmp_path):
    """Steps 1-4 write a store from a synthetic ZuCo tree, predict_corpus reads it: nbconvert, no LLM."""
    import subprocess

    from data.synthetic.corpus import LABELS_FILE, write_corpus

    raw = tmp_path / "raw"
    write_corpus(raw, 1, 1, 12, seed=0)
    out = tmp_path / "nb"
    command = make_notebooks(tmp_path, RAW=raw, VARIANTS=raw / LABELS_FILE, CKPT=random_checkpoint(tmp_path),
                             NOTEBOOKS="data/preprocess/__STEP*.ipynb predict_corpus.ipynb")
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    executed = sorted(p.name for p in (out / "executed").iterdir())
    assert executed == ["__STEP1_texts_labels.ipynb", "__STEP2_uids_variants.ipynb", "__STEP3_eeg.ipynb",
                        "__STEP4_match_split.ipynb", "predict_corpus.ipynb"]
    assert (out / "store" / "store.json").is_file() and (out / "processed" / "zuco_label_table.jsonl").is_file()
    table = pd.read_csv(out / "corpus_classification.csv")
    assert table["source"].iloc[0] == "EEG vector (zero-shot)"
