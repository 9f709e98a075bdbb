"""GPU check of the paper's training configuration: step time, memory, generation throughput and
the projected wall time of the paper's 200 epochs, in one table (one GPU, at most ~5 minutes).

    python -m bench.gpu_check               # on a CUDA GPU; refuses to run without one
    python -m bench.gpu_check --dry-run     # CPU smoke mode at tiny sizes (seconds)
    python -m bench.gpu_check --flops       # the projection by arithmetic, no GPU needed

Needs no download: the text model is Flan-T5-large's architecture built from its configuration
with random weights (d_model 1024, d_ff 2816, 24+24 layers, 16 heads, vocab 32128, gated GELU),
in bf16 as train.py loads it under bf16-mixed; GLIM is configs/glim_zuco.yaml's model; batches
are the original sampler's over synthetic ZuCo-like samples (bench.bench_step.Pool). A training
step is Lightning's bf16-mixed step done by hand: bf16 autocast, Adam, matmul precision medium.
Rows: eager and ``GLIM.compile_encoder()``, each with the text cache warm (every epoch after the
first) and without it (the T5 encoder run every step). Generation: 2 beams, exactly 64 new tokens
(the worst case), batch 24. Projection: 200 epochs x steps per epoch (17,908 train records x 8
variants / 72 per GPU, split over the GPUs as the sampler does) x the step time; it leaves out
data loading, validation and DDP's gradient all-reduce (19 M parameters).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass, field

import torch
from torch.utils.flop_counter import FlopCounterMode
from transformers import ByT5Tokenizer, T5Config, T5ForConditionalGeneration
from transformers.modeling_outputs import BaseModelOutput

from bench.bench_step import Pool, paper_hparams
from bench.memory_estimate import FLAN_T5_LARGE
from model.glim import GLIM
from model.frozen_text import FrozenTextModel

TRAIN_RECORDS = 17_908
"""Train records of the published split (ZuCo 1.0 + 2.0); each is read with 8 target variants."""
VARIANTS = 8
PAPER_BATCH = 72
EPOCHS = 200
GPUS = (1, 8)
GB = 2**30
SMOKE_EEG_LEN = 128


@dataclass
class Sizes:
    """What one check runs: the paper's sizes on a GPU, tiny ones in the smoke mode."""

    hparams: dict
    t5: dict
    batch: int = 72
    gen_batch: int = 24
    gen_tokens: int = 64
    beams: int = 2
    warmup: int = 3
    steps: int = 10
    compile: bool = True
    texts: int = field(default=0)
    max_len: int = 1280

    @property
    def n_texts(self) -> int:
        return self.texts or self.batch * 8


def paper_sizes() -> Sizes:
    return Sizes(paper_hparams(), dict(FLAN_T5_LARGE))


def smoke_sizes() -> Sizes:
    """Tiny sizes for a CPU smoke run of every code path but compilation."""
    hp = dict(paper_hparams(), input_eeg_len=SMOKE_EEG_LEN, hidden_eeg_len=8, input_text_len=8, tgt_text_len=8,
              hidden_dim=32, embed_dim=32, n_in_blocks=1, n_out_blocks=1, num_heads=2)
    t5 = dict(FLAN_T5_LARGE, d_model=32, d_kv=16, d_ff=64, num_layers=1, num_decoder_layers=1, num_heads=2,
              vocab_size=384)  # ByT5's byte ids
    return Sizes(hp, t5, batch=4, gen_batch=2, gen_tokens=4, warmup=0, steps=1, compile=False, texts=16,
                 max_len=SMOKE_EEG_LEN)


def build(sizes: Sizes, device: torch.device, dtype: torch.dtype) -> GLIM:
    """GLIM with a random text model of ``sizes.t5``'s architecture (in ``dtype``) on ``device``."""
    torch.manual_seed(0)
    model = GLIM(**sizes.hparams)
    t5 = T5ForConditionalGeneration(T5Config(**sizes.t5)).to(dtype)
    model.text_model = FrozenTextModel(ByT5Tokenizer(), t5)
    return model.to(device)


