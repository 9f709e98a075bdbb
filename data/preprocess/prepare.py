"""Build the processed GLIM store from the raw ZuCo download: ``python -m data.prepare``.

    python -m data.prepare --raw data/raw_data --out data/processed/zuco \\
        [--labels TABLE | --variants TABLE] [--materials DIR] [--workers N] [--split PROTOCOL]
        [--word_features auto|none|GD|FFD|TRT] [--overwrite] [--strict]

Raw-data layout (docs/protocol.md §inputs; the task materials sit in each release's own ``task_materials``
folder, as ZuCo ships them; ``--materials DIR`` points elsewhere, to a folder holding the CSVs
of both releases or ``ZuCo1/`` and ``ZuCo2/`` sub-folders)::

    raw_data/ZuCo1/task1- SR/Matlab files/results{SUBJ}_SR.mat
    raw_data/ZuCo1/task2 - NR/Matlab files/results{SUBJ}_NR.mat
    raw_data/ZuCo1/task3 - TSR/Matlab files/results{SUBJ}_TSR.mat
    raw_data/ZuCo1/task_materials/{sentiment_labels_task1,relations_labels_task2,relations_labels_task3}.csv
    raw_data/ZuCo2/task1 - NR/Matlab files/results{SUBJ}_NR.mat
    raw_data/ZuCo2/task2 - TSR/Matlab files/results{SUBJ}_TSR.mat
    raw_data/ZuCo2/task_materials/{nr_K,nr_K_control_questions,tsr_K}.csv   (K = 1..7)

The label table comes from ``--labels`` (the published ``zuco_label_8variants.df`` pickle, or a
``.jsonl``/``.csv`` label table such as ``python -m data.preprocess.variants`` writes), or from steps 1–2
on the task materials with the text variants of ``--variants``. Files are read in the original's
order (dataset, task folder, subject; ``--workers`` at a time, the order is kept), their kept EEG
spilled to a temporary file, matched to label rows and appended to the store: memory does not
grow with the corpus. The split comes from the matched records (docs/protocol.md §split: a sentence that no
subject's EEG kept takes no part), so each record's phase is set once every file is in, before
the store is published. Every dropped record or file is reported on one line and counted in the
final summary; the store appears only when the run completes.

The word-level EEG features of every stored record (``data.preprocess.word_features``: the band
values of one eye-tracking measure per fixated word; the input of the BrainTranslator baseline,
not of GLIM) are read in the same pass and stored beside the EEG (``data.word_store``):
``--word_features auto`` (default) stores the ``GD`` values when the files hold them and nothing
otherwise, ``GD``/``FFD``/``TRT`` require them (an error when no file holds any), ``none`` skips
them. Records without word vectors are kept (GLIM reads their EEG) and listed by file and reason.

An existing store is replaced only with ``--overwrite``. A record that matches no label row, or
that cannot be read (a damaged file, a missing field, a malformed array), is a *problem*; the
drops the protocol prescribes (docs/protocol.md §eeg: missing sentences, non-finite EEG, too short
or too long, excluded subjects) are not. ``--split`` chooses the split protocol (``data.preprocess.split``). Exit codes:

- 0: the store is written, no problem;
- 1: the store is written, but problems occurred: they are listed first in the summary;
- 2: an error (on stderr), nothing written: bad options or inputs, an existing store without
  ``--overwrite``, a full disk or an unwritable directory;
- 3: ``--strict`` and problems occurred: nothing written;
- 130: interrupted (Ctrl-C, SIGTERM), nothing written.

What a killed run leaves beside the store (``.<out>.spill-*``, ``<out>.partial``) is removed by
the next run.
"""
from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
from collections import Counter
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import closing, nullcontext
from dataclasses import dataclass, field
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator, Sequence

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from data.preprocess.output import (
    clean_leftovers,
    existing_output,
    spill_prefix,
    write_error,
)
from data.preprocess.readers import (
    RAW_CHANNELS,
    ZUCO1,
    ZUCO2,
    RawFile,
    SentenceRecord,
    find_raw_files,
    read_sentences,
)
from data.preprocess.split import (
    EXCLUDED,
    SENTENCES,
    SplitError,
    SplitProtocol,
    parse_split,
    subject_phases,
)
from data.preprocess.steps import (
    AMBIGUOUS,
    KEPT_CHANNELS,
    NO_ROW,
    Drop,
    DropRecord,
    LabelTableError,
    Tally,
    build_label_table,
    label_groups,
    match_group,
    missing_columns,
    preprocess_eeg,
    read_checked_table,
    read_texts_labels,
    record_phases,
    rows_without_variants,
    save_label_table,
)
from data.preprocess.word_features import (
    BANDS,
    DEFAULT_MEASURE,
    MAX_WORDS,
    MEASURES,
    NORMALISATION,
    WORD_DIM,
    WordReader,
    WordTally,
)
from data.store import EEG_CHANNELS, EEG_LEN, LABEL_COLUMNS, PHASES, StoreWriter
from infra.errors import GLIMError
from infra.options import OptionParser
from infra.progress import progress
from infra.wording import counted, listed

