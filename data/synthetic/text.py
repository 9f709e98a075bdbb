"""Synthetic stimulus sentences: movie reviews with a sentiment, biographies with relations.

Each sentence comes with the eight target variants of docs/protocol.md §labels, made by simple deterministic
rewrites (synonym swaps, clause drops, clause splits), and with the typo-bearing forms that the
task materials (``csv_text``) and the ``.mat`` files (``mat_text``) show; ``text`` is the clean
form, i.e. what the docs/protocol.md §texts typo book gives back.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Callable, Sequence

import numpy as np

from data.synthetic import words as W


@dataclass(frozen=True)
class Sentence:
    """One stimulus sentence and everything the corpus writes about it."""

    text: str
    kind: str  # "movie" or "bio"
    sentiment: int | None
    relations: tuple[str, ...]
    variants: tuple[str, ...]
    name: str = ""
    csv_text: str = ""
    mat_text: str = ""

    @property
    def words(self) -> list[str]:
        """The words of the ``.mat`` content (what the reader's eye walks over)."""
        return self.mat_text.split()


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _swap(text: str, table: dict[str, str]) -> str:
    """Replace whole words by their synonyms, keeping a leading capital."""
    def one(m: re.Match) -> str:
        word = m.group(0)
        new = table.get(word.lower())
        if new is None:
            return word
        return _cap(new) if word[0].isupper() else new
    return re.sub(r"[A-Za-zÀ-ÿ]+", one, text)


def _first_words(text: str, n: int = 10) -> str:
    words = text.rstrip(".").split()
    return _cap(" ".join(words[:n]).rstrip(",;")) + "."


def _variants(text: str, main: str, semantic: tuple[str, str], parts: Sequence[str]) -> tuple[str, ...]:
    """The eight docs/protocol.md §labels targets in column order."""
    lex0 = _swap(text, W.SYNONYMS_V0)
    lex1 = _swap(_swap(text, W.SYNONYMS_V1), W.SYNONYMS_V0)
    syntax0 = _cap(main) + "."
    syntax1 = " ".join(_cap(p) + "." for p in parts) if len(parts) > 1 else _cap(main) + "."
    return (lex0, lex1, semantic[0], semantic[1], syntax0, syntax1, text, _first_words(main))


class TextGenerator:
    """Draws unique sentences from templates with a numpy generator (deterministic per seed)."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.seen: set[str] = set()

    def pick(self, seq: Sequence):
        return seq[int(self.rng.integers(len(seq)))]

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def _unique(self, make: Callable[[], Sentence]) -> Sentence:
        for _ in range(200):
            s = make()
            if s.text not in self.seen:
                self.seen.add(s.text)
                return s
        raise RuntimeError("could not draw a new unique sentence; the word lists are too small")

    # --- movie reviews --------------------------------------------------------------------
    def movie(self, sentiment: int, long: bool = False) -> Sentence:
        return self._unique(lambda: self._movie(sentiment, long))

    def _movie(self, s: int, long: bool) -> Sentence:
        p = self.pick
        slots = dict(subj=p(W.MOVIE_SUBJECTS), adv=p(W.ADVERBS), adj=p(W.ADJECTIVES[s]),
                     aspect=p(W.MOVIE_ASPECTS), topic=p(W.MOVIE_TOPICS), topic2=p(W.MOVIE_TOPICS),
                     aspect2=p(W.MOVIE_ASPECTS), adj2=p(W.ADJECTIVES[s]),
                     opp=p(W.ADJECTIVES[p((1, -1))]))
        slots["Aspect2"] = _cap(slots["aspect2"])
        main = p(W.MOVIE_MAINS).format(**slots)
        prefix = p(W.MOVIE_PREFIXES).format(**slots) + " " if self.chance(0.35) else ""
        fitting = [t for t in W.MOVIE_TAILS if t[2] is None or t[2] == s]
        n_tails = int(self.rng.choice(3, p=(0.4, 0.45, 0.15)))
        weights = np.array([0.15 if ";" in t[0] else 1.0 for t in fitting])
        chosen = self.rng.choice(len(fitting), n_tails, replace=False, p=weights / weights.sum())
        tails = [fitting[i] for i in sorted(chosen)]
        if long:
            tails.append((*W.MOVIE_LONG_TAIL, None))
        # at most one tail ending in "film" and it goes last, so the sentence ends with "film."
        tails.sort(key=lambda t: t[0].endswith("film"))
        text = _cap(prefix + main) + "".join(t[0].format(**slots) for t in tails) + "."
        gist = W.GIST[s]
        semantic = (f"{_cap(main)}, so the movie is {gist}.", f"The movie is {gist}: {main}.")
        parts = [main] + [t[1].format(**slots) for t in tails]
        return Sentence(text=text, kind="movie", sentiment=s, relations=(),
                        variants=_variants(text, main, semantic, parts))

    def one_word(self, index: int) -> Sentence:
        """A one-word review ("Wonderful."): the squeeze case and a too-short recording."""
        word, s = W.ONE_WORD_REVIEWS[index % len(W.ONE_WORD_REVIEWS)]
        text = word + "."
        gist = W.GIST[s]
        semantic = (f"The movie is {word.lower()}.", f"The movie is {gist}.")
        sent = Sentence(text=text, kind="movie", sentiment=s, relations=(),
                        variants=_variants(text, word.lower(), semantic, [word.lower()]))
        self.seen.add(text)
        return sent

    # --- biographies ----------------------------------------------------------------------
    def bio(self, relations: Sequence[str], long: bool = False) -> Sentence:
        return self._unique(lambda: self._bio(tuple(relations), long))

    def _bio(self, relations: tuple[str, ...], long: bool) -> Sentence:
        p = self.pick
        first, gender = p(W.FIRST_NAMES)
        name = f"{first} {p(W.LAST_NAMES)}"
        other = f"{p(W.FIRST_NAMES)[0]} {p(W.LAST_NAMES)}"
        pron, pos = ("he", "his") if gender == "m" else ("she", "her")
        year = int(self.rng.integers(1850, 1990))
        slots = dict(year=year, field=p(W.FIELDS), univ=p(W.UNIVERSITIES), company=p(W.COMPANIES),
                     job=p(W.JOBS), nat=p(W.NATIONALITIES), party=p(W.PARTIES), place=p(W.PLACES),
                     Q=other, n=int(self.rng.integers(2, 30)), city=p(W.CITIES),
                     hobby=p(W.HOBBIES), topic=p(W.BIO_TOPICS), award=p(W.AWARDS),
                     pos=pos, Pos=_cap(pos), pron=pron, Pron=_cap(pron))
        slots["work"] = p(W.WORKS).format(pos=pos)
        slots["jobtitle"] = p(W.JOB_TITLES).format(
            society=p(W.SOCIETIES), company=slots["company"], state=p(W.STATES),
            city=slots["city"], paper=p(W.PAPERS))
        display = name
        if self.chance(0.12):
            born = int(self.rng.integers(1820, 1930))
            display = f"{name} ({born}-{born + int(self.rng.integers(35, 95))})"
        if set(relations) == {"JOB_TITLE", "NATIONALITY"} and self.chance(0.6):
            clauses = [W.BOTH_JOB_NATIONALITY]
        else:
            clauses = [p(W.BIO_CLAUSES[r]) for r in (relations or ("",))]
        filled = [c.format(S=display if i == 0 else pron, **slots) for i, c in enumerate(clauses)]
        main = filled[0] if len(filled) == 1 else (
            ", ".join(filled[:-1]) + (", and " if len(filled) > 2 else " and ") + filled[-1])
        prefix = p(W.BIO_PREFIXES).format(**slots) + " " if self.chance(0.3) else ""
        n_tails = int(self.rng.choice(3, p=(0.5, 0.4, 0.1)))
        weights = np.array([0.2 if ";" in t[0] else 1.0 for t in W.BIO_TAILS])
        chosen = self.rng.choice(len(W.BIO_TAILS), n_tails, replace=False, p=weights / weights.sum())
        tails = [W.BIO_TAILS[i] for i in sorted(chosen)]
        if long:
            tails.append(W.BIO_LONG_TAIL)
        text = _cap(prefix + main) + "".join(t[0].format(**slots) for t in tails) + "."
        plain = main.replace(display, name)
        semantic = (_cap(plain) + ".", f"This is about {name}: {plain}.")
        parts = [filled[0].replace(display, name)] + [_cap(f) for f in filled[1:]] + \
            [t[1].format(**slots) for t in tails]
        return Sentence(text=text, kind="bio", sentiment=None, relations=relations,
                        variants=_variants(text, plain, semantic, parts), name=name)


# --- planted typos ------------------------------------------------------------------------------
# (clean form, typo form) pairs; the docs/protocol.md §texts typo book maps each typo form back.
CSV_TYPOS: tuple[tuple[str, str], ...] = (
    ("empty", "emp11111ty"),
    ("'s", "’s"),
    ("José", "Jose"),
    ("long-time", "long -time"),
    ("Marić", "Maria"),
    ("Württemberg", "Wuerttemberg"),
)
"""Typos of the task materials (and of the ``.mat`` files of the same sentence)."""
MAT_TYPOS: tuple[tuple[str, str], ...] = (
    ("Senator", "111Senator"),
    ("Créteil", "Creteil"),
    ("King Léopold", "King Leopold"),
    ("Eidgenössische", "Eidgenoessische"),
    ("'s", "�s"),
)
"""Typos found only in ``.mat`` contents (repaired by the ``.mat``-only part of the book)."""
_LIFE_DATES = re.compile(r"\((\d{4})-(\d{4})\)")


def _plant_csv(text: str, rule: int) -> str:
    if rule == len(CSV_TYPOS):
        return text[:-len("film.")] + "film.1" if text.endswith("film.") else text
    if rule == len(CSV_TYPOS) + 1:
        return _LIFE_DATES.sub(lambda m: f"({m.group(1)}–{m.group(2)})", text, count=1)
    src, dst = CSV_TYPOS[rule]
    return text.replace(src, dst, 1)


def plant_typos(sentences: Sequence[Sentence], every: int = 3) -> list[Sentence]:
    """Set ``csv_text`` / ``mat_text``: each typo rule hits every ``every``-th candidate."""
    out = [replace(s, csv_text=s.text, mat_text=s.text) for s in sentences]
    n_csv = len(CSV_TYPOS) + 2  # + "film." ending + en dash in life dates
    for rule in range(n_csv):
        hits = [i for i, s in enumerate(out) if _plant_csv(s.csv_text, rule) != s.csv_text]
        for i in hits[::every]:
            csv = _plant_csv(out[i].csv_text, rule)
            out[i] = replace(out[i], csv_text=csv, mat_text=csv)
    for src, dst in MAT_TYPOS:
        hits = [i for i, s in enumerate(out) if src in s.mat_text]
        for i in hits[1::every]:
            out[i] = replace(out[i], mat_text=out[i].mat_text.replace(src, dst, 1))
    return out
