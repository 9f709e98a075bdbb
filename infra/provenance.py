"""The pieces every provenance record of GLIM's results is built from: the code's git commit (and
whether the tree had uncommitted changes), the versions of the packages that compute it, and the
content hash of an input file. Training's ``run.json`` (``training.fit``), the test run's
``metrics.json`` (``evaluation.result``) and the store identity (``data.store_identity``) use them."""
from __future__ import annotations

import hashlib
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Iterable

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("torch", "lightning", "transformers", "torchmetrics", "numpy", "pandas", "scipy", "h5py",
            "jsonargparse")


def git_state(root: Path = ROOT) -> dict[str, str | bool | None]:
    """``{"commit": sha or None, "dirty": bool or None}`` of the checkout holding ``root``; None
    where git or the repository is missing. Dirty means tracked files differ from the commit."""
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def package_versions(names: Iterable[str] = PACKAGES) -> dict[str, str | None]:
    """Installed version of each package (None if absent), and Python's."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's content."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
