"""Memory per GPU of the paper's training configuration (configs/glim_zuco.yaml: batch 72, EEG
of 1280 steps, bf16-mixed, Adam, frozen Flan-T5-large), computed from the model's shapes.

    python -m bench.memory_estimate [--batch 72] [--length 1280] [--target_tokens 64]

- parameters, gradients, Adam states and DDP's gradient buckets of GLIM's trainable tensors: counted;
- the frozen Flan-T5-large (its published configuration, built with random weights): counted,
  in bfloat16 (and the float32 difference);
- activations: the tensors autograd saves for the backward pass, recorded with
  ``torch.autograd.graph.saved_tensors_hooks`` (each storage once, parameters excluded) during a
  CPU forward under bf16 autocast at batch 1 and 2, and extrapolated linearly to ``--batch``
  (the batch-independent part, e.g. bf16 copies of the weights, is the intercept); the naive
  padded path of bench.padded_path (``nn.MultiheadAttention``, which saves its attention weights) beside;
- the text-state cache (every input text at 96 tokens, an upper bound);
- the largest transient tensor of the backward pass (the gradient of the LM logits) as headroom.
Worst cases are used: every EEG 1280 steps, every target 64 tokens, every input text 96 tokens.
"""
from __future__ import annotations


import torch
from torch import nn
from transformers import ByT5Tokenizer, T5Config, T5ForConditionalGeneration

from bench.padded_path import padded_copy
from bench.workload import paper_hparams
from data.prompts import INPUT_PREFIX
from infra.options import OptionParser
from model.glim import GLIM
from model.frozen_text import FrozenTextModel

GB = 2**30
FLAN_T5_LARGE = dict(vocab_size=32128, d_model=1024, d_kv=64, d_ff=2816, num_layers=24,
                     num_decoder_layers=24, num_heads=16, relative_attention_num_buckets=32,
                     relative_attention_max_distance=128, feed_forward_proj="gated-gelu",
                     tie_word_embeddings=False, dropout_rate=0.0, decoder_start_token_id=0,
                     pad_token_id=0, eos_token_id=1)


def flan_t5_large(config: dict = FLAN_T5_LARGE) -> T5ForConditionalGeneration:
    """Flan-T5-large's architecture (or ``config``'s) in bfloat16 with random weights (no
    download); its LM head is its own matrix, not the input embedding (783,150,080 parameters)."""
    torch.set_default_dtype(torch.bfloat16)
    try:
        model = T5ForConditionalGeneration(T5Config(**config))
    finally:
        torch.set_default_dtype(torch.float32)
    model.lm_head.weight = nn.Parameter(model.shared.weight.detach().clone())
    return model.eval()


PARTS = ("EEG encoder", "aligner + text decoder")


def saved_bytes(model: GLIM, batch: int, length: int, target_tokens: int, logits: bool = False) -> dict[str, int]:
    """Bytes of the distinct non-parameter storages autograd saves in one training forward, by part
    (``logits``: the LM loss over every padded target position, as the padded path computes it)."""
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    params |= {p.untyped_storage().data_ptr() for p in model.text_model.model.parameters()}
    seen: dict[int, tuple[int, str]] = {}
    part = [PARTS[1]]

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in params and storage.data_ptr() not in seen:
            seen[storage.data_ptr()] = (storage.nbytes(), part[0])
        return t

    text = INPUT_PREFIX + "x" * 200  # 96 input tokens after truncation
    data = {"eeg": torch.randn(batch, length, 128), "mask": torch.ones(batch, length, dtype=torch.bool),
            "prompt_ids": torch.ones(batch, 3, dtype=torch.long), "model_input_text": [text] * batch,
            "target_text": ["y" * (2 * target_tokens)] * batch}
    hooks = [model.eeg_encoder.register_forward_pre_hook(lambda *_: part.__setitem__(0, PARTS[0])),
             model.eeg_encoder.register_forward_hook(lambda *_: part.__setitem__(0, PARTS[1]))]
    model.cpu_bf16_encoder = True  # what a GPU computes: everything under autocast in bf16
    with torch.autocast("cpu", dtype=torch.bfloat16):
        model.text_states(data["model_input_text"])  # cached, as after the first epoch
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            out = model(data, logits=logits)
    for h in hooks:
        h.remove()
    del out
    return {name: sum(n for n, p in seen.values() if p == name) for name in PARTS}


