"""The numerics of an evaluation run (``test.py --numerics``). Light (no torch): test.py checks
the option before anything loads; ``evaluation.predict.set_numerics`` applies the choice."""
from __future__ import annotations

from infra.errors import OptionError

NUMERICS = ("auto", "bf16", "float32")
"""auto: bf16 on a GPU (the published numerics), float32 on the CPU."""


def resolve_numerics(numerics: str, device_type: str) -> str:
    """``bf16`` or ``float32`` for ``auto``/``bf16``/``float32`` on a ``cuda`` or ``cpu`` device."""
    if numerics not in NUMERICS:
        raise OptionError(f"unknown numerics {numerics!r}: use one of {', '.join(NUMERICS)}")
    if numerics == "auto":
        return "bf16" if device_type == "cuda" else "float32"
    return numerics
