"""Synthetic sentence EEG with a planted, learnable dependence on the words read.

Every word (lower-cased, outer punctuation stripped) has a fixed pseudo-random spatial pattern
over the 104 real channels, seeded from a BLAKE2 hash of the word (stable across runs and
processes). While the word is read (200-400 ms at 500 Hz) its pattern is switched on under a
Hann envelope; pink-ish noise (AR(1) plus white, unit variance) is added and the sum is scaled by a
per-subject gain and per-channel gains. ``signal_to_noise`` is the envelope peak of the (unit
RMS) pattern over the noise standard deviation. Channel 105 is all zeros, as in ZuCo.
"""
from __future__ import annotations

import hashlib
import string
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy.signal import lfilter

N_CHANNELS = 105
N_ACTIVE = 104
BANDS = ("t1", "t2", "a1", "a2", "b1", "b2", "g1", "g2")
_BAND_FACTORS = np.array([1.6, 1.4, 1.2, 1.1, 0.8, 0.7, 0.5, 0.4], np.float32)
_AR = 0.95  # pole of the pink-ish noise
_MIX = (0.8, 0.6)  # weights of the AR(1) and the white part
_NOISE_STD = float(np.sqrt(_MIX[0] ** 2 + _MIX[1] ** 2 + 2 * _MIX[0] * _MIX[1] * np.sqrt(1 - _AR ** 2)))
MICROVOLT_SCALE = 10.0


def stable_seed(*parts: object) -> int:
    """A 64-bit seed from a hash of ``parts`` (independent of PYTHONHASHSEED and the process)."""
    text = "\x1f".join(str(p) for p in parts).encode("utf-8")
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")


def word_key(token: str) -> str:
    """What a word's pattern depends on: lower case without outer punctuation."""
    key = token.lower().strip(string.punctuation + "’“”")
    return key or token.lower()


@lru_cache(maxsize=1 << 16)
def word_pattern(key: str) -> np.ndarray:
    """The fixed unit-RMS spatial pattern (104 channels) of a word key."""
    p = np.random.default_rng(stable_seed("word-pattern", key)).standard_normal(N_ACTIVE)
    p /= np.sqrt(np.mean(p ** 2))
    p.setflags(write=False)
    return p


@dataclass(frozen=True)
class SubjectProfile:
    gain: float
    speed: float
    channel_gain: np.ndarray = field(repr=False)


def subject_profile(code: str, seed: int = 0) -> SubjectProfile:
    """Per-subject gain, reading speed and channel gains (deterministic per code and seed)."""
    rng = np.random.default_rng(stable_seed("subject", seed, code))
    return SubjectProfile(gain=float(rng.uniform(0.7, 1.4)), speed=float(rng.uniform(0.9, 1.1)),
                          channel_gain=rng.uniform(0.8, 1.2, N_ACTIVE))


@dataclass
class Reading:
    """A sentence's raw EEG (105 x T float32) and when each word was read."""

    data: np.ndarray
    onsets: np.ndarray
    durations: np.ndarray


def word_durations(words: list[str], speed: float, rng: np.random.Generator) -> np.ndarray:
    """Reading time per word in samples: 100-180 (200-360 ms) by length, jittered, per speed."""
    base = np.array([min(180, max(100, 95 + 6 * len(word_key(w)))) for w in words], float)
    return np.round((base + rng.integers(-10, 11, len(words))) * speed).astype(int)