MATERIALS_DIR = "task_materials"
NO_VARIANTS_HINT = ("pass --labels TABLE (the published zuco_label_8variants.df or a label table "
                    ".jsonl/.csv), or generate variants with `python -m data.preprocess.variants "
                    "--labels {table} --out LABELS.jsonl ...` and pass --labels LABELS.jsonl")


EXPECTED_DROPS = ("excluded subject", "no EEG (missing sentence)", "empty EEG", "non-finite EEG",
                  "too short", "too long")
"""Drops the protocol prescribes (docs/protocol.md §eeg) (reason prefixes); every other drop is a problem."""
EXIT_OK, EXIT_PROBLEMS, EXIT_ERROR, EXIT_STRICT, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
AUTO, NONE = "auto", "none"
WORD_FEATURE_CHOICES = (AUTO, NONE, *MEASURES)


class PrepareError(GLIMError, RuntimeError):
    """A problem that stops the run before anything is written (one line for the user)."""


class StrictError(PrepareError):
    """``--strict`` and records that matched no label row or could not be read."""


def is_problem(drop: Drop) -> bool:
    """Whether ``drop`` is an unmatched or unreadable record or file, not a prescribed drop."""
    return drop.reason in (NO_ROW, AMBIGUOUS) or not drop.reason.startswith(EXPECTED_DROPS)


def default_workers() -> int:
    """Files read in parallel by default: the CPUs this process may use, at most 8."""
    return max(1, min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                      else os.cpu_count() or 1, 8))


@dataclass
class KeptSentence:
    """A sentence whose EEG passed step 3 (its EEG is in the file's spill file)."""

    index: int
    text: str
    eeg_len: int
    n_words: int = 0  # its word vectors follow in the file's word spill
    word_counts: Counter | None = None
    word_reason: str | None = None


@dataclass
class FileResult:
    """Outcome of step 3 on one file."""

    file: RawFile
    where: str
    eeg_path: Path
    words_path: Path | None = None  # the kept sentences' word vectors, when extracted
    n_sentences: int = 0
    kept: list[KeptSentence] = field(default_factory=list)
    drops: list[Drop] = field(default_factory=list)


@dataclass
class Summary:
    """Counts of a run, by dataset and phase, and the drop tally."""

    tally: Tally
    sentences: Counter = field(default_factory=Counter)
    kept: Counter = field(default_factory=Counter)
    stored: Counter = field(default_factory=Counter)
    problems: list[Drop] = field(default_factory=list)
    words: WordTally | None = None  # when word features are extracted

    def drop(self, drop: Drop) -> None:
        """Count and echo a drop; keep it among the problems if it is one."""
        self.tally.drop(drop)
        if is_problem(drop):
            self.problems.append(drop)

    def as_dict(self) -> dict[str, Any]:
        return {"sentences": dict(self.sentences), "kept_after_step3": dict(self.kept),
                "stored": {f"{d} {p}": n for (d, p), n in sorted(self.stored.items())},
                "dropped": {r: {"records": n, "files": f} for r, n, f in self.tally.rows()},
                "problems": len(self.problems),
                **({"word_features": self.words.as_dict()} if self.words is not None else {})}


# ---------------------------------------------------------------------------------------------
# label table
# ---------------------------------------------------------------------------------------------

def materials_dirs(raw_dir: str | Path, materials: str | Path | None = None) -> tuple[Path, Path]:
    """Task-material folders of ZuCo 1.0 and 2.0 (see the module docstring)."""
    if materials is None:
        return Path(raw_dir) / ZUCO1 / MATERIALS_DIR, Path(raw_dir) / ZUCO2 / MATERIALS_DIR
    base = Path(materials)
    if not base.is_dir():
        raise PrepareError(f"task-material directory not found: {base}")
    pick = [base / name if (base / name).is_dir() else base for name in (ZUCO1, ZUCO2)]
    return pick[0], pick[1]


