"""Where a test result comes from: the store, the text model, the checkpoint, the code and the config."""
from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

CODE_ROOT = Path(__file__).resolve().parents[1]
STORE_IDENTITY_FILES = ("store.json", "records.jsonl")  # eeg.npy is too large to hash on every test run


def sha256_file(path: str | Path, chunk: int = 1 << 22) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


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


def git_commit(root: Path = CODE_ROOT) -> dict[str, Any] | None:
    """The code's git commit and whether the working tree differs from it (None outside git)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=30, check=True).stdout
    try:
        return {"commit": git("rev-parse", "HEAD").strip(),
                "dirty": bool(git("status", "--porcelain", "--untracked-files=no").strip())}
    except (OSError, subprocess.SubprocessError):
        return None


def provenance(ckpt: str | Path, data_dir: str | Path, text_model: str | None,
               config: dict[str, Any], training_run: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything a reader needs to trace the result (JSON-safe)."""
    return {"store": store_identity(data_dir), "text_model": text_model,
            "checkpoint": {"path": str(Path(ckpt).resolve()), "sha256": sha256_file(ckpt)},
            "code": git_commit(), "config": config,
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
