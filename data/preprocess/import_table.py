"""Convert the original pipeline's pickled EEG table into a GLIM store.

    python -m data.preprocess.import_table zuco_eeg_label_8variants.df --out data/processed/zuco

The table (a pandas pickle) has one row per EEG record: ``eeg`` (1280, 128) float array,
``mask`` (1280,), ``subject``, a label id, the label-table columns and ``phase``. It is
read with the restricted unpickler of ``infra.unpickle`` (a pickle that names anything but the
globals of a DataFrame of this format is refused) and, being a pickle, is loaded whole: the
machine needs memory for the full table. Rows whose EEG or mask is unusable are reported
on one line each and left out; the store appears only when the import completes.
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
from rich.console import Console
from rich.progress import track

from data.preprocess.steps import PICKLE_WARNING
from data.store import EEG_CHANNELS, EEG_LEN, LABEL_COLUMNS, PHASES, StoreWriter
from infra.errors import GLIMError
from infra.unpickle import load_table_pickle

EEG_TABLE_COLUMNS = ("eeg", "mask", "subject", "phase", *LABEL_COLUMNS)


class TableImportError(GLIMError, ValueError):
    """The table cannot be imported (one line for the user)."""


def _eeg_and_length(eeg: Any, mask: Any) -> tuple[np.ndarray, int]:
    """The (time x channel) float32 EEG and its number of real samples, or ValueError."""
    array = np.asarray(eeg, dtype=np.float32)
    if array.ndim != 2 or array.shape[0] > EEG_LEN or array.shape[1] > EEG_CHANNELS:
        raise ValueError(f"EEG of shape {array.shape}, expected at most ({EEG_LEN}, {EEG_CHANNELS})")
    if not np.isfinite(array).all():
        raise ValueError("non-finite EEG")
    flags = np.asarray(mask).ravel() != 0
    length = int(flags.sum())
    if length == 0 or not flags[:length].all():
        raise ValueError("mask is not a non-empty prefix of ones")
    return array, length


def import_eeg_table(table: pd.DataFrame, out: str | Path,
                     echo: Callable[[str], None] = print, source: str = "") -> Counter:
    """Write the rows of an EEG table to the store ``out``; returns the counts per phase and
    of dropped rows (key ``dropped``)."""
    absent = [c for c in EEG_TABLE_COLUMNS if c not in table.columns]
    if absent:
        raise TableImportError(f"the EEG table lacks the columns {absent}")
    counts: Counter = Counter()
    with StoreWriter(out, info={"label_source": source or "EEG table import"}) as writer:
        rows = table[list(EEG_TABLE_COLUMNS)].itertuples(index=True, name=None)
        for index, eeg, mask, subject, phase, *labels in track(rows, total=len(table),
                                                                description="importing"):
            try:
                if phase not in PHASES:
                    raise ValueError(f"unknown phase {phase!r}")
                array, length = _eeg_and_length(eeg, mask)
            except ValueError as error:
                echo(f"{source or 'table'}: row {index}: {error}")
                counts["dropped"] += 1
                continue
            record = {"eeg_len": length, "subject": subject, "phase": phase,
                      **dict(zip(LABEL_COLUMNS, labels))}
            writer.append(array[:length], record)
            counts[phase] += 1
        if writer.n == 0:
            raise TableImportError("no row could be imported")
        writer.info["summary"] = dict(counts)
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m data.preprocess.import_table",
                                     description="Convert the original pickled EEG table into a GLIM store.")
    parser.add_argument("table", help="the pickled EEG table, e.g. zuco_eeg_label_8variants.df")
    parser.add_argument("--out", default="data/processed/zuco", help="store to write (default %(default)s)")
    args = parser.parse_args(argv)
    console = Console(highlight=False, soft_wrap=True)
    echo = lambda line: console.print(line, markup=False)  # noqa: E731
    path = Path(args.table)
    if not path.is_file():
        echo(f"error: EEG table not found: {path}")
        return 2
    echo(PICKLE_WARNING.format(path=path))
    try:
        table = load_table_pickle(path)
        counts = import_eeg_table(table, args.out, echo=echo, source=str(path))
    except GLIMError as error:
        echo(f"error: {error}")
        return 2
    except Exception as error:  # an unreadable pickle is a one-line error, not a traceback
        echo(f"error: cannot import {path}: {type(error).__name__}: {error}")
        return 2
    echo(", ".join(f"{k} {counts[k]}" for k in (*PHASES, "dropped")) + f"; store written: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
