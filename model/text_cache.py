"""Frozen text-encoder states computed once per distinct text: an in-memory LRU cache, optionally
persisted as one safetensors file per text space (text model, max length, precision).

A text's encoder states do not depend on the other texts of its batch (the attention mask hides
the padding), so the states of each text are stored as the original computes them, padded to the
space's ``max_len`` tokens (the commitment loss and ``use_y_mask`` compare them position by
position with the EEG embeddings), with the count of its real tokens for the mask. Recomputed in a batch of another
shape, T5 gives the same states up to floating-point reduction order (about 1e-6 in float32, one
bfloat16 ulp under bf16 autocast); see docs/performance.md.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections import OrderedDict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch
from torch.nn.utils.rnn import pad_sequence

from infra.atomic import atomic_write_bytes

EncodeFn = Callable[[list[str]], tuple[torch.Tensor, list[int]]]
"""Texts → encoder states (k, s, d) padded to the batch and the real token count of each text."""


@dataclass(frozen=True)
class TextSpace:
    """Everything a text's states depend on besides the text itself."""

    model_id: str
    max_len: int
    precision: str  # parameter dtype and autocast dtype of the text model

    def file_name(self) -> str:
        return hashlib.sha1(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16] + ".safetensors"


@dataclass
class _Entry:
    states: torch.Tensor  # (max_len, d)
    length: int  # real tokens


class TextStateCache:
    """LRU cache of ``(space, text) → states`` holding at most ``max_bytes`` of states (ZuCo's
    1888 input texts take about 0.1-0.3 GB with Flan-T5-large); ``directory`` persists it."""

    def __init__(self, max_bytes: int = 2**30, directory: str | os.PathLike | None = None):
        self.max_bytes, self.nbytes = max_bytes, 0
        self.directory = Path(directory) if directory else None
        self._entries: OrderedDict[tuple[TextSpace, str], _Entry] = OrderedDict()
        self._loaded: set[TextSpace] = set()
        self._dirty: set[TextSpace] = set()
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def states(self, space: TextSpace, texts: Sequence[str], encode: EncodeFn,
               device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """States (n, s, d) and the mask (n, s) of ``texts`` (s: the longest stored states, the
        space's ``max_len``); ``encode`` runs once on the distinct texts not cached yet."""
        self._load(space)
        found = {t: self._entries[(space, t)] for t in texts if (space, t) in self._entries}
        missing = list(dict.fromkeys(t for t in texts if t not in found))
        self.hits += len(texts) - len(missing)
        self.misses += len(missing)
        if missing:
            found.update(self._encode(space, missing, encode))
        for t in dict.fromkeys(texts):
            self._entries.move_to_end((space, t))
        while self.nbytes > self.max_bytes and self._entries:
            self._forget(next(iter(self._entries)))
        rows = [found[t] for t in texts]
        for e in rows:  # entries loaded from a file or made before .to(device) move once
            e.states = e.states.to(device)
        states = pad_sequence([e.states for e in rows], batch_first=True)  # (n, s, d)
        lengths = torch.tensor([e.length for e in rows])  # host tensor: building the mask needs no sync
        mask = torch.arange(states.shape[1])[None] < lengths[:, None]  # (n, s)
        return states, mask.to(device, non_blocking=True)

    def _encode(self, space: TextSpace, texts: list[str], encode: EncodeFn) -> dict[str, _Entry]:
        states, lengths = encode(texts)  # (k, s, d)
        new = {}
        with torch.inference_mode(False):  # a normal tensor, usable later by autograd
            for i, (text, n) in enumerate(zip(texts, lengths)):
                new[text] = self._put((space, text), _Entry(states[i].clone(), int(n)))
        self._dirty.add(space)
        return new

    def _put(self, key: tuple[TextSpace, str], entry: _Entry) -> _Entry:
        if key in self._entries:
            self._forget(key)
        self._entries[key] = entry
        self.nbytes += entry.states.nbytes
        return entry

    def _forget(self, key: tuple[TextSpace, str]) -> None:
        self.nbytes -= self._entries.pop(key).states.nbytes

    # ----------------------------------------------------------------- persistence
    def save(self) -> list[Path]:
        """Write every space with new entries to ``directory`` (atomically); returns the files."""
        if self.directory is None:
            return []
        from safetensors.torch import save

        written = []
        self.directory.mkdir(parents=True, exist_ok=True)
        for space in sorted(self._dirty, key=repr):
            items = [(t, e) for (s, t), e in self._entries.items() if s == space]
            if not items:
                continue
            tensors = {"states": torch.cat([e.states.detach().cpu() for _, e in items]),  # (Σs, d)
                       "sizes": torch.tensor([len(e.states) for _, e in items]),
                       "lengths": torch.tensor([e.length for _, e in items])}
            meta = {"space": json.dumps(asdict(space)), "texts": json.dumps([t for t, _ in items])}
            written.append(atomic_write_bytes(self.directory / space.file_name(), save(tensors, metadata=meta)))
        self._dirty.clear()
        return written

    def _load(self, space: TextSpace) -> None:
        if space in self._loaded:
            return
        self._loaded.add(space)
        path = self.directory / space.file_name() if self.directory else None
        if path is None or not path.is_file():
            return
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata()
            if json.loads(meta["space"]) != asdict(space):
                return  # a hash collision or a foreign file: recompute rather than trust it
            states, sizes, lengths = (f.get_tensor(k) for k in ("states", "sizes", "lengths"))
        for text, row, n in zip(json.loads(meta["texts"]), states.split(sizes.tolist()), lengths.tolist()):
            if (space, text) not in self._entries:
                self._put((space, text), _Entry(row.clone(), int(n)))
