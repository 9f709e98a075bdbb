"""What the command lines share, light enough to run before torch loads: one-line errors and
the Lightning trainer options they check up front."""
from __future__ import annotations

PRECISIONS = ("bf16-mixed", "32-true", "16-mixed", "bf16-true", "16-true", "64-true", "transformer-engine",
              "transformer-engine-float16", "bf16", "32", "16", "64")
"""The precisions Lightning accepts."""

CPU_HINT = "--accelerator cpu --devices 1 --strategy auto --precision 32-true (or bf16-mixed)"
"""The trainer options that run on a machine without a GPU."""


def one_line(error: BaseException | str, limit: int = 500) -> str:
    """An error message on one line (jsonargparse's span several), at most ``limit`` characters."""
    return " ".join(str(error).split())[:limit]


def gpu_visible() -> bool:
    """Whether torch sees a CUDA GPU (imports torch: call it only when the answer matters)."""
    import torch

    return torch.cuda.is_available()
