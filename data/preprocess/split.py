"""The split protocols a store can hold (``data.prepare --split``), recorded in ``store.json``.

- ``sentences`` (the default, the original's, docs/protocol.md §split): sentences are held out, subjects are
  shared; every record takes the phase of its text uid (``steps.split_uids``).
- ``subjects:S1,S2,...``: readers are held out, sentences are shared. Every record of a held-out
  subject is evaluation data, every other record is train. The held-out records' distinct text
  uids, sorted and permuted by ``numpy.random.default_rng(42)``, are cut in two at
  ``int(n / 2)``: records of the first part are val, of the second part test (val and test share
  no sentence; both hold every held-out subject).
- ``subjects+sentences:S1,S2,...``: readers and sentences are held out at once. The sentence
  split is computed first, as by default; a record of a held-out subject takes the val or test
  phase of its sentence, a record of any other subject is train when its sentence is train; every
  other record (a held-out subject reading a train sentence, another subject reading a val or test
  sentence) is ``excluded``: kept in the store, read by no phase. No test sentence and no test
  reader is seen in training.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from data.preprocess.steps import SPLIT_SEED
from infra.errors import GLIMError

SENTENCES, SUBJECTS, BOTH = "sentences", "subjects", "subjects+sentences"
PROTOCOLS = (SENTENCES, SUBJECTS, BOTH)
EXCLUDED = "excluded"
"""Phase of a record that the ``subjects+sentences`` protocol uses nowhere."""


class SplitError(GLIMError, ValueError):
    """A ``--split`` value that names no protocol, or held-out subjects that do not fit the data."""


@dataclass(frozen=True)
class SplitProtocol:
    """A parsed ``--split`` value: the protocol and its held-out subjects."""

    name: str = SENTENCES
    held_out: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """What ``store.json["split"]`` records."""
        out: dict[str, Any] = {"protocol": self.name}
        if self.held_out:
            out["held_out_subjects"] = list(self.held_out)
        return out


def parse_split(value: str) -> SplitProtocol:
    """``sentences``, ``subjects:S1,S2`` or ``subjects+sentences:S1,S2`` as a ``SplitProtocol``."""
    name, _, subjects = value.partition(":")
    held_out = tuple(s.strip() for s in subjects.split(",") if s.strip())
    if name not in PROTOCOLS:
        raise SplitError(f"--split {value!r}: expected {SENTENCES}, {SUBJECTS}:S1,S2,... or {BOTH}:S1,S2,...")
    if name == SENTENCES and held_out:
        raise SplitError(f"--split {value!r}: the {SENTENCES} protocol holds out no subject")
    if name != SENTENCES and not held_out:
        raise SplitError(f"--split {value!r}: name the held-out subjects, e.g. {name}:ZAB,ZDM")
    return SplitProtocol(name, held_out)


def _halves(uids: Sequence[int], seed: int) -> dict[int, str]:
    distinct = np.asarray(sorted(set(int(u) for u in uids)), dtype=np.int64)  # (n,)
    permuted = np.random.default_rng(seed).permutation(distinct).tolist()
    cut = len(permuted) // 2
    return {uid: "val" if i < cut else "test" for i, uid in enumerate(permuted)}


def subject_phases(protocol: SplitProtocol, subjects: Sequence[str], uids: Sequence[int],
                   sentence_phases: Sequence[str], seed: int = SPLIT_SEED) -> list[str]:
    """Phase of every record under a held-out-subject protocol, from the records' subjects,
    text uids and phases under the sentence split (all in store order)."""
    present = set(subjects)
    absent = [s for s in protocol.held_out if s not in present]
    if absent:
        raise SplitError(f"held-out subjects without stored records: {', '.join(absent)} "
                         f"(subjects: {', '.join(sorted(present))})")
    if present <= set(protocol.held_out):
        raise SplitError("every subject is held out: no subject is left for training")
    held = [s in protocol.held_out for s in subjects]
    if protocol.name == SUBJECTS:
        halves = _halves([u for u, h in zip(uids, held) if h], seed)
        return [halves[int(u)] if h else "train" for u, h in zip(uids, held)]
    return [p if (p != "train") == h else EXCLUDED for p, h in zip(sentence_phases, held)]
