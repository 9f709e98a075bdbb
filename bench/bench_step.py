"""Training-step time on the CPU at the paper's architecture (configs/glim_zuco.yaml): GLIM's
defaults against the padded path and against its own options, in one run.

    python -m bench.bench_step [--steps 3] [--warmup 1] [--batch 12] [--threads 2]
                               [--text_model tiny|large] [--precision bf16|fp32] [--profile]

A diagnostic of GLIM's own paths, not a comparison with the original implementation (that one runs
only beside the project: ``python -m bench.vs_original``). Every variant trains on the same batches, the
original sampler's (``DistinctUidBatchSampler``, not length-grouped), of ZuCo-like EEG lengths,
the text cache warm (a later epoch); steps are interleaved variant by variant so that the
machine's load drift falls on all of them alike. The frozen text model: ``tiny`` (width 1024, 2 +
2 layers: the EEG encoder is most of the step) or ``large`` (Flan-T5-large's shape, 24 + 24 layers,
random weights: the real model's cost). Variants (bf16 autocast unless ``fp32``):

- ``padded path`` (``bench.padded_path``): the padded work the original does, in GLIM's modules;
- ``ours (defaults)``: GLIM as shipped;
- ``max_length_groups=G`` for the other G of 1, 2, 4, 8, 12, ``cpu_bf16_encoder``, ``cpu_bf16_text`` and
  ``trim_text_padding`` (the options that are not bit-identical to the original, off by default) flipped,
  ``lm_loss_groups=0`` (the original's padded LM loss): the defaults with one option changed.

``text decoder alone``: the training step's LM loss alone, forward and backward to fixed EEG
embeddings (what the frozen decoder and LM head cost in the step). ``--only decoder,lm_loss`` runs
only the variants whose names contain those words (besides the padded path and the defaults).
``--profile`` adds the torch profiler's table of one default step (the operators by self time).
"""
from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from bench.padded_path import padded_copy, shared_copy
from bench.workload import Pool, paper_hparams
from infra.options import OptionParser
from model.glim import GLIM
from model.length_groups import group_by_length
from model.text_model import build_tiny_t5

PADDED = "padded path"
OURS = "ours (defaults)"
DECODER = "text decoder alone"
GROUPS = (1, 2, 4, 8, 12)


def encoded_steps(batch: dict, groups: int) -> float:
    """Mean time steps the EEG encoder computes per sample of ``batch`` with ``groups`` groups."""
    lengths, width = batch["eeg_len"], batch["eeg"].shape[1]
    if not groups:
        return float(width)
    return sum(len(g) * max(lengths[i] for i in g) for g in group_by_length(lengths, groups)) / len(lengths)


def autocast(precision: str) -> torch.autocast:
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")


class Variant:
    """A model with its optimizer and its batches; ``step()`` is one timed training step."""

    def __init__(self, name: str, model: GLIM, batches: list[dict], precision: str):
        self.name, self.model, self.batches, self.precision = name, model.train(), batches, precision
        self.opt = torch.optim.Adam(model.parameters(), lr=1e-4)
        self.times: list[float] = []

    def step(self, k: int) -> None:
        batch = self.batches[k]
        start = time.perf_counter()
        with autocast(self.precision):
            loss = self.model(batch, logits=False)["loss"]  # the training step's forward
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.times.append(time.perf_counter() - start)

    def median(self, warmup: int) -> float:
        return statistics.median(self.times[warmup:])

    def steps(self, warmup: int) -> float:
        """Mean encoded time steps per sample over the timed batches."""
        return float(np.mean([encoded_steps(b, self.model.max_length_groups) for b in self.batches[warmup:]]))


class DecoderAlone(Variant):
    """The text side alone: the training step's LM loss, forward and backward to fixed EEG
    embeddings (the frozen decoder and LM head as the step runs them), nothing else."""

    def step(self, k: int) -> None:
        batch, model = self.batches[k], self.model
        with autocast(self.precision), torch.no_grad():
            emb = model.encode_eeg(batch["eeg"], batch["mask"], batch["prompt_ids"], None, batch["eeg_len"])
        emb = emb.detach().requires_grad_()  # (n, m, d)
        labels = model.target_labels(batch["target_text"])  # (n, t)
        start = time.perf_counter()
        with autocast(self.precision):
            loss, _ = model.lm_loss(emb, labels)
        loss.backward()
        self.times.append(time.perf_counter() - start)


def variants(model: GLIM, pool: Pool, batches: list[list[int]], precision: str) -> list[Variant]:
    """The padded path, the defaults, and the defaults with one option changed."""
    trimmed = pool.collated(batches, False)
    out = [Variant(PADDED, padded_copy(model), pool.collated(batches, True), precision),
           Variant(OURS, model, trimmed, precision)]
    for g in GROUPS:
        if g != GLIM.max_length_groups:
            m = shared_copy(model)
            m.max_length_groups = g
            out.append(Variant(f"max_length_groups={g}", m, trimmed, precision))
    out.append(DecoderAlone(DECODER, model, trimmed, precision))
    flipped = {"cpu_bf16_encoder": not GLIM.cpu_bf16_encoder, "cpu_bf16_text": not GLIM.cpu_bf16_text,
               "trim_text_padding": not GLIM.trim_text_padding, "lm_loss_groups": 0}
    for option, value in flipped.items():
        m = shared_copy(model)
        setattr(m, option, value)
        if option == "cpu_bf16_text" and not m.cpu_bf16_text:  # its own float32 text model, as training holds it
            m.attach_text_model(model.text_model_name)
            m.use_text_cache(True)
        out.append(Variant(f"{option}={getattr(m, option)}", m, trimmed, precision))
    return out


