"""``python -m data.verify STORE``: check every file of a store against its checksums.

Reads each EEG row once and names the rows of any damaged chunk. Exit codes: 0 the store is
intact, 1 damaged (one line per problem on stderr), 2 not a store or a store without checksums.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from data.checksums import bad_eeg_rows, metadata_problems
from data.store import NO_CHECKSUMS, StoreError
from infra.errors import GLIMError
from data.word_store import INFO_KEY as WORD_INFO_KEY
from data.word_store import word_problems


def _info(path: Path) -> dict:
    try:
        info = json.loads((path / "store.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as e:
        raise StoreError(f"{path} is not a readable GLIM store ({type(e).__name__}: {e})") from e
    if not isinstance(info, dict) or not isinstance(info.get("checksums"), dict):
        raise StoreError(NO_CHECKSUMS.format(path=path))
    return info


def problems(path: str | Path) -> list[str]:
    """Every problem of the store at ``path`` (empty when intact); ``StoreError`` when it is not a
    store or has no checksums."""
    path = Path(path)
    info = _info(path)
    checksums = info["checksums"]
    try:
        found = metadata_problems(path, checksums)
        if not any("bytes, store.json says" in p for p in found):
            found += [f"{path / 'eeg.npy'} rows {first}-{last}: checksum mismatch (damaged bytes)"
                      for first, last in bad_eeg_rows(path, checksums, int(info["n_records"]))]
        found += word_problems(path, info, "eeg")
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as e:
        found = [f"{path / 'store.json'}: corrupt checksums ({type(e).__name__} {e})"]
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m data.verify", description=__doc__.split("\n")[0])
    parser.add_argument("store", help="the store directory (e.g. data/processed/zuco)")
    args = parser.parse_args(argv)
    try:
        found = problems(args.store)
    except GLIMError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for line in found:
        print(line, file=sys.stderr)
    if found:
        return 1
    info = _info(Path(args.store))
    chunks = len(info["checksums"]["eeg.npy"]["chunks_sha256"])
    words = info.get(WORD_INFO_KEY)
    extra = f", {words['n_words']} word vectors" if words else ""
    print(f"{args.store}: intact ({info['n_records']} records, {chunks} EEG chunks{extra} checked)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