def _read_table(path: str | Path, what: str, warn: Callable[[str], None]) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise PrepareError(f"{what} not found: {path}")
    try:
        return read_checked_table(path, what, warn)
    except LabelTableError as error:
        raise PrepareError(str(error)) from None


def label_table_path(out_dir: str | Path) -> Path:
    """Where a run without variants leaves the label table of steps 1–2 (beside the store)."""
    out_dir = Path(out_dir)
    return out_dir.with_name(out_dir.name + ".labels.jsonl")


def resolve_labels(raw_dir: Path, out_dir: Path, labels: str | Path | None,
                   materials: str | Path | None, variants: str | Path | None, tally: Tally,
                   warn) -> pd.DataFrame:
    """The complete label table (all ``LABEL_COLUMNS``), or a ``PrepareError``.

    Without ``labels`` and without variants, the label table of steps 1–2 is written beside the
    store (``label_table_path``) for ``python -m data.preprocess.variants`` and the run stops.
    """
    if labels is not None:
        table = _read_table(labels, "label table", warn)
        absent = missing_columns(table)
        if absent:
            raise PrepareError(f"label table {labels} lacks the columns {absent}")
        source = f"label table {labels}"
    else:
        rows = read_texts_labels(*materials_dirs(raw_dir, materials), tally=tally)
        if rows.empty:
            raise PrepareError(f"no task materials found for {raw_dir} (see --materials); "
                               + NO_VARIANTS_HINT.format(table="TABLE"))
        table = build_label_table(rows, _read_table(variants, "variant table", warn) if variants else None)
        source = "steps 1-2" + (f" with the variants of {variants}" if variants else "")
    lacking = rows_without_variants(table)
    if lacking and labels is None:
        written = save_label_table(table, label_table_path(out_dir))
        raise PrepareError(f"{lacking} of {len(table)} label rows from {source} have no text "
                           f"variants (their table is in {written}): "
                           + NO_VARIANTS_HINT.format(table=written))
    if lacking:
        raise PrepareError(f"{lacking} of {len(table)} rows of {source} have no text variants: "
                           + NO_VARIANTS_HINT.format(table="TABLE"))
    return table


# ---------------------------------------------------------------------------------------------
# step 3 per file (runs in worker processes when --workers > 1)
# ---------------------------------------------------------------------------------------------

def _file_result(raw_file: RawFile, where: str, eeg_path: Path, measure: str | None) -> FileResult:
    """An empty result of ``raw_file``, its word vectors spilled beside ``eeg_path`` with a ``measure``."""
    return FileResult(raw_file, where, eeg_path, eeg_path.with_name(eeg_path.name + ".words") if measure else None)


def process_file(raw_file: RawFile, where: str, eeg_path: Path, measure: str | None = None) -> FileResult:
    """Read one file and apply step 3 to each sentence.

    The kept EEG is spilled to ``eeg_path`` in file order, unpadded (``eeg_len`` x 104 float32
    each), and with a word ``measure`` the kept sentences' word vectors to ``<eeg_path>.words``
    (w x 840 float32 each); an unexpected failure part-way drops the rest of the file, reported,
    and keeps the rest.
    """
    result = _file_result(raw_file, where, eeg_path, measure)
    if raw_file.problem is not None:
        result.drops.append(Drop(where, None, raw_file.problem))
        return result
    reader = WordReader(measure) if measure else None
    with open(eeg_path, "wb") as spill, \
            (open(result.words_path, "wb") if result.words_path else nullcontext()) as word_spill:
        try:
            for sentence in read_sentences(raw_file.path, words=reader):
                _process_sentence(sentence, result, spill, word_spill)
        except Exception as error:  # bad input must not stop the run
            result.drops.append(Drop(where, None, "failed while reading",
                                     f"{type(error).__name__}: {error}"))
    return result


