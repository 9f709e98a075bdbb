"""Where a test result comes from: the store, the text model, the checkpoint, the code and the config."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from infra.provenance import file_sha256 as sha256_file
from infra.provenance import git_state

STORE_IDENTITY_FILES = ("store.json", "records.jsonl")  # eeg.npy is too large to hash on every test run


def store_identity(data_dir: str | Path) -> dict[str, Any]:
    """The store's path, its ``store.json`` and a sha256 over its ``store.json`` and ``records.jsonl``."""
    root = Path(data_dir)
    h = hashlib.sha256()
    for name in STORE_IDENTITY_FILES:
        if (root / name).is_file():
            h.update(name.encode() + b"\0" + bytes.fromhex(sha256_file(root / name)))
    info = json.loads((root / "store.json").read_text()) if (root / "store.json").is_file() else None
    if isinstance(info, dict):  # the per-chunk EEG checksums stay in the store (its sha256 covers them)
        info = {k: v for k, v in info.items() if k != "checksums"}
    split = (info or {}).get("split") or {"protocol": "sentences", "recorded": False}  # older stores: the original's
    return {"path": str(root.resolve()), "store.json": info, "sha256": h.hexdigest(), "hashed": list(STORE_IDENTITY_FILES),
            "split": split}


def provenance(ckpt: str | Path, data_dir: str | Path, text_model: str | None,
               config: dict[str, Any], training_run: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything a reader needs to trace the result (JSON-safe)."""
    return {"store": store_identity(data_dir), "text_model": text_model,
            "checkpoint": {"path": str(Path(ckpt).resolve()), "sha256": sha256_file(ckpt)},
            "code": git_state(), "config": config,
            "training_seed": (training_run or {}).get("seed")}


def split_text(split: dict[str, Any]) -> str:
    """``sentences (the original's: held-out sentences, shared subjects)`` or the held-out subjects."""
    name = split.get("protocol", "sentences")
    if name == "sentences":
        return "`sentences` (the original's: held-out sentences, shared subjects)"
    return f"`{name}` (held-out subjects: {', '.join(split.get('held_out_subjects', []))})"


def provenance_lines(p: dict[str, Any]) -> list[str]:
    """Markdown bullet lines of a provenance record."""
    store = p["store"]
    code = p["code"] or {}
    info = store["store.json"] or {}
    return [(f"- store: `{store['path']}` ({info.get('n_records', '?')} records; sha256 of "
             f"{' + '.join(store['hashed'])}: `{store['sha256'][:16]}…`)"),
            f"- split protocol: {split_text(store.get('split') or {})}",
            f"- text model: `{p['text_model']}`",
            f"- checkpoint: `{p['checkpoint']['path']}` (sha256 `{p['checkpoint']['sha256']}`)",
            f"- code: git commit `{code.get('commit', 'unknown')}`" + (" with uncommitted changes" if code.get("dirty") else ""),
            f"- training seed: `{p['training_seed']}`",
            "- test configuration: `" + json.dumps(p["config"], sort_keys=True, default=str) + "`"]
