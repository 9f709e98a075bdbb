"""The demo's text model: a tiny T5 with a byte tokenizer, taught the sentences of a store.

    python -m data.synthetic.tiny_t5 --out checkpoints/demo/tiny-t5 [--pretrain-on STORE] [--steps 300]

Writes a tiny random T5 (``model.text_model.build_tiny_t5``) and, with ``--pretrain-on``, trains it
to write each sentence and its 8 variants from the input text the EEG model sees, so that the
frozen decoder of the demo has a language of its own.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from data.prompts import INPUT_PREFIX
from data.store import VARIANT_COLUMNS, open_store
from infra.errors import GLIMError
from infra.writable import check_writable
from model.text_model import build_tiny_t5, load_text_model, pretrain_text_model


def sentence_pairs(store: str | Path) -> list[tuple[str, str]]:
    """(model input, target) for every distinct sentence of ``store`` and each of its targets:
    the sentence itself and its 8 variants."""
    records = open_store(store).records.drop_duplicates("text uid")
    return [(INPUT_PREFIX + r["input text"], str(r[c])) for _, r in records.iterrows()
            for c in ("input text", *VARIANT_COLUMNS)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m data.synthetic.tiny_t5",
                                     description="Write a tiny T5 with a byte tokenizer, optionally taught a store.")
    parser.add_argument("--out", required=True)
    parser.add_argument("--d-model", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pretrain-on", default=None,
                        help="a processed store whose sentences and variants the model learns to write")
    parser.add_argument("--steps", type=int, default=600)
    args = parser.parse_args(argv)
    if args.d_model < 1 or args.steps < 0:
        parser.error("--d-model must be positive and --steps at least 0")
    try:  # the paths first: a bad one fails before torch builds anything
        check_writable(args.out)
        pairs = sentence_pairs(args.pretrain_on) if args.pretrain_on else []
    except GLIMError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    path = build_tiny_t5(args.out, args.d_model, args.seed)
    if args.pretrain_on:
        loss = pretrain_text_model(path, pairs, args.steps, seed=args.seed)
        print(f"pretrained on {len(pairs)} sentence pairs for {args.steps} steps (last loss {loss:.3f})")
    n = sum(p.numel() for p in load_text_model(str(path))[1].parameters())
    print(f"tiny T5 ({n:,} parameters) written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
