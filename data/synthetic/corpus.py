"""A synthetic ZuCo corpus: a ``raw_data/`` tree shaped like ZuCo 1.0 + 2.0, with learnable EEG.

    python -m data.synthetic --out data/demo/raw_data --subjects 2 --sentences 40 [--seed 0]

writes ``ZuCo1/<task>/Matlab files/results{SUBJ}_{SR,NR,TSR}.mat`` (MATLAB v5),
``ZuCo2/<task>/Matlab files/results{SUBJ}_{NR,TSR}.mat`` (MATLAB v7.3 = HDF5), the task materials
of both datasets in their real layouts, ``labels_8variants.jsonl`` (the docs/protocol.md §labels label table,
for ``python -m data.prepare --labels``) and ``synthetic.json`` (what was written). The sentences
are the project's own (templates and word lists); the EEG of each word carries a fixed spatial
pattern (see ``data.synthetic.eeg``). Files are written one at a time (bounded memory) and are
byte-identical for a seed.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from data.synthetic.eeg import subject_profile
from data.synthetic.mat import MatV73Writer, StructArray, write_v5
from data.synthetic.materials import (
    write_labels,
    write_zuco1_materials,
    write_zuco2_materials,
)
from data.synthetic.plan import (
    FULL_SIZE,
    SUBJECTS1,
    SUBJECTS2,
    CorpusPlan,
    TaskPlan,
    build_plan,
    label_rows,
)
from data.synthetic.records import missing_sentence, recorded_sentence, sentence_fields
from infra.progress import progress_bar

DEFAULT_SIGNAL_TO_NOISE = 1.0
LABELS_FILE = "labels_8variants.jsonl"
SUMMARY_FILE = "synthetic.json"
UNKNOWN_SUBJECT = "ZXX"
WORD_MEASURES = ("FFD", "TRT", "GD", "GPT")


def mat_path(root: Path, tp: TaskPlan, subject: str) -> Path:
    return root / tp.dataset / tp.folder / "Matlab files" / f"results{subject}_{tp.suffix}.mat"


def missing_slots(rng: np.random.Generator, n: int, task_index: int, subject_index: int) -> set[int]:
    """A block of unrecorded sentences in every third (task, subject) file, as in ZuCo."""
    if (task_index + subject_index) % 3 != 1:
        return set()
    size = max(1, int(round(n * rng.uniform(0.04, 0.12))))
    start = int(rng.integers(0, n - size + 1))
    return set(range(start, start + size))


class _Progress:
    """A rich progress bar over sentences, or nothing."""

    def __init__(self, enabled: bool, total: int):
        self.bar = None
        if enabled:
            self.bar = progress_bar(transient=False)
            self.task = self.bar.add_task("synthetic ZuCo", total=total)

    def __enter__(self) -> "_Progress":
        if self.bar:
            self.bar.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.bar:
            self.bar.stop()

    def step(self, description: str | None = None) -> None:
        if self.bar:
            self.bar.update(self.task, advance=1, **({"description": description} if description else {}))


def write_subject_file(path: Path, tp: TaskPlan, subject: str, rng: np.random.Generator,
                       seed: int, missing: set[int], signal_to_noise: float,
                       word_features: bool | Sequence[str],
                       compress: bool, progress: _Progress,
                       wrong_channels_at: int | None = None) -> dict[str, int]:
    """Write one subject's ``.mat`` file of a task; returns counts of slots and missing ones."""
    path.parent.mkdir(parents=True, exist_ok=True)
    profile = subject_profile(subject, seed)
    fields = sentence_fields(tp.dataset, tp.suffix)
    sentences = tp.recorded

    def entries():
        for j, s in enumerate(sentences):
            if j in missing:
                entry = missing_sentence(tp.dataset, tp.suffix, s)
            else:
                entry = recorded_sentence(tp.dataset, tp.suffix, s, profile, rng, signal_to_noise,
                                          word_features)
                if j == wrong_channels_at:
                    entry["rawData"] = entry["rawData"][:100]
            progress.step(path.name)
            yield entry

    if tp.dataset == "ZuCo1":
        write_v5(path, StructArray(entries()), compress=compress)
    else:
        with MatV73Writer(path, fields, compress=compress) as writer:
            for entry in entries():
                writer.add(entry)
    return {"slots": len(sentences), "missing": len(missing)}


