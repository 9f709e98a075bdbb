"""GPU acceptance check of GLIM in one command (one CUDA GPU, under 6 minutes on an H100).

    python -m bench.gpu_check [--skip demo,memory,generation]   # on a CUDA GPU
    python -m bench.gpu_check --dry_run     # every code path on the CPU at tiny sizes (CI)
    python -m bench.gpu_check --flops       # the projection by arithmetic, no GPU needed

1. Demo-size run (``bench.demo_check``): the synthetic corpus, ``python -m data.prepare``, a tiny
   T5, ``train.py --config configs/demo.yaml`` for one epoch under bf16-mixed on the GPU, then
   ``test.py`` with the noise control; each step must succeed and leave finite results.
2. The paper configuration's training step on the same GPU, batch 72, the text model Flan-T5-large's
   architecture with random weights (d_model 1024, d_ff 2816, 24+24 layers, 16 heads, vocab 32128,
   gated GELU) in bf16 as train.py loads it, bf16 autocast, Adam, matmul precision medium; batches of
   the original sampler over ZuCo-like samples (``bench.workload.Pool``): GLIM's defaults with the
   text cache warm (every epoch after the first) and off (the T5 encoder every step: the first
   epoch's worst case), and the padded path (``bench.padded_path``: the padded work the original
   does, in GLIM's modules), with their peak memory.
3. Peak memory of a worst-case step (every EEG 1280 steps, every text at its maximum length)
   against ``bench.memory_estimate``'s prediction.
4. Generation throughput (2 beams, exactly 64 new tokens, batch 24) and the projected wall time of
   the paper's 200 epochs on 1 and 8 GPUs (17,908 train records x 8 variants / 72 per GPU, split
   over the GPUs as the sampler does; data loading, validation and DDP's all-reduce left out).
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode
from transformers import ByT5Tokenizer, T5Config, T5ForConditionalGeneration
from transformers.modeling_outputs import BaseModelOutput

from data.prompts import INPUT_PREFIX
from bench.demo_check import DemoFailed, DemoSizes, demo_check, smoke_demo
from bench.memory_estimate import FLAN_T5_LARGE, estimate
from bench.padded_path import padded_copy
from bench.workload import Pool, paper_hparams
from infra.options import OptionParser
from model.frozen_text import FrozenTextModel
from model.glim import GLIM

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
    texts: int = field(default=0)
    max_len: int = 1280
    demo: DemoSizes = field(default_factory=DemoSizes)

    @property
    def n_texts(self) -> int:
        return self.texts or self.batch * 8


def paper_sizes() -> Sizes:
    return Sizes(paper_hparams(), dict(FLAN_T5_LARGE))


def smoke_sizes() -> Sizes:
    """Tiny sizes for a CPU smoke run of every code path."""
    hp = dict(paper_hparams(), input_eeg_len=SMOKE_EEG_LEN, hidden_eeg_len=8, input_text_len=8, tgt_text_len=8,
              hidden_dim=32, embed_dim=32, n_in_blocks=1, n_out_blocks=1, num_heads=2)
    t5 = dict(FLAN_T5_LARGE, d_model=32, d_kv=16, d_ff=64, num_layers=1, num_decoder_layers=1, num_heads=2,
              vocab_size=384)  # ByT5's byte ids
    return Sizes(hp, t5, batch=4, gen_batch=2, gen_tokens=4, warmup=0, steps=1, texts=16,
                 max_len=SMOKE_EEG_LEN, demo=smoke_demo())


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


def train_steps(model: GLIM, batches: list[dict], sizes: Sizes, device: torch.device,
                warmup: int | None = None, steps: int | None = None) -> tuple[float, float]:
    """Median seconds of a bf16-mixed training step (the forward of ``GLIM.training_step``) over
    ``steps`` steps after ``warmup``, and the peak GPU memory (GiB) of the timed steps."""
    warmup = sizes.warmup if warmup is None else warmup
    steps = sizes.steps if steps is None else steps
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    model.train()
    times = []
    for k in range(warmup + steps):
        if k == warmup:
            reset_peak(device)
        batch = batches[k % len(batches)]
        sync(device)
        start = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16):
            loss = model(batch, logits=False)["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times[warmup:]), peak_gib(device)


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


Row = tuple[str, float, float, bool]
"""(what, value, peak GiB, whether the value is a step time in seconds)."""


def measure_steps(model: GLIM, sizes: Sizes, device: torch.device) -> list[Row]:
    """The training step of GLIM's defaults (text cache warm and off) and of the padded path."""
    pool = Pool(n_texts=sizes.n_texts, max_len=sizes.max_len)
    chosen = pool.batches(sizes.batch)[: sizes.warmup + sizes.steps]
    trimmed = [on(pool.batch(idx, False, seed=k), device) for k, idx in enumerate(chosen)]
    padded = [on(pool.batch(idx, True, seed=k), device) for k, idx in enumerate(chosen)]
    with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16):  # warm cache: a later epoch
        for b in trimmed:
            model.text_states(b["model_input_text"])
    rows = []
    warm = train_steps(model, trimmed, sizes, device)
    rows.append((f"train step, batch {sizes.batch}, GLIM defaults, text cache warm", *warm, True))
    cache = model.text_cache
    model.use_text_cache(False)
    rows.append((f"train step, batch {sizes.batch}, GLIM defaults, text cache off",
                 *train_steps(model, trimmed, sizes, device), True))
    model.text_cache = cache
    path = train_steps(padded_copy(model), padded, sizes, device)
    rows.append((f"train step, batch {sizes.batch}, padded path (1280 steps, every position)", *path, True))
    rows.append(("GLIM defaults (cache warm) / padded path", warm[0] / path[0], float("nan"), False))
    return rows


