"""CPU threading that does not depend on what ran before in the process.

oneMKL, torch's CPU BLAS, starts with dynamic threading on: it may run a small matrix product on
fewer threads than torch's pool, which splits the product's sums differently and changes the last
bits of the result. The first ``torch.set_num_threads`` call anywhere in the process (a scorer, a
data loader, Lightning's DDP set-up) turns dynamic threading off for good. A run that starts
afresh and one that continues after an evaluation in the same process would then multiply with
different thread counts, and a resumed run would not end bit for bit where the uninterrupted one
does. Pinning the thread count at the start of every run puts every run in the same state."""
from __future__ import annotations


def pin_cpu_threads(threads: int | None = None) -> int:
    """Fix torch's intra-op thread count (default: the current one) and with it the BLAS
    threading (dynamic threading off); returns the count."""
    import torch  # here: command lines check their options before torch loads

    threads = threads or torch.get_num_threads()
    torch.set_num_threads(threads)
    return threads