def _process_sentence(sentence: SentenceRecord, result: FileResult, spill: BinaryIO,
                      word_spill: BinaryIO | None = None) -> None:
    where = result.where
    if sentence.index is None:
        result.drops.append(Drop(where, None, sentence.reason or "?", sentence.detail))
        return
    result.n_sentences += 1
    if sentence.reason is not None:
        result.drops.append(Drop(where, sentence.index, sentence.reason, sentence.detail))
        return
    try:
        eeg, mask = preprocess_eeg(sentence.eeg)
    except DropRecord as drop:
        result.drops.append(Drop(where, sentence.index, drop.reason, drop.detail))
        return
    length = int(mask.sum())
    spill.write(eeg[:length, :KEPT_CHANNELS].tobytes())
    kept = KeptSentence(sentence.index, sentence.text, length)
    if word_spill is not None and sentence.words is not None:
        word_spill.write(sentence.words.vectors.tobytes())
        kept.n_words = len(sentence.words.vectors)
        kept.word_counts, kept.word_reason = sentence.words.counts, sentence.words.reason
    result.kept.append(kept)


READER_CRASHED = "reader crashed"
"""The drop reason of a file whose reading killed its worker process (e.g. a segfault in
``scipy.io.loadmat`` on some damaged uncompressed v5 files)."""


def _pool(workers: int) -> ProcessPoolExecutor:
    # forkserver: the modules are imported once, in the server, and every worker forks from it
    method = "forkserver" if "forkserver" in get_all_start_methods() else "spawn"
    return ProcessPoolExecutor(max_workers=workers, mp_context=get_context(method))


def _alone(job: tuple[RawFile, str, Path, str | None]) -> FileResult:
    """``process_file(*job)`` in a worker process of its own; a file whose reading kills that
    process gives a result with no sentence and a ``READER_CRASHED`` drop."""
    with _pool(1) as pool:
        try:
            return pool.submit(process_file, *job).result()
        except BrokenProcessPool:
            result = _file_result(*job)
            for spill in (result.eeg_path, result.words_path):
                if spill is not None:
                    spill.write_bytes(b"")  # whatever the dead worker spilled is not kept
            result.drops.append(Drop(result.where, None, READER_CRASHED,
                                     "its reader killed the worker process; the file is skipped"))
            return result


def _file_results(jobs: Sequence[tuple[RawFile, str, Path, str | None]], workers: int) -> Iterator[FileResult]:
    """``process_file`` over ``jobs`` in order, at most ``workers`` files at a time. When a worker
    process dies (a reader crashed), the files in flight are read again one at a time, each in a
    process of its own, so that only the file that crashes its reader is dropped; then the pool is
    started again for the rest. With ``workers`` <= 1 the files are read in this process."""
    if workers <= 1:
        for job in jobs:
            yield process_file(*job)
        return
    jobs, done = list(jobs), 0
    while done < len(jobs):
        submitted = done
        with _pool(workers) as pool:
            pending: list[Future] = []
            try:
                while done < len(jobs):
                    while submitted < len(jobs) and len(pending) <= workers:
                        pending.append(pool.submit(process_file, *jobs[submitted]))
                        submitted += 1
                    result = pending[0].result()
                    pending.pop(0)
                    done += 1
                    yield result
            except BrokenProcessPool:
                pass  # the files done .. submitted - 1 are read again below, each alone
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise
        while done < submitted:
            yield _alone(jobs[done])
            done += 1


# ---------------------------------------------------------------------------------------------
# the run
# ---------------------------------------------------------------------------------------------

def _store_file(result: FileResult, writer: StoreWriter, groups: dict, label_records: dict,
                stored_rows: list[int], summary: Summary) -> None:
    """Match the kept sentences of one file and append them to the store in file order, their
    phase left unset; the label row of each stored record is appended to ``stored_rows``."""
    raw_file = result.file
    rows = groups.get((raw_file.dataset, raw_file.task))
    if rows is None:
        summary.drop(Drop(result.where, None, "no label rows for its dataset and task",
                        counted(len(result.kept), "record")))
        return
    matches = match_group([k.text for k in result.kept], rows, raw_file.task)
    with open(result.eeg_path, "rb") as spill, \
            (open(result.words_path, "rb") if result.words_path else nullcontext()) as word_spill:
        for kept, (row, reason) in zip(result.kept, matches):
            eeg = np.fromfile(spill, dtype=np.float32, count=kept.eeg_len * KEPT_CHANNELS)
            words = None if word_spill is None else np.fromfile(
                word_spill, dtype=np.float32, count=kept.n_words * WORD_DIM).reshape(kept.n_words, WORD_DIM)
            if reason is not None:
                summary.drop(Drop(result.where, kept.index, reason, kept.text[:60]))
                continue
            eeg, record = eeg.reshape(kept.eeg_len, KEPT_CHANNELS), {
                "eeg_len": kept.eeg_len, "subject": raw_file.subject, "phase": None, **label_records[row]}
            if kept.n_words:
                writer.append(eeg, record, words)
            else:  # no word vector, or none extracted
                writer.append(eeg, record)
            stored_rows.append(row)
            if summary.words is not None:
                summary.words.add(result.where, kept.n_words, kept.word_counts, kept.word_reason)