def _plant_faults(root: Path, plan: CorpusPlan, seed: int, subjects1: Sequence[str],
                  snr: float) -> list[dict]:
    """A truncated file, a sentence with 100 channels (done while writing), an unknown subject."""
    faults = []
    sr, nr = plan.tasks[0], plan.tasks[1]
    if subjects1:
        path = mat_path(root, sr, subjects1[0])
        faults.append({"kind": "wrong_channel_count", "path": str(path.relative_to(root)),
                       "sentence_index": 1, "channels": 100})
        path = mat_path(root, nr, subjects1[0])
        size = path.stat().st_size
        with open(path, "r+b") as f:
            f.truncate(size // 2)
        faults.append({"kind": "truncated", "path": str(path.relative_to(root)),
                       "bytes": size // 2, "of": size})
    small = TaskPlan(sr.dataset, sr.task, sr.folder, sr.suffix, rows=sr.rows[:3])
    path = mat_path(root, small, UNKNOWN_SUBJECT)
    write_subject_file(path, small, UNKNOWN_SUBJECT, np.random.default_rng([seed, 99]), seed,
                       set(), snr, False, False, _Progress(False, 0))
    faults.append({"kind": "unknown_subject", "path": str(path.relative_to(root)),
                   "subject": UNKNOWN_SUBJECT})
    return faults


def write_corpus(out_dir: str | Path, n_subjects1: int = 2, n_subjects2: int = 2,
                 n_sentences: int | Sequence[int] = 40, seed: int = 0,
                 signal_to_noise: float = DEFAULT_SIGNAL_TO_NOISE, faults: bool = False,
                 word_features: bool | Sequence[str] = False, compress: bool = False,
                 progress: bool = False) -> dict[str, Any]:
    """Write a synthetic ZuCo ``raw_data`` tree to ``out_dir``; returns a summary dict.

    ``n_sentences``: recorded sentences per subject file, one int for all five tasks or
    (SR, NR1, TSR1, NR2, TSR2); full size is ``data.synthetic.plan.FULL_SIZE``. Subjects are the
    first ``n_subjects1`` / ``n_subjects2`` codes of docs/protocol.md §inputs. ``word_features=True`` adds the
    per-band word values (``FFD_t1`` ... ; 24 per word in ZuCo1, 64 in ZuCo2: slow and large),
    ``word_features=("GD",)`` only those of the named measures. ``faults=True`` plants the faults listed
    in the summary for error-handling tests.
    """
    started = time.perf_counter()
    if not (0 <= n_subjects1 <= len(SUBJECTS1) and 0 <= n_subjects2 <= len(SUBJECTS2)):
        raise ValueError(f"subjects: 0..{len(SUBJECTS1)} for ZuCo1, 0..{len(SUBJECTS2)} for ZuCo2")
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    plan = build_plan(n_sentences, seed)
    subjects = {"ZuCo1": SUBJECTS1[:n_subjects1], "ZuCo2": SUBJECTS2[:n_subjects2]}
    write_zuco1_materials(plan, root / "ZuCo1" / "task_materials")
    write_zuco2_materials(plan, root / "ZuCo2" / "task_materials")
    labels = label_rows(plan)
    write_labels(labels, root / LABELS_FILE)

    files, slots, missing = [], 0, 0
    total = sum(len(tp.recorded) * len(subjects[tp.dataset]) for tp in plan.tasks)
    with _Progress(progress, total) as bar:
        for ti, tp in enumerate(plan.tasks):
            codes = SUBJECTS1 if tp.dataset == "ZuCo1" else SUBJECTS2
            for subject in subjects[tp.dataset]:
                si = codes.index(subject)
                rng = np.random.default_rng([seed, 23, ti, si])
                gaps = missing_slots(rng, len(tp.recorded), ti, si)
                wrong = 1 if faults and ti == 0 and si == 0 else None
                path = mat_path(root, tp, subject)
                counts = write_subject_file(path, tp, subject, rng, seed, gaps, signal_to_noise,
                                            word_features, compress, bar, wrong_channels_at=wrong)
                files.append(str(path.relative_to(root)))
                slots += counts["slots"]
                missing += counts["missing"]
    planted = _plant_faults(root, plan, seed, subjects["ZuCo1"], signal_to_noise) if faults else []

    summary: dict[str, Any] = {
        "format": "synthetic-zuco", "seed": seed, "signal_to_noise": signal_to_noise,
        "subjects": {k: list(v) for k, v in subjects.items()},
        "sentences": {f"{tp.dataset}/{tp.task}": len(tp.recorded) for tp in plan.tasks},
        "material_rows": {f"{tp.dataset}/{tp.task}": len(tp.rows) for tp in plan.tasks},
        "label_rows": len(labels), "labels": LABELS_FILE, "mat_files": files,
        "sentence_slots": slots, "missing_sentences": missing,
        "duplicates_zuco1": len(plan.duplicates),
        "word_features": word_features if isinstance(word_features, bool) else list(word_features),
        "faults": planted,
    }
    (root / SUMMARY_FILE).write_text(json.dumps(summary, indent=1) + "\n")
    summary["bytes"] = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    summary["seconds"] = round(time.perf_counter() - started, 2)
    summary["out_dir"] = str(root)
    return summary


def _sizes(text: str) -> int | tuple[int, ...]:
    if text == "full":
        return FULL_SIZE
    parts = [int(p) for p in text.split(",")]
    return parts[0] if len(parts) == 1 else tuple(parts)


def _word_measures(ap: argparse.ArgumentParser, value: str | None) -> bool | tuple[str, ...]:
    """``--word-features``: False (absent), True (all measures) or the named measures."""
    if value is None or value == "all":
        return value is not None
    measures = tuple(m.strip() for m in value.split(",") if m.strip())
    unknown = [m for m in measures if m not in WORD_MEASURES]
    if unknown or not measures:
        ap.error(f"--word-features {value!r}: expected 'all' or measures among {', '.join(WORD_MEASURES)}")
    return measures


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(prog="python -m data.synthetic", description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="output directory (the raw_data root)")
    ap.add_argument("--subjects", default="2", help="subjects per dataset: N or N1,N2 (max 12,18)")
    ap.add_argument("--sentences", default="40",
                    help="sentences per file: N, or SR,NR1,TSR1,NR2,TSR2, or 'full'")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--signal-to-noise", type=float, default=DEFAULT_SIGNAL_TO_NOISE)
    ap.add_argument("--faults", action="store_true", help="plant faults for error-handling tests")
    ap.add_argument("--word-features", nargs="?", const="all", default=None, metavar="MEASURES",
                    help="add the per-band word values (FFD_t1 ...): of every measure ZuCo holds (no "
                         "value or 'all': slow and large) or of the named ones (e.g. GD, or FFD,GD,TRT)")
    ap.add_argument("--compress", action="store_true", help="compress the .mat files")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    words = _word_measures(ap, args.word_features)
    try:
        subj, sizes = [int(s) for s in args.subjects.split(",")], _sizes(args.sentences)
    except ValueError:
        ap.error(f"--subjects {args.subjects!r} / --sentences {args.sentences!r}: expected numbers "
                 "separated by commas (or --sentences full)")
    try:
        summary = write_corpus(args.out, subj[0], subj[-1], sizes, args.seed, args.signal_to_noise,
                               args.faults, words, args.compress, progress=not args.quiet)
    except OSError as err:  # an unwritable --out, a full disk: one line, not a traceback
        ap.exit(1, f"error: cannot write the corpus to {args.out}: {err.strerror or err}\n")
    print(f"wrote {len(summary['mat_files'])} .mat files, {summary['sentence_slots']} sentence "
          f"slots ({summary['missing_sentences']} missing), {summary['label_rows']} label rows, "
          f"{summary['bytes'] / 1e6:.1f} MB in {summary['seconds']} s to {summary['out_dir']}")
    return summary


if __name__ == "__main__":
    main()