def worst_case_batch(sizes: Sizes, device: torch.device) -> dict:
    """Every EEG ``max_len`` steps, every input and target text at its maximum token count."""
    n, hp = sizes.batch, sizes.hparams
    return on({"eeg": torch.randn(n, sizes.max_len, 128), "mask": torch.ones(n, sizes.max_len, dtype=torch.bool),
               "eeg_len": [sizes.max_len] * n, "prompt_ids": torch.tensor([[1, 0, 0]] * n),
               "model_input_text": [f"{INPUT_PREFIX}{i} " + "x" * 4 * hp["input_text_len"] for i in range(n)],
               "target_text": ["y" * 4 * hp["tgt_text_len"]] * n}, device)


def measure_memory(model: GLIM, sizes: Sizes, device: torch.device) -> list[Row]:
    """Peak memory of a worst-case training step against ``bench.memory_estimate``'s prediction
    (its total less the DDP gradient buckets, absent on one GPU)."""
    batch = worst_case_batch(sizes, device)
    _, peak = train_steps(model, [batch], sizes, device, warmup=1, steps=1)  # the warm-up fills the cache
    rows, *_ = estimate(sizes.hparams, sizes.t5, sizes.batch, sizes.max_len, sizes.hparams["tgt_text_len"],
                        texts=sizes.n_texts)
    predicted = sum(v for name, v in rows if not name.startswith("DDP")) / GB
    return [(f"peak memory of a worst-case step, batch {sizes.batch} (GiB)", peak, peak, False),
            ("bench.memory_estimate prediction, one GPU (GiB)", predicted, float("nan"), False)]


def measure(sizes: Sizes, device: torch.device, skip: set[str]) -> list[Row]:
    """Rows of every part not in ``skip``."""
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    model = build(sizes, device, dtype)
    rows = measure_steps(model, sizes, device)
    if "memory" not in skip:
        rows += measure_memory(model, sizes, device)
    if "generation" not in skip:
        pool = Pool(n_texts=sizes.n_texts, max_len=sizes.max_len)
        gen = on(pool.batch(pool.batches(sizes.gen_batch)[0], False, seed=0), device)
        rate, peak = generation(model, gen, sizes, device)
        rows.append((f"generation, {sizes.beams} beams, {sizes.gen_tokens} tokens, batch {sizes.gen_batch} "
                     "(samples/s)", rate, peak, False))
    return rows