def _set_phases(writer: StoreWriter, table: pd.DataFrame, label_records: dict,
                stored_rows: list[int], subjects: list[str], split: SplitProtocol,
                summary: Summary) -> None:
    """Split the stored records by text uid (``record_phases``), then by subject under a held-out
    subject protocol (``data.preprocess.split``), and set their phases."""
    keys = [(label_records[row]["dataset"], label_records[row]["task"],
             label_records[row]["text uid"]) for row in stored_rows]
    phases = record_phases(keys, table["text uid"].tolist())
    if split.name != SENTENCES:
        try:
            phases = subject_phases(split, subjects, [uid for _, _, uid in keys], phases)
        except SplitError as error:
            raise PrepareError(f"--split {split.name}: {error}") from None
    writer.set_column("phase", phases)
    summary.stored.update((dataset, phase) for (dataset, _, _), phase in zip(keys, phases))


def prepare(raw_dir: str | Path, out_dir: str | Path, labels: str | Path | None = None,
            materials: str | Path | None = None, variants: str | Path | None = None,
            workers: int = 1, console: Console | None = None, overwrite: bool = False,
            strict: bool = False, split: SplitProtocol = SplitProtocol(),
            word_features: str = AUTO) -> Summary:
    """Run steps 1–4 and write the store at ``out_dir``; returns the counts of the run.

    ``word_features``: ``auto`` (the ``GD`` word features when the files hold them), ``none``, or
    a measure of ``data.preprocess.word_features.MEASURES`` (required: an error when none is found).

    ``PrepareError`` (nothing written) for an existing output without ``overwrite``, bad inputs,
    a full disk or an unwritable directory, and with ``strict`` for any problem (``is_problem``).
    """
    console = console or Console(highlight=False, soft_wrap=True)
    echo = lambda line: console.print(line, markup=False, highlight=False, soft_wrap=True)  # noqa: E731
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    if not raw_dir.is_dir():
        raise PrepareError(f"raw data directory not found: {raw_dir}")
    for leftover in clean_leftovers(out_dir):
        echo(f"removed {leftover} (left by an interrupted run)")
    held = existing_output(out_dir)
    if held and not overwrite:
        raise PrepareError(f"{out_dir} already holds {held}; pass --overwrite to replace it")
    if word_features not in WORD_FEATURE_CHOICES:
        raise PrepareError(f"--word_features {word_features}: expected one of {', '.join(WORD_FEATURE_CHOICES)}")
    summary = Summary(Tally(echo=echo))
    measure = None if word_features == NONE else DEFAULT_MEASURE if word_features == AUTO else word_features
    summary.words = WordTally(measure) if measure else None
    table = resolve_labels(raw_dir, out_dir, labels, materials, variants, summary.tally, echo)
    groups = label_groups(table)
    label_records = table[list(LABEL_COLUMNS)].to_dict(orient="index")
    files, missing_dirs = find_raw_files(raw_dir)
    for directory in missing_dirs:
        echo(f"warning: {raw_dir / directory}: directory not found")
    if not files:
        raise PrepareError(f"no ZuCo .mat files under {raw_dir} (expected e.g. "
                           f"{raw_dir}/ZuCo1/task1- SR/Matlab files/resultsZAB_SR.mat)")
    info = {"label_source": str(labels) if labels else "task materials", "raw_dir": str(raw_dir),
            "split": split.as_dict()}
    done = [0, 0]  # files read, records stored
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        spill_dir = Path(tempfile.mkdtemp(prefix=spill_prefix(out_dir), dir=out_dir.parent))
    except OSError as error:
        raise PrepareError(write_error(error, out_dir.parent, None) or str(error)) from None
    try:
        _write(files, raw_dir, spill_dir, out_dir, info, groups, label_records, table, workers,
               strict, split, summary, done, word_features == AUTO, echo)
    except OSError as error:
        needed = int(done[1] / max(done[0], 1) * len(files) * ROW_BYTES) if done[0] else None
        message = write_error(error, out_dir, needed)
        if message is None:
            raise
        raise PrepareError(message) from None
    finally:
        shutil.rmtree(spill_dir, ignore_errors=True)
    return summary


