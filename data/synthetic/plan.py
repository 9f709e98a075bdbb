"""The plan of a synthetic ZuCo corpus: which sentence is on which task-material row and file.

Like ZuCo, some sentences are shared between normal and task-specific reading (listed in
``duplicate_sentences.csv`` for ZuCo1), between ZuCo1 and ZuCo2, and a few occur twice within a
task (a sentence with two relations in two relation blocks); the ZuCo2 materials hold a few
more rows than the ``.mat`` files record.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from data.store import LABEL_COLUMNS, VARIANT_COLUMNS
from data.synthetic import words as W
from data.synthetic.text import Sentence, TextGenerator, plant_typos

SUBJECTS1 = ("ZAB", "ZDM", "ZDN", "ZGW", "ZJM", "ZJN", "ZJS", "ZKB", "ZKH", "ZKW", "ZMG", "ZPH")
SUBJECTS2 = ("YAC", "YAG", "YAK", "YDG", "YDR", "YFR", "YFS", "YHS", "YIS", "YLS", "YMD", "YMS",
             "YRH", "YRK", "YRP", "YSD", "YSL", "YTL")
FULL_SIZE = (400, 300, 407, 349, 390)
"""Recorded sentences per file: ZuCo1 SR, NR, TSR; ZuCo2 NR, TSR."""
TASKS = (  # dataset, task name after reading, folder, file suffix
    ("ZuCo1", "task1", "task1- SR", "SR"),
    ("ZuCo1", "task2", "task2 - NR", "NR"),
    ("ZuCo1", "task3", "task3 - TSR", "TSR"),
    ("ZuCo2", "task2", "task1 - NR", "NR"),
    ("ZuCo2", "task3", "task2 - TSR", "TSR"),
)
MULTI_RELATIONS = (("JOB_TITLE", "NATIONALITY"), ("EDUCATION", "VISITED"), ("EMPLOYER", "VISITED"),
                   ("AWARD", "JOB_TITLE", "NATIONALITY"), ("POLITICAL_AFFILIATION", "JOB_TITLE"),
                   ("AWARD", "EDUCATION"))
ZUCO2_EXTRA_ROWS = 0.06  # material rows beyond the recorded ones (370 vs 349 in ZuCo2 NR)


@dataclass
class Row:
    """One task-material row, and the label-table row made from it."""

    sentence: Sentence
    ids: tuple[int, int]
    control: bool
    raw_label: Any
    csv_label: str
    file_no: int = 0
    recorded: bool = True
    question: tuple[str, tuple[str, str, str], str] | None = None


@dataclass
class TaskPlan:
    dataset: str
    task: str
    folder: str
    suffix: str
    rows: list[Row] = field(default_factory=list)

    @property
    def recorded(self) -> list[Sentence]:
        """The sentences of each subject's ``.mat`` file, in file order."""
        return [r.sentence for r in self.rows if r.recorded]


@dataclass
class CorpusPlan:
    tasks: list[TaskPlan]
    duplicates: list[tuple[Row, Row]]  # (ZuCo1 NR row, ZuCo1 TSR row) of the same sentence


def _count(n: int, rate: float, minimum: int = 0) -> int:
    return max(minimum, int(round(n * rate)))