def steps_per_epoch(gpus: int, batch: int = PAPER_BATCH) -> int:
    """Training steps of one GPU in one epoch (the sampler's batches split over the GPUs)."""
    return TRAIN_RECORDS * VARIANTS // batch // gpus


def on(batch: dict, device: torch.device) -> dict:
    """``batch`` with its tensors on ``device`` (``eeg_len`` stays host ints, as collate keeps it)."""
    return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def peak_gib(device: torch.device) -> float:
    return torch.cuda.max_memory_allocated() / GB if device.type == "cuda" else float("nan")


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()


def train_steps(model: GLIM, batches: list[dict], sizes: Sizes, device: torch.device) -> tuple[float, float]:
    """Median seconds of a bf16-mixed training step over ``sizes.steps`` steps after the warm-up,
    and the peak GPU memory (GiB) of those steps."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    model.train()
    times = []
    reset_peak(device)
    for k in range(sizes.warmup + sizes.steps):
        batch = batches[k % len(batches)]
        sync(device)
        start = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16):
            loss = model(batch)["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times[sizes.warmup:]), peak_gib(device)


@torch.no_grad()
def generation(model: GLIM, batch: dict, sizes: Sizes, device: torch.device) -> tuple[float, float]:
    """Samples per second of beam search with exactly ``gen_tokens`` new tokens, and peak GiB."""
    model.eval()
    tm = model.text_model
    reset_peak(device)
    times = []
    for _ in range(2):
        sync(device)
        start = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16):
            emb = model.encode_eeg(batch["eeg"], batch["mask"], batch["prompt_ids"], lengths=batch["eeg_len"])
            tm.model.generate(encoder_outputs=BaseModelOutput(last_hidden_state=emb), num_beams=sizes.beams,
                              max_new_tokens=sizes.gen_tokens, min_new_tokens=sizes.gen_tokens, do_sample=False)
        sync(device)
        times.append(time.perf_counter() - start)
    return len(batch["model_input_text"]) / min(times), peak_gib(device)


def hours(step_s: float, gpus: int) -> float:
    """Wall hours of the paper's 200 epochs at ``step_s`` per step on ``gpus`` GPUs."""
    return EPOCHS * steps_per_epoch(gpus) * step_s / 3600


def measure(sizes: Sizes, device: torch.device) -> list[tuple[str, float, float, bool]]:
    """Rows (name, value, peak GiB, is a step time)."""
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    model = build(sizes, device, dtype)
    pool = Pool(n_texts=sizes.n_texts, max_len=sizes.max_len)
    batches = [on(pool.batch(idx, False, seed=k), device)
               for k, idx in enumerate(pool.batches(sizes.batch)[: sizes.warmup + sizes.steps])]
    with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16):  # warm cache: a later epoch
        for b in batches:
            model.text_states(b["model_input_text"])
    rows = []
    for compiled in (False, True):
        if compiled:
            if not sizes.compile:
                continue
            model.compile_encoder()
        for cache in (True, False):
            cache_obj = model.text_cache
            if not cache:
                model.use_text_cache(False)
            step, peak = train_steps(model, batches, sizes, device)
            model.text_cache = cache_obj
            name = f"train step, batch {sizes.batch}, {'compiled' if compiled else 'eager'}, " \
                   f"text cache {'on' if cache else 'off'}"
            rows.append((name, step, peak, True))
    gen = on(pool.batch(pool.batches(sizes.gen_batch)[0], False, seed=0), device)
    rate, peak = generation(model, gen, sizes, device)
    rows.append((f"generation, {sizes.beams} beams, {sizes.gen_tokens} tokens, batch {sizes.gen_batch} "
                 "(samples/s)", rate, peak, False))
    return rows


def print_table(rows: list[tuple[str, float, float, bool]], title: str) -> None:
    print(title)
    head = f"| {'measurement':62s} | {'value':>9s} | {'peak GiB':>8s} | " + \
        " | ".join(f"200 epochs, {g} GPU{'s' * (g > 1)}" for g in GPUS) + " |"
    print(head)
    print("".join(c if c == "|" else "-" for c in head))
    for name, value, peak, is_step in rows:
        value_s = f"{value:8.3f}s" if is_step else f"{value:9.1f}"
        proj = [f"{hours(value, g):15.1f} h" if is_step else f"{'-':>17s}" for g in GPUS]
        print(f"| {name:62s} | {value_s} | {peak:8.2f} | " + " | ".join(proj) + " |")


