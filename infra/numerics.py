"""The numerics of a run, decided in one place: the dtype the frozen text model is held in, whether
inference runs under bf16 autocast, and the precision of float32 matrix products. Training, the
test run, full validation and zero-shot classification all take it from here.

Two named numerics (``test.py --numerics``; ``auto`` picks by device):

- ``bf16``, the published numerics and ``auto`` on a GPU: text model weights in bf16, bf16
  autocast, ``torch.set_float32_matmul_precision('medium')``;
- ``float32``, ``auto`` on the CPU: float32 throughout, matmul precision ``highest``.

Training follows Lightning's ``--precision``: a bf16 precision holds the text model in bf16, on
any device, as the original does (it loads its frozen T5 in bf16 whatever the device); on a GPU any
precision but float32/float64 sets the matmul precision to ``medium``. Under CPU bf16 autocast the
EEG encoder follows autocast unless asked not to (``encoder_autocast``). Light: torch is imported
only by the functions that act.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, ContextManager

from infra.errors import OptionError

if TYPE_CHECKING:
    import torch

NUMERICS = ("auto", "bf16", "float32")
"""auto: bf16 on a GPU (the published numerics), float32 on the CPU."""


@dataclass(frozen=True)
class Numerics:
    """What a run computes in: ``name`` (``bf16``/``float32``), the text model's weights in bf16,
    inference under bf16 autocast, and the float32 matmul precision to set (None: left as it is)."""

    name: str
    text_bf16: bool
    autocast_bf16: bool
    matmul: str | None

    def apply(self) -> torch.dtype | None:
        """Set the matmul precision; the dtype to load the text model in (None: float32)."""
        import torch

        if self.matmul is not None:
            torch.set_float32_matmul_precision(self.matmul)
        return torch.bfloat16 if self.text_bf16 else None

    def autocast(self, device_type: str) -> ContextManager:
        """bf16 autocast on ``device_type`` when these numerics ask for it (else a no-op)."""
        import torch

        return torch.autocast(device_type, dtype=torch.bfloat16, enabled=self.autocast_bf16)


def resolve_numerics(numerics: str, device_type: str) -> str:
    """``bf16`` or ``float32`` for ``auto``/``bf16``/``float32`` on a ``cuda`` or ``cpu`` device."""
    if numerics not in NUMERICS:
        raise OptionError(f"unknown numerics {numerics!r}: use one of {', '.join(NUMERICS)}")
    if numerics == "auto":
        return "bf16" if device_type == "cuda" else "float32"
    return numerics


def evaluation_numerics(numerics: str, device_type: str) -> Numerics:
    """The numerics of a test run (``test.py --numerics``) on a ``cuda`` or ``cpu`` device."""
    bf16 = resolve_numerics(numerics, device_type) == "bf16"
    return Numerics("bf16" if bf16 else "float32", bf16, bf16, "medium" if bf16 else "highest")


def is_float32(precision: str | int) -> bool:
    """Whether a Lightning precision asks for float32 (or float64) everywhere."""
    return str(precision).split("-")[0] in ("32", "64")


def training_numerics(precision: str | int, gpu: bool, cpu_bf16_text: bool = True) -> Numerics:
    """The numerics of a training run with Lightning's ``precision``, on a GPU or not: a bf16
    precision holds the text model in bf16 (on the CPU only with ``cpu_bf16_text``, else float32);
    full validation generates under bf16 autocast when the precision is a bf16 one."""
    text_bf16 = "bf16" in str(precision) and (gpu or cpu_bf16_text)
    return Numerics("bf16" if text_bf16 else "float32", text_bf16, str(precision).startswith("bf16"),
                    "medium" if gpu and not is_float32(precision) else None)


def text_autocast(text_dtype: torch.dtype, device_type: str) -> ContextManager:
    """bf16 autocast around a text model held in bf16 (the published GPU numerics), else a no-op."""
    import torch

    return torch.autocast(device_type, dtype=torch.bfloat16, enabled=text_dtype == torch.bfloat16)


def encoder_autocast(device_type: str, cpu_bf16: bool) -> ContextManager:
    """Around the EEG encoder (or a float32 text model): as autocast says, except on the CPU with
    ``cpu_bf16`` False, where bf16 autocast is switched off (float32 computation)."""
    import torch

    if device_type == "cpu" and not cpu_bf16 and torch.is_autocast_enabled("cpu"):
        return torch.autocast("cpu", enabled=False)
    return contextlib.nullcontext()