def activations(model: GLIM, length: int, target_tokens: int, logits: bool = False) -> dict[str, tuple[int, int]]:
    """Per part: (bytes per sample, batch-independent bytes) of the saved tensors, from batches 1 and 2."""
    one, two = (saved_bytes(model, b, length, target_tokens, logits) for b in (1, 2))
    return {k: (two[k] - one[k], 2 * one[k] - two[k]) for k in PARTS}


def estimate(hparams: dict, t5_config: dict, batch: int, length: int, target_tokens: int, texts: int
             ) -> tuple[list[tuple[str, int]], dict[str, tuple[int, int]], dict[str, tuple[int, int]], int, int]:
    """Rows (item, bytes) of the memory of one GPU training at ``batch``; the activations per part
    (bytes per sample, fixed bytes) of GLIM's step and of the padded path; GLIM's and the text
    model's parameter counts."""
    torch.manual_seed(0)
    model = GLIM(**hparams)
    t5 = flan_t5_large(t5_config)
    model.text_model = FrozenTextModel(ByT5Tokenizer(), t5)
    n_glim = sum(p.numel() for p in model.parameters())
    n_t5 = sum(p.numel() for p in t5.parameters())
    rows = [("GLIM parameters (fp32)", 4 * n_glim), ("GLIM gradients (fp32)", 4 * n_glim),
            ("Adam exp_avg + exp_avg_sq (fp32)", 8 * n_glim), ("DDP gradient buckets (fp32)", 4 * n_glim),
            ("Flan-T5-large, frozen (bf16)", 2 * n_t5)]
    acts = activations(model, length, target_tokens)
    for name, (slope, intercept) in acts.items():
        rows.append((f"saved activations: {name}", slope * batch + intercept))
    d, input_tokens = t5_config["d_model"], hparams["input_text_len"]
    rows.append((f"text-state cache, {texts} texts (bf16)", texts * input_tokens * d * 2))
    rows.append(("transient: LM-logit gradient (fp32)", batch * target_tokens * t5_config["vocab_size"] * 4))
    return rows, acts, activations(padded_copy(model), length, target_tokens, logits=True), n_glim, n_t5


def main(argv: list[str] | None = None) -> int:
    parser = OptionParser(prog="python -m bench.memory_estimate", description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=72)
    parser.add_argument("--length", type=int, default=1280)
    parser.add_argument("--target_tokens", type=int, default=64)
    parser.add_argument("--texts", type=int, default=1888, help="distinct input texts in the text cache")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    b = args.batch
    rows, acts, naive, n_glim, n_t5 = estimate(paper_hparams(), FLAN_T5_LARGE, b, args.length,
                                               args.target_tokens, args.texts)
    print(f"paper configuration: GLIM {n_glim:,} trainable parameters, Flan-T5-large {n_t5:,} frozen; "
          f"batch {b}, EEG {args.length} steps, targets {args.target_tokens} tokens, bf16-mixed")
    for name, value in rows:
        print(f"  {name:48s} {value / GB:7.2f} GiB")
    total = sum(v for _, v in rows)
    print(f"  {'total (before CUDA context and allocator slack)':48s} {total / GB:7.2f} GiB")
    per_sample = {k: v[0] / 2**20 for k, v in acts.items()}
    naive_sample = {k: v[0] / 2**20 for k, v in naive.items()}
    print("  saved activations per sample, MiB: " + ", ".join(
        f"{k} {per_sample[k]:.1f} (padded path {naive_sample[k]:.1f})" for k in PARTS))
    naive_total = sum(s * b + i for s, i in naive.values())
    print(f"  the padded path (nn.MultiheadAttention, which saves its attention weights; every LM "
          f"logit): {naive_total / GB:.1f} GiB of activations")
    print(f"  with the text model in fp32 instead of bf16: +{2 * n_t5 / GB:.2f} GiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