def step_flops(sizes: Sizes, n_batches: int = 3) -> dict[str, float]:
    """FLOPs of one training step (forward + backward) counted on the meta device at the shapes of
    the sampler's batches (mean of ``n_batches``), with the EEG encoder per length group as
    GLIM computes it: the step with cached text states, and the T5 encoder's forward."""
    with torch.device("meta"):
        model = build(sizes, torch.device("meta"), torch.float32)  # FLOPs do not depend on the dtype
    s, d = sizes.hparams["input_text_len"], sizes.t5["d_model"]
    model.text_states = lambda texts, max_len=None: (  # cached states: what the cache returns
        torch.zeros(len(texts), s, d, device="meta"), torch.ones(len(texts), s, dtype=torch.bool, device="meta"))
    pool = Pool(n_texts=sizes.n_texts, max_len=sizes.max_len)
    counts = []
    for k, idx in enumerate(pool.batches(sizes.batch)[:n_batches]):
        batch = on(pool.batch(idx, False, seed=k), torch.device("meta"))
        with FlopCounterMode(display=False) as fc:
            model(batch)["loss"].backward()
        counts.append(fc.get_total_flops())
    with FlopCounterMode(display=False) as fc:
        model.text_model.model.encoder(input_ids=torch.ones(sizes.batch, s, dtype=torch.long, device="meta"))
    return {"cached": statistics.mean(counts), "text encoder": float(fc.get_total_flops())}


def print_flops(sizes: Sizes, tflops: float) -> None:
    """The projection by arithmetic: FLOPs per step and the wall time at ``tflops`` sustained."""
    f = step_flops(sizes)
    print(f"arithmetic projection (not a measurement): FLOPs per training step at batch {sizes.batch}, "
          f"at {tflops:g} TFLOP/s sustained")
    for name, flops in (("text cache on", f["cached"]), ("text cache off", f["cached"] + f["text encoder"])):
        per_step = flops / (tflops * 1e12)
        print(f"  {name:15s} {flops / 1e12:7.2f} TFLOP/step  {per_step:6.3f} s/step  " +
              "  ".join(f"{g} GPU{'s' * (g > 1)}: {hours(per_step, g):6.1f} h" for g in GPUS))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.gpu_check", description=__doc__.split("\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="CPU smoke mode at tiny sizes")
    parser.add_argument("--flops", action="store_true", help="only the projection by arithmetic (no GPU)")
    parser.add_argument("--tflops", type=float, default=100.0, help="sustained TFLOP/s for --flops")
    args = parser.parse_args(argv)
    sizes = smoke_sizes() if args.dry_run else paper_sizes()
    if args.flops:
        print_flops(sizes, args.tflops)
        return 0
    if not args.dry_run and not torch.cuda.is_available():
        print("bench.gpu_check needs a CUDA GPU and found none (--dry-run: CPU smoke mode; --flops: "
              "the projection by arithmetic)", file=sys.stderr)
        return 2
    device = torch.device("cpu" if args.dry_run else "cuda")
    if device.type == "cuda":
        torch.set_float32_matmul_precision("medium")
        name = torch.cuda.get_device_name()
    else:
        torch.set_num_threads(min(2, torch.get_num_threads()))
        name = "CPU (dry run, tiny sizes)"
    start = time.perf_counter()
    rows = measure(sizes, device)
    print_table(rows, f"GLIM GPU check on {name}: paper configuration, bf16-mixed, "
                      f"{sizes.steps} steps after {sizes.warmup} warm-up")
    print(f"steps per epoch: {', '.join(f'{steps_per_epoch(g)} on {g} GPU(s)' for g in GPUS)} "
          f"({TRAIN_RECORDS:,} records x {VARIANTS} / {PAPER_BATCH} per GPU); check took "
          f"{time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