ROW_BYTES = EEG_LEN * EEG_CHANNELS * 4
"""Bytes of one stored EEG row."""


def _write(files: list[RawFile], raw_dir: Path, spill_dir: Path, out_dir: Path, info: dict,
           groups: dict, label_records: dict, table: pd.DataFrame, workers: int, strict: bool,
           split: SplitProtocol, summary: Summary, done: list[int], words_optional: bool = True,
           echo: Callable[[str], None] = print) -> None:
    """Read every file, match and append its records, set the phases and publish the store."""
    stored_rows: list[int] = []  # label row of each stored record, in store order
    subjects: list[str] = []  # subject of each stored record
    measure = summary.words.measure if summary.words is not None else None
    jobs = [(f, str(f.path.relative_to(raw_dir)), spill_dir / f"{i}.f32", measure) for i, f in enumerate(files)]
    word_info = ({"measure": measure, "bands": list(BANDS), "channels": RAW_CHANNELS,
                  "max_words": MAX_WORDS, "normalisation": NORMALISATION} if measure else None)
    with StoreWriter(out_dir, info=info, word_features=word_info, word_dim=WORD_DIM) as writer, \
            progress("reading ZuCo files", len(jobs)) as advance, \
            closing(_file_results(jobs, workers)) as results:  # stops the workers on errors
        for result in results:
            for drop in result.drops:
                summary.drop(drop)
            summary.sentences[result.file.dataset] += result.n_sentences
            summary.kept[result.file.dataset] += len(result.kept)
            if result.kept:
                before = len(stored_rows)
                _store_file(result, writer, groups, label_records, stored_rows, summary)
                subjects += [result.file.subject] * (len(stored_rows) - before)
            result.eeg_path.unlink(missing_ok=True)
            if result.words_path is not None:
                result.words_path.unlink(missing_ok=True)
            done[0], done[1] = done[0] + 1, writer.n
            advance(1, stored=writer.n)
        if writer.n == 0:
            raise PrepareError("no record was stored (see the lines above)")
        if strict and summary.problems:
            raise StrictError(f"--strict: {problem_count(summary.problems)} matched no label row or could "
                              "not be read (listed above); nothing written")
        _set_phases(writer, table, label_records, stored_rows, subjects, split, summary)
        if summary.words is not None and summary.words.with_words == 0:
            _no_word_features(writer, summary, words_optional, echo)
        writer.info["summary"] = summary.as_dict()


def _no_word_features(writer: StoreWriter, summary: Summary, optional: bool,
                      echo: Callable[[str], None]) -> None:
    """No stored record has a word vector: publish without word features (``auto``) or refuse."""
    measure = summary.words.measure
    reasons = Counter()
    for counts in summary.words.without.values():
        reasons.update(counts)
    why = ", ".join(f"{reason}: {n}" for reason, n in reasons.most_common())
    if not optional:
        raise PrepareError(f"--word_features {measure}: no stored record has word-level {measure} band "
                           f"values ({why}); nothing written")
    echo(f"note: the .mat files hold no word-level {measure} band values ({why}): the store holds no "
         "word features (only the BrainTranslator baseline needs them)")
    writer.drop_word_features()
    summary.words = None


def summary_tables(summary: Summary) -> list[Table]:
    """The final summary: records per dataset and phase, and drops by reason."""
    kept = Table(title="records")
    phases = [*PHASES, *([EXCLUDED] if any(p == EXCLUDED for _, p in summary.stored) else [])]
    for column in ("dataset", "sentences read", "kept by step 3", "stored", *phases):
        kept.add_column(column, justify="left" if column == "dataset" else "right")
    for dataset in sorted(summary.sentences):
        per_phase = [summary.stored[(dataset, p)] for p in phases]
        kept.add_row(dataset, str(summary.sentences[dataset]), str(summary.kept[dataset]),
                     str(sum(per_phase)), *map(str, per_phase))
    dropped = Table(title="dropped")
    for column in ("reason", "records", "files"):
        dropped.add_column(column, justify="left" if column == "reason" else "right")
    for reason, records, files in summary.tally.rows() or [("(none)", 0, 0)]:
        dropped.add_row(reason, str(records), str(files))
    if summary.words is None:
        return [kept, dropped]
    words = Table(title=f"word features ({summary.words.measure})")
    for column in ("", "count"):
        words.add_column(column, justify="left" if not column else "right")
    for what, n in summary.words.rows():
        words.add_row(what, str(n))
    return [kept, dropped, words]


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def problem_count(problems: Sequence[Drop]) -> str:
    """``1 file and 2 records``: the problems counted as whole files and single records."""
    files = sum(drop.index is None for drop in problems)
    parts = [counted(n, noun) for n, noun in ((files, "file"), (len(problems) - files, "record")) if n]
    return listed(parts)