def pink_noise(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Unit-variance noise per row: AR(1) (pole 0.95) mixed with white noise."""
    white = rng.standard_normal(shape)
    b = np.sqrt(1 - _AR ** 2)
    start = rng.standard_normal((shape[0], 1)) * _AR
    ar, _ = lfilter([b], [1.0, -_AR], white, axis=1, zi=start)
    return (_MIX[0] * ar + _MIX[1] * white) / _NOISE_STD


def read_sentence(words: list[str], profile: SubjectProfile, rng: np.random.Generator,
                  signal_to_noise: float) -> Reading:
    """Simulate the EEG of reading ``words`` once."""
    durations = word_durations(words, profile.speed, rng)
    lead_in, lead_out = (int(x) for x in rng.integers(10, 26, 2))
    onsets = lead_in + np.concatenate([[0], np.cumsum(durations)[:-1]]).astype(int)
    t = int(lead_in + durations.sum() + lead_out)
    x = pink_noise((N_ACTIVE, t), rng)
    if signal_to_noise:
        for w, on, d in zip(words, onsets, durations):
            envelope = np.hanning(d + 2)[1:-1]
            x[:, on:on + d] += signal_to_noise * np.outer(word_pattern(word_key(w)), envelope)
    x *= (MICROVOLT_SCALE * profile.gain) * profile.channel_gain[:, None]
    data = np.zeros((N_CHANNELS, t), np.float32)
    data[:N_ACTIVE] = x
    return Reading(data=data, onsets=onsets, durations=durations)


def band_means(data: np.ndarray) -> dict[str, np.ndarray]:
    """Sentence-level band values ``mean_t1`` ... (105 x 1 each) from the per-channel spread."""
    spread = np.abs(data).mean(axis=1, dtype=np.float64).astype(np.float32)[:, None]
    return {f"mean_{b}": spread * f for b, f in zip(BANDS, _BAND_FACTORS)}


@dataclass
class WordReading:
    """Eye-tracking measures of one word; ``fixations`` are (start, stop) sample ranges."""

    content: str
    fixations: list[tuple[int, int]]
    positions: list[int]
    first_pass: int
    extra_go_past: int
    pupil: float


def fixate(words: list[str], reading: Reading, rng: np.random.Generator) -> list[WordReading]:
    """Fixations inside each word's reading window; short words are skipped more often."""
    out, counter = [], 0
    for w, on, d in zip(words, reading.onsets, reading.durations):
        skip = 0.3 if len(word_key(w)) <= 3 else 0.1
        n = 0 if rng.random() < skip else int(rng.choice(3, p=(0.72, 0.23, 0.05))) + 1
        fix: list[tuple[int, int]] = []
        if n:
            cover = rng.uniform(0.5, 0.8) * d
            lengths = np.maximum(15, np.round(cover * rng.dirichlet(np.ones(n) * 4))).astype(int)
            gap = max(1, int((d - lengths.sum()) // (n + 1)))
            start = int(on) + gap
            for length in lengths:
                fix.append((start, min(start + int(length), int(on + d))))
                start = fix[-1][1] + gap
        positions = list(range(counter + 1, counter + n + 1))
        counter += n
        out.append(WordReading(content=w, fixations=fix, positions=positions,
                               first_pass=min(n, 2), extra_go_past=int(rng.integers(0, 3)) * 40,
                               pupil=float(rng.uniform(1500, 2500))))
    return out


def word_measures(wr: WordReading) -> dict[str, float | None]:
    """FFD, TRT, GD, GPT, SFD in ms (None for a word never fixated)."""
    ms = [2.0 * (b - a) for a, b in wr.fixations]
    if not ms:
        return dict(FFD=None, TRT=None, GD=None, GPT=None, SFD=None)
    gd = sum(ms[: wr.first_pass])
    return dict(FFD=ms[0], TRT=sum(ms), GD=gd, GPT=gd + wr.extra_go_past,
                SFD=ms[0] if len(ms) == 1 else None)


def word_bands(wr: WordReading, data: np.ndarray, metrics: tuple[str, ...],
               diff: bool = False) -> dict[str, np.ndarray | None]:
    """Per-band word values ``{metric}_{band}`` (105 x 1), from the fixated samples."""
    out: dict[str, np.ndarray | None] = {}
    if not wr.fixations:
        base_all = base_first = None
    else:
        base_first = np.abs(data[:, slice(*wr.fixations[0])]).mean(axis=1)[:, None]
        base_all = np.mean([np.abs(data[:, slice(a, b)]).mean(axis=1) for a, b in wr.fixations],
                           axis=0)[:, None]
    for metric in metrics:
        base = base_first if metric == "FFD" else base_all
        for b, f in zip(BANDS, _BAND_FACTORS):
            value = None if base is None else (base * f).astype(np.float32)
            out[f"{metric}_{b}"] = value
            if diff:
                out[f"{metric}_{b}_diff"] = None if value is None else value * np.float32(0.1)
    return out
