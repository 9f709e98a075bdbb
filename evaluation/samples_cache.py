"""The key of a cached ``samples.csv``: what it was computed from (checkpoint, store, text model).

``samples.key.json`` beside the CSV holds the checkpoint's sha256, the store's sha256 (of its
``store.json`` and ``records.jsonl``, ``data.store_identity``) and the text model as
asked for (None: the checkpoint's own). A ``samples.csv`` written by test.py has no key file; its
``metrics.json`` provenance gives the same three fields. The key file also names the sha256 of
the ``samples.csv`` it describes, so a CSV replaced later (e.g. by test.py) is not taken for it."""
from __future__ import annotations

import json
from pathlib import Path

from data.store_identity import store_identity
from infra.atomic import atomic_write_text
from infra.provenance import file_sha256

KEY_FILE = "samples.key.json"
KEY_FIELDS = ("checkpoint_sha256", "store_sha256", "text_model")


def cache_key(ckpt: str | Path, data_dir: str | Path, text_model: str | None) -> dict[str, str | None]:
    """The three fields a cached ``samples.csv`` must match."""
    return {"checkpoint_sha256": file_sha256(ckpt), "store_sha256": store_identity(data_dir)["sha256"],
            "text_model": text_model}


def stored_key(directory: str | Path) -> dict | None:
    """The key of ``directory/samples.csv``: its key file, else test.py's ``metrics.json``; None if neither."""
    directory = Path(directory)
    try:
        if (directory / KEY_FILE).is_file():  # valid for the very samples.csv it was written beside
            key = json.loads((directory / KEY_FILE).read_text())
            if key.get("samples_sha256") == file_sha256(directory / "samples.csv"):
                return key
        if (directory / "metrics.json").is_file():
            result = json.loads((directory / "metrics.json").read_text())
            prov = result["provenance"]
            return {"checkpoint_sha256": prov["checkpoint"]["sha256"], "store_sha256": prov["store"]["sha256"],
                    "text_model": result["config"].get("text_model")}
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return None


def key_mismatch(directory: str | Path, key: dict) -> str | None:
    """None when ``directory/samples.csv`` was made from ``key``, else why not (one line)."""
    old = stored_key(directory)
    if old is None:
        return f"{Path(directory) / 'samples.csv'} has no record of its checkpoint, store and text model"
    differ = [f for f in KEY_FIELDS if old.get(f) != key[f]]
    if not differ:
        return None
    return f"{Path(directory) / 'samples.csv'} was made with another " + ", ".join(
        f"{f.removesuffix('_sha256').replace('_', ' ')} ({str(old.get(f))[:12]} ≠ {str(key[f])[:12]})" for f in differ)


def write_key(directory: str | Path, key: dict) -> Path:
    """Write ``directory/samples.key.json`` atomically, naming the sha256 of ``directory/samples.csv``."""
    path = Path(directory) / KEY_FILE
    key = {**key, "samples_sha256": file_sha256(Path(directory) / "samples.csv")}
    atomic_write_text(path, json.dumps(key, indent=1) + "\n")
    return path