def problem_lines(summary: Summary, split: str = SENTENCES) -> list[str]:
    """The summary's first lines: every unmatched or unreadable record or file, then that the split
    was computed without them, naming their files."""
    if not summary.problems:
        return []
    files = list(dict.fromkeys(drop.where for drop in summary.problems))
    return ([f"{problem_count(summary.problems)} matched no label row or could not be read:"]
            + [f"  {drop.line()}" for drop in summary.problems]
            + [f"the split ({split}) was computed without them: with them the phases of some sentences may "
               f"differ. Fix or replace {'this file' if len(files) == 1 else 'these files'} and run again "
               f"to split the complete corpus: {listed(files)}"])


def main(argv: Sequence[str] | None = None) -> int:
    parser = OptionParser(prog="python -m data.prepare", description=__doc__.split("\n")[0],
                                     epilog="exit codes: 0 written, 1 written with unmatched or unreadable "
                                            "records, 2 error, 3 --strict refused, 130 interrupted")
    parser.add_argument("--raw", default="data/raw_data", help="raw ZuCo tree (default %(default)s)")
    parser.add_argument("--out", default="data/processed/zuco", help="store to write (default %(default)s)")
    parser.add_argument("--labels", help="label table (.jsonl, .csv, or the published .df pickle); skips steps 1-2")
    parser.add_argument("--variants", help="table with the text variants for steps 1-2 (e.g. from python -m data.preprocess.variants)")
    parser.add_argument("--materials", help="task-material folder (default RAW/ZuCo1|ZuCo2/task_materials)")
    parser.add_argument("--workers", type=int, default=default_workers(),
                        help="files read in parallel (default: the CPU count, at most 8: %(default)s)")
    parser.add_argument("--split", default=SENTENCES,
                        help="split protocol: sentences (the original's, default), subjects:S1,S2,... "
                             "(held-out readers) or subjects+sentences:S1,S2,... (both held out)")
    parser.add_argument("--word_features", default=AUTO, choices=WORD_FEATURE_CHOICES,
                        help="word-level EEG features for the BrainTranslator baseline: auto (GD when the "
                             "files hold them, default), none, or the measure GD/FFD/TRT (required)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing store")
    parser.add_argument("--strict", action="store_true",
                        help="fail (exit 3, nothing written) if any record matches no label row or cannot be read")
    args = parser.parse_args(argv)
    console = Console(highlight=False, soft_wrap=True)
    errors = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        split = parse_split(args.split)
        if args.workers < 1:
            raise PrepareError(f"--workers {args.workers}: at least 1")
    except GLIMError as error:
        errors.print(f"error: {error}", markup=False)
        return EXIT_ERROR
    previous = signal.signal(signal.SIGTERM, _interrupt)  # a terminated run cleans up too
    try:
        summary = prepare(args.raw, args.out, labels=args.labels, materials=args.materials,
                          variants=args.variants, workers=args.workers, console=console,
                          overwrite=args.overwrite, strict=args.strict, split=split,
                          word_features=args.word_features)
    except GLIMError as error:
        errors.print(f"error: {error}", markup=False)
        return EXIT_STRICT if isinstance(error, StrictError) else EXIT_ERROR
    except KeyboardInterrupt:
        errors.print(f"interrupted: nothing written at {args.out}", markup=False)
        return EXIT_INTERRUPTED
    finally:
        signal.signal(signal.SIGTERM, previous)
    for line in problem_lines(summary, args.split) + (summary.words.lines() if summary.words is not None else []):
        console.print(line, markup=False, highlight=False)
    for table in summary_tables(summary):
        console.print(table)
    console.print(f"store written: {args.out} (split: {args.split})", markup=False)
    return EXIT_PROBLEMS if summary.problems else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