class _Planner:
    def __init__(self, seed: int):
        self.rng = np.random.default_rng([seed, 11])
        self.gen = TextGenerator(self.rng)

    def relations(self) -> tuple[str, ...]:
        u = self.rng.random()
        if u < 0.55:
            return ()
        if u < 0.88:
            return (self.gen.pick(W.RELATIONS + ("VISITED", "JOB_TITLE")),)
        return self.gen.pick(MULTI_RELATIONS)

    def long(self) -> bool:
        return self.gen.chance(0.03)

    def flags(self, n: int, rate: float) -> np.ndarray:
        out = np.zeros(n, bool)
        out[self.rng.choice(n, min(n, _count(n, rate)), replace=False)] = True
        return out

    def paragraph_ids(self, n: int, start: int = 1) -> list[tuple[int, int]]:
        ids, para, k = [], start, 1
        for _ in range(n):
            ids.append((para, k))
            k += 1
            if self.gen.chance(0.35):
                para, k = para + int(self.rng.integers(1, 3)), 1
        return ids

    # --- ZuCo1 -----------------------------------------------------------------------------
    def sr(self, n: int) -> list[Row]:
        one_word = int(self.rng.integers(n)) if n >= 10 else -1
        control = self.flags(n, 0.11)
        rows, sid = [], 5
        for i in range(n):
            s = self.gen.one_word(i) if i == one_word else \
                self.gen.movie(int(self.rng.integers(-1, 2)), long=self.long())
            rows.append(Row(s, (sid, 0), bool(control[i]), str(s.sentiment), str(s.sentiment)))
            sid += 1 + int(self.gen.chance(0.01))
        return rows

    def nr1(self, n: int) -> list[Row]:
        control = self.flags(n, 0.12)
        rows = []
        for i, ids in enumerate(self.paragraph_ids(n, start=5)):
            s = self.gen.bio(self.relations(), long=self.long())
            label = ";".join(s.relations) or "NO-RELATION"
            rows.append(Row(s, ids, bool(control[i]), list(s.relations) or None, label))
        return rows

    def blocks(self, relations: Sequence[str], sizes: Sequence[int], shared: list[list[Sentence]],
               n_pairs: int) -> list[list[tuple[Sentence, bool]]]:
        """Fill one block per relation: shared sentences, in-task duplicates, controls, new ones."""
        fixed = [list(x) for x in shared]
        for _ in range(n_pairs):
            combos = [c for c in MULTI_RELATIONS if sum(r in relations for r in c) >= 2]
            if not combos:
                break
            pair = [r for r in self.gen.pick(combos) if r in relations][:2]
            s = self.gen.bio(pair)
            for r in pair:
                fixed[relations.index(r)].append(s)
        out = []
        for r, k, given in zip(relations, sizes, fixed):
            n_ctrl = _count(k, 0.18) if k >= 3 else 0
            ctrl_at = set((1 + self.rng.choice(k - 2, n_ctrl, replace=False)).tolist()) if n_ctrl else set()
            plain = given[: k - n_ctrl]
            plain += [self.gen.bio((r,), long=self.long()) for _ in range(k - n_ctrl - len(plain))]
            plain = [plain[i] for i in self.rng.permutation(len(plain))]
            items, it = [], iter(plain)
            for j in range(k):
                items.append((self.gen.bio((r,)), True) if j in ctrl_at else (next(it), False))
            out.append(items)
        return out

    def tsr1(self, n: int, nr1: list[Row]) -> tuple[list[Row], list[tuple[Row, Row]]]:
        sizes = [len(a) for a in np.array_split(np.arange(n), len(W.RELATIONS))]
        pool = [r.sentence for r in nr1 if r.sentence.relations and not r.control]
        shared: list[list[Sentence]] = [[] for _ in W.RELATIONS]
        used: set[str] = set()
        for b, (rel, k) in enumerate(zip(W.RELATIONS, sizes)):
            cands = [s for s in pool if rel in s.relations and s.text not in used]
            # at least one shared sentence in a small corpus, so duplicate_sentences.csv has a row
            for s in cands[: _count(k, 0.12, minimum=int(not used and k >= 2))]:
                shared[b].append(s)
                used.add(s.text)
        blocks = self.blocks(W.RELATIONS, sizes, shared, _count(n, 0.025, minimum=1 if n >= 30 else 0))
        rows: list[Row] = []
        for rel, items in zip(W.RELATIONS, blocks):
            articles = np.sort(self.rng.choice(np.arange(1, 600), len(items), replace=False))
            for (s, ctrl), art in zip(items, articles):
                ids = (int(art), int(self.rng.integers(1, 7)))
                rows.append(Row(s, ids, ctrl, rel, "CONTROL" if ctrl else rel))
        by_text = {r.sentence.text: r for r in nr1}
        dups = [(by_text[r.sentence.text], r) for r in rows if r.sentence.text in by_text]
        dups.sort(key=lambda pair: nr1.index(pair[0]))
        return rows, dups

    # --- ZuCo2 -----------------------------------------------------------------------------
    def question(self, s: Sentence) -> tuple[str, tuple[str, str, str], str]:
        others = [f"{self.gen.pick(W.FIRST_NAMES)[0]} {self.gen.pick(W.LAST_NAMES)}" for _ in range(2)]
        answers = [s.name, *others]
        answers = tuple(answers[i] for i in self.rng.permutation(3))
        q = "Who is this sentence about?" if self.gen.chance(0.5) else "This sentence is about..."
        return q, answers, s.name

    @staticmethod
    def merge_question(q: str, answer: str) -> str:
        return q.replace("...", " " + answer) if q.endswith("...") else f"{q} {answer}"

    def unrecorded(self, rows: list[Row], extra: int) -> None:
        for i in self.rng.choice(len(rows), extra, replace=False):
            rows[int(i)].recorded = False

    def nr2(self, n: int, zuco1: list[Sentence]) -> list[Row]:
        m = max(7, n + _count(n, ZUCO2_EXTRA_ROWS))
        n_shared = min(len(zuco1), _count(m, 0.14))
        shared = [zuco1[i] for i in self.rng.choice(len(zuco1), n_shared, replace=False)]
        n_dup = _count(m, 0.02, minimum=1 if m >= 30 else 0)
        sents = shared + [self.gen.bio(self.relations(), long=self.long())
                          for _ in range(m - n_shared - n_dup)]
        sents = [sents[i] for i in self.rng.permutation(len(sents))]
        for _ in range(n_dup):  # a sentence read again later in the task
            at = int(self.rng.integers(len(sents) // 2, len(sents) + 1))
            sents.insert(at, sents[int(self.rng.integers(0, max(1, len(sents) // 3)))])
        control = self.flags(m, 0.14)
        rows = []
        for no, chunk in enumerate(np.array_split(np.arange(m), 7), start=1):
            for i, ids in zip(chunk, self.paragraph_ids(len(chunk))):
                s, ctrl = sents[i], bool(control[i])
                q = self.question(s) if ctrl else None
                label = self.merge_question(q[0], q[2]) if q else None
                rows.append(Row(s, ids, ctrl, label, "CONTROL" if ctrl else "", no, question=q))
        self.unrecorded(rows, m - n)
        return rows

    def tsr2(self, n: int, nr2: list[Row], zuco1: list[Sentence]) -> list[Row]:
        m = max(7, n + _count(n, ZUCO2_EXTRA_ROWS))
        sizes = [len(a) for a in np.array_split(np.arange(m), len(W.ZUCO2_RELATIONS))]
        used: set[str] = set()
        shared: list[list[Sentence]] = []
        for rel, k in zip(W.ZUCO2_RELATIONS, sizes):
            mine: list[Sentence] = []
            for pool, rate in (([r.sentence for r in nr2 if not r.control], 0.15), (zuco1, 0.2)):
                cands = [s for s in pool if rel in s.relations and s.text not in used]
                for s in cands[: _count(k, rate)]:
                    mine.append(s)
                    used.add(s.text)
            shared.append(mine)
        blocks = self.blocks(W.ZUCO2_RELATIONS, sizes, shared, _count(m, 0.025, minimum=1 if m >= 30 else 0))
        rows = []
        for no, (rel, items) in enumerate(zip(W.ZUCO2_RELATIONS, blocks), start=1):
            for (s, ctrl), ids in zip(items, self.paragraph_ids(len(items))):
                rows.append(Row(s, ids, ctrl, rel, "CONTROL" if ctrl else rel, no))
        self.unrecorded(rows, m - n)
        return rows


def _sizes(n_sentences: int | Sequence[int]) -> tuple[int, ...]:
    sizes = (n_sentences,) * 5 if isinstance(n_sentences, (int, np.integer)) else tuple(n_sentences)
    if len(sizes) != 5 or min(sizes) < 2:
        raise ValueError(f"n_sentences must be an int or 5 ints (SR, NR1, TSR1, NR2, TSR2), "
                         f"each at least 2; got {n_sentences!r}")
    return tuple(int(n) for n in sizes)


def build_plan(n_sentences: int | Sequence[int], seed: int = 0) -> CorpusPlan:
    """Draw the sentences and lay them out over the five tasks (deterministic per seed)."""
    sizes = _sizes(n_sentences)
    p = _Planner(seed)
    sr = p.sr(sizes[0])
    nr1 = p.nr1(sizes[1])
    tsr1, dups = p.tsr1(sizes[2], nr1)
    zuco1 = list({r.sentence.text: r.sentence for r in nr1 + tsr1 if not r.control}.values())
    nr2 = p.nr2(sizes[3], zuco1)
    tsr2 = p.tsr2(sizes[4], nr2, zuco1)
    all_rows = [sr, nr1, tsr1, nr2, tsr2]
    unique = list({r.sentence.text: r.sentence for rows in all_rows for r in rows}.values())
    planted = {s.text: s for s in plant_typos(unique)}
    for rows in all_rows:
        for r in rows:
            r.sentence = planted[r.sentence.text]
    tasks = [TaskPlan(*spec, rows=rows) for spec, rows in zip(TASKS, all_rows)]
    return CorpusPlan(tasks=tasks, duplicates=dups)


RELATION_NAMES = {"AWARD": "awarding", "EDUCATION": "education", "EMPLOYER": "employment",
                  "FOUNDER": "foundation", "JOB_TITLE": "job title", "NATIONALITY": "nationality",
                  "POLITICAL_AFFILIATION": "political affiliation", "VISITED": "visit",
                  "WIFE": "marriage"}
SENTIMENT_NAMES = {"-1": "negative", "0": "neutral", "1": "positive"}


def label_rows(plan: CorpusPlan) -> list[dict[str, Any]]:
    """The label table (docs/protocol.md §labels): one row per material row, in task order."""
    rows, uids = [], {}
    for tp in plan.tasks:
        for r in tp.rows:
            s = r.sentence
            uid = uids.setdefault(s.text, len(uids))
            row = {"raw text": s.csv_text, "dataset": tp.dataset, "task": tp.task,
                   "control": r.control, "raw label": r.raw_label, "input text": s.text,
                   "text uid": uid,
                   "sentiment label": SENTIMENT_NAMES.get(r.raw_label) if tp.task == "task1" else None,
                   "relation label": RELATION_NAMES[r.raw_label] if tp.task == "task3" else None,
                   **dict(zip(VARIANT_COLUMNS, s.variants))}
            rows.append({c: row[c] for c in LABEL_COLUMNS})
    return rows
