"""The identity of a processed store, recorded with every training run and test result: its path,
its ``store.json`` (without the per-chunk checksums), its split protocol and a sha256 over its
``store.json`` and ``records.jsonl``."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from infra.provenance import file_sha256

STORE_IDENTITY_FILES = ("store.json", "records.jsonl")  # eeg.npy is too large to hash on every test run


def store_identity(data_dir: str | Path) -> dict[str, Any]:
    """The store's path, its ``store.json`` and a sha256 over its ``store.json`` and ``records.jsonl``."""
    root = Path(data_dir)
    h = hashlib.sha256()
    for name in STORE_IDENTITY_FILES:
        if (root / name).is_file():
            h.update(name.encode() + b"\0" + bytes.fromhex(file_sha256(root / name)))
    info = json.loads((root / "store.json").read_text()) if (root / "store.json").is_file() else None
    if isinstance(info, dict):  # the per-chunk EEG checksums stay in the store (its sha256 covers them)
        info = {k: v for k, v in info.items() if k != "checksums"}
    split = (info or {}).get("split") or {"protocol": "sentences", "recorded": False}  # older stores: the original's
    return {"path": str(root.resolve()), "store.json": info, "sha256": h.hexdigest(), "hashed": list(STORE_IDENTITY_FILES),
            "split": split}
