"""The predict_*.ipynb notebooks execute on a tiny store, a random tiny GLIM and a tiny chat LLM."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pandas as pd
import pytest

from tests.eval_factories import eval_store, random_checkpoint, tiny_chat_llm
from tests.paths import ROOT  # noqa: E402

TASKS = ("corpus", "sentiment", "relation")


@pytest.fixture(scope="module")
def params(tmp_path_factory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("nb")
    return {"CKPT": str(random_checkpoint(tmp)), "DATA_DIR": str(eval_store(tmp / "store", n_sentences=12)),
            "TEXT_MODEL": None, "LLM": str(tiny_chat_llm(tmp / "llm")), "OUT": str(tmp / "out")}


def execute(name: str, params: dict) -> nbformat.NotebookNode:
    from nbclient import NotebookClient

    nb = nbformat.read(ROOT / name, as_version=4)
    first = nb.cells[0]
    assert first.cell_type == "code" and first.source.startswith("# parameters")
    for key in params:
        assert f"\n{key} = " in first.source, key
    first.source = "# parameters\n" + "\n".join(f"{k} = {v!r}" for k, v in params.items())
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    return nb


@pytest.mark.slow
@pytest.mark.parametrize("task", TASKS)
def test_notebook_executes(task, params):
    nb = execute(f"predict_{task}.ipynb", params)
    table = pd.read_csv(Path(params["OUT"]) / f"{task}_classification.csv")
    assert table["source"].tolist() == ["EEG vector (zero-shot)", "raw sentence vector (reference)",
                                        "generated sentence vector", "LLM on generated sentence", "chance"]
    assert table["top1"].between(0, 1).all()
    if task == "relation":
        assert table["top3"].iloc[0] >= table["top1"].iloc[0]
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if "image/png" in o.get("data", {})]
    assert images, "the confusion matrices are shown"