def print_table(rows: list[Row], title: str) -> None:
    print(title)
    head = f"| {'measurement':62s} | {'value':>9s} | {'peak GiB':>8s} | " + \
        " | ".join(f"200 epochs, {g} GPU{'s' * (g > 1)}" for g in GPUS) + " |"
    print(head)
    print("".join(c if c == "|" else "-" for c in head))
    for name, value, peak, is_step in rows:
        value_s = f"{value:8.3f}s" if is_step else f"{value:9.3f}"
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
            model(batch, logits=False)["loss"].backward()
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


PARTS = ("demo", "memory", "generation")
"""Parts ``--skip`` may leave out (the training-step comparison always runs)."""


def run_demo(sizes: Sizes, device: torch.device) -> tuple[list[tuple[str, str]], bool]:
    """The demo-size run in a temporary directory: its rows and whether it passed."""
    with tempfile.TemporaryDirectory(prefix="glim-gpu-check-") as tmp:
        try:
            return demo_check(Path(tmp), "gpu" if device.type == "cuda" else "cpu", sizes.demo), True
        except DemoFailed as e:
            return [("demo run", f"FAILED: {e}")], False


def main(argv: list[str] | None = None) -> int:
    parser = OptionParser(prog="python -m bench.gpu_check", description=__doc__.split("\n")[0])
    parser.add_argument("--dry_run", action="store_true", help="every code path on the CPU at tiny sizes")
    parser.add_argument("--flops", action="store_true", help="only the projection by arithmetic (no GPU)")
    parser.add_argument("--tflops", type=float, default=100.0, help="sustained TFLOP/s for --flops")
    parser.add_argument("--skip", default="", help=f"comma list of parts to leave out: {', '.join(PARTS)}")
    args = parser.parse_args(argv)
    skip = {p for p in args.skip.split(",") if p}
    if skip - set(PARTS):
        print(f"error: --skip takes {', '.join(PARTS)}, not {', '.join(sorted(skip - set(PARTS)))}", file=sys.stderr)
        return 2
    sizes = smoke_sizes() if args.dry_run else paper_sizes()
    if args.flops:
        print_flops(sizes, args.tflops)
        return 0
    if not args.dry_run and not torch.cuda.is_available():
        print("bench.gpu_check needs a CUDA GPU and found none (--dry_run: CPU smoke mode; --flops: "
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
    ok = True
    if "demo" not in skip:
        demo_rows, ok = run_demo(sizes, device)
        print(f"demo-size run on {name}:")
        for what, result in demo_rows:
            print(f"| {what:62s} | {result} |")
        print()
    rows = measure(sizes, device, skip)
    print_table(rows, f"GLIM GPU check on {name}: paper configuration, bf16-mixed, "
                      f"{sizes.steps} steps after {sizes.warmup} warm-up")
    memory = {name: value for name, value, _, _ in rows if "GiB)" in name}
    if len(memory) == 2 and device.type == "cuda":
        peak, predicted = memory.values()
        fits = peak <= predicted
        ok = ok and fits
        print(f"peak memory {peak:.2f} GiB {'within' if fits else 'ABOVE'} the prediction {predicted:.2f} GiB")
    print(f"steps per epoch: {', '.join(f'{steps_per_epoch(g)} on {g} GPU(s)' for g in GPUS)} "
          f"({TRAIN_RECORDS:,} records x {VARIANTS} / {PAPER_BATCH} per GPU); check took "
          f"{time.perf_counter() - start:.0f} s; {'passed' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