def text_model_dir(kind: str, tmp: Path) -> Path:
    """A random frozen text model: ``tiny`` (width 1024, 2 + 2 layers) or Flan-T5-large's shape."""
    if kind == "tiny":
        return build_tiny_t5(tmp / "t5-1024", d_model=1024)
    from transformers import ByT5Tokenizer, T5Config, T5ForConditionalGeneration

    from bench.memory_estimate import FLAN_T5_LARGE

    torch.manual_seed(0)
    T5ForConditionalGeneration(T5Config(**FLAN_T5_LARGE)).save_pretrained(tmp / "t5-large")
    ByT5Tokenizer().save_pretrained(tmp / "t5-large")
    return tmp / "t5-large"


def build(text_model: Path, precision: str) -> GLIM:
    """GLIM of the paper's configuration with its text model held as training holds it (bf16 under
    a bf16 precision, ``infra.numerics.training_numerics``)."""
    torch.manual_seed(0)
    model = GLIM(**paper_hparams(), text_model_id=str(text_model))
    model.attach_text_model(dtype=torch.bfloat16 if precision == "bf16" else None)
    return model


def report(runs: list[Variant], warmup: int) -> None:
    """Print the table of medians and ratios."""
    base, ours = runs[0].median(warmup), runs[1].median(warmup)
    print(f"\n| {'variant':28s} | {'enc. steps':>10s} | {'median s':>9s} | {'/ padded':>8s} | {'/ ours':>7s} |")
    print("| --- | --- | --- | --- | --- |")
    for v in runs:
        med = v.median(warmup)
        print(f"| {v.name:28s} | {v.steps(warmup):10.0f} | {med:9.3f} | {med / base:8.3f} | {med / ours:7.3f} |")


def profile(variant: Variant, k: int) -> None:
    """The operators of one step of ``variant`` by self CPU time."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    with torch_profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        variant.step(k)
    print(f"\nprofile of one step of {variant.name}:")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))


def main(argv: list[str] | None = None) -> int:
    parser = OptionParser(prog="python -m bench.bench_step", description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--batch", type=int, default=12)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--text_model", choices=("tiny", "large"), default="tiny")
    parser.add_argument("--precision", choices=("bf16", "fp32"), default="bf16",
                        help="bf16 autocast (bf16-mixed) or float32")
    parser.add_argument("--profile", action="store_true", help="also profile one default step")
    parser.add_argument("--only", default="", help="comma-separated parts of variant names: run only "
                        "those (with the padded path and the defaults), e.g. 'decoder,lm_loss'")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    n_steps = args.warmup + args.steps
    pool = Pool(n_texts=args.batch * 64)
    batches = pool.batches(args.batch)[:n_steps]

    with tempfile.TemporaryDirectory() as tmp:
        ours = build(text_model_dir(args.text_model, Path(tmp)), args.precision)
        cfg = ours.text_model.model.config
        print(f"GLIM {sum(p.numel() for p in ours.parameters()):,} trainable parameters; frozen text model "
              f"{sum(p.numel() for p in ours.text_model.model.parameters()):,} parameters (d_model "
              f"{cfg.d_model}, {cfg.num_layers}+{cfg.num_decoder_layers} layers); batch {args.batch}, "
              f"{args.threads} threads, {args.precision}; defaults: max_length_groups={GLIM.max_length_groups}, "
              f"cpu_bf16_encoder={GLIM.cpu_bf16_encoder}, cpu_bf16_text={GLIM.cpu_bf16_text}, "
              f"trim_text_padding={GLIM.trim_text_padding}, lm_loss_groups={GLIM.lm_loss_groups}")
        runs = variants(ours, pool, batches, args.precision)
        wanted = [w for w in args.only.split(",") if w]
        runs = runs[:2] + [v for v in runs[2:] if not wanted or any(w in v.name for w in wanted)]
        texts = pool.input_texts()
        for v in runs:  # a later epoch: every input text seen once, in each variant's own key
            if v.model.text_cache is not None:
                with autocast(args.precision), torch.no_grad():
                    for s in range(0, len(texts), 64):
                        v.model.text_states(texts[s:s + 64])
        for k in range(n_steps):
            for v in runs:
                v.step(k)
            print(f"step {k}: " + ", ".join(f"{v.name} {v.times[-1]:.2f} s" for v in runs), flush=True)
        print(f"median training step over {args.steps} steps after {args.warmup} warm-up step(s), "
              f"the original sampler's batches; 'enc. steps': EEG time steps encoded per sample")
        report(runs, args.warmup)
        if args.profile:
            profile(runs[1], n_steps - 1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
