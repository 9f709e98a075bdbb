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
import warnings
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
            meta = {"space": json.dumps(asdict(space)), "texts": json.dumps([t for t, _ in items]),
                    "sha256": tensors_sha256(tensors)}
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
        try:
            entries = read_cache_file(path, space)
        except CacheFileError as error:
            warnings.warn(str(error), TextCacheWarning, stacklevel=3)
            return
        for text, row, n in entries:
            if (space, text) not in self._entries:
                self._put((space, text), _Entry(row, n))


def tensors_sha256(tensors: dict[str, torch.Tensor]) -> str:
    """sha256 over the names, dtypes, shapes and bytes of ``tensors`` (in name order)."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        digest.update(f"{name} {t.dtype} {tuple(t.shape)};".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()


class CacheFileError(ValueError):
    """A text-cache file that cannot be used (damaged, or not written by ``TextStateCache``)."""


class TextCacheWarning(UserWarning):
    """A text-cache file was ignored: its states are computed again (and the file rewritten)."""


def read_cache_file(path: Path, space: TextSpace) -> list[tuple[str, torch.Tensor, int]]:
    """``(text, states (s, d), length)`` of every text in the cache file ``path`` of ``space``:
    empty for a file of another space (a hash collision), ``CacheFileError`` (one line, naming the
    file) for a file that is damaged (its tensors' ``sha256`` is in its metadata) or does not hold
    what ``save`` writes. safetensors checks the header's offsets against the file's size before
    any tensor is read."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            if json.loads(meta.get("space", "null")) != asdict(space):
                return []
            if set(f.keys()) != {"states", "sizes", "lengths"}:
                raise ValueError(f"tensors {sorted(f.keys())[:5]}, expected states, sizes and lengths")
            tensors = {k: f.get_tensor(k) for k in ("states", "sizes", "lengths")}
        texts = json.loads(meta["texts"])
        if meta.get("sha256") != tensors_sha256(tensors):
            raise ValueError("checksum mismatch (damaged, or written before cache files had checksums)")
    except (SafetensorError, OSError, ValueError, KeyError, RecursionError) as e:
        raise CacheFileError(f"text cache {path} is unreadable ({type(e).__name__}: "
                             f"{' '.join(str(e).split())[:160]}); its states are computed again") from None
    states, sizes, lengths = tensors["states"], tensors["sizes"], tensors["lengths"]
    problem = _layout_problem(states, sizes, lengths, texts, space)
    if problem:
        raise CacheFileError(f"text cache {path} is not a GLIM text cache ({problem}); its states "
                             "are computed again")
    rows = states.split(sizes.tolist())
    return [(t, row.clone(), int(n)) for t, row, n in zip(texts, rows, lengths.tolist())]


def _layout_problem(states: torch.Tensor, sizes: torch.Tensor, lengths: torch.Tensor, texts: object,
                    space: TextSpace) -> str | None:
    """What makes the tensors and texts of a cache file unlike what ``save`` writes, if anything."""
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        return "texts is not a list of strings"
    if states.ndim != 2 or not states.is_floating_point():
        return f"states of shape {tuple(states.shape)} {states.dtype}, expected (rows, width) floats"
    if sizes.shape != (len(texts),) or lengths.shape != (len(texts),) or sizes.dtype != torch.int64 \
            or lengths.dtype != torch.int64:
        return f"sizes and lengths are not {len(texts)} int64 each"
    if bool((sizes < 0).any()) or int(sizes.sum()) != states.shape[0] or bool((sizes > space.max_len).any()):
        return "sizes do not partition the states rows"
    if bool((lengths < 0).any()) or bool((lengths > sizes).any()):
        return "lengths exceed sizes"
    return None
