"""The demo's text model: a tiny T5 taught the sentences of a store.

    python -m data.synthetic.tiny_t5 --out checkpoints/demo/tiny-t5 [--pretrain_on STORE] [--steps 300]

Writes a tiny random T5 (``model.text_model.build_tiny_t5``) and, with ``--pretrain_on``, trains it
to write each sentence and its 8 variants from the input text the EEG model sees, so that the
frozen decoder of the demo has a language of its own, and to write back the zero-shot label
sentences (``data.label_sentences``), so that it knows their words as Flan-T5 does (a word it never
met is ``<unk>``, the same token for every unknown word). Its tokenizer (``--tokenizer``): ``words``
(with ``--pretrain_on``, the default there), one token per word of the store's texts
(``data.synthetic.tokenizer``); ``bytes``, the byte-level tokenizer of ``build_tiny_t5``.
"""
from __future__ import annotations

import sys
from pathlib import Path

from data.label_sentences import LABEL_SENTENCES
from data.prompts import INPUT_PREFIX
from data.store import VARIANT_COLUMNS, open_store
from data.synthetic.tokenizer import word_tokenizer
from infra.errors import GLIMError
from infra.options import OptionParser
from infra.writable import check_writable
from model.text_model import build_tiny_t5, load_text_model, pretrain_text_model

TOKENIZERS = ("words", "bytes")


def sentence_pairs(store: str | Path) -> list[tuple[str, str]]:
    """(model input, target) for every distinct sentence of ``store`` and each of its targets:
    the sentence itself and its 8 variants."""
    records = open_store(store).records.drop_duplicates("text uid")
    return [(INPUT_PREFIX + r["input text"], str(r[c])) for _, r in records.iterrows()
            for c in ("input text", *VARIANT_COLUMNS)]


def main(argv: list[str] | None = None) -> int:
    parser = OptionParser(prog="python -m data.synthetic.tiny_t5",
                          description="Write a tiny T5 (word or byte tokenizer), optionally taught a store.")
    parser.add_argument("--out", required=True)
    parser.add_argument("--d_model", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pretrain_on", default=None,
                        help="a processed store whose sentences and variants the model learns to write")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--mask_rate", type=float, default=0.15,
                        help="share of the input words replaced by <unk> in pretraining (denoising, as T5's)")
    parser.add_argument("--tokenizer", choices=TOKENIZERS, default=None,
                        help="words: the store's words, one token each (default with --pretrain_on); "
                             "bytes: byte-level (default without)")
    args = parser.parse_args(argv)
    if args.d_model < 1 or args.steps < 0 or not 0 <= args.mask_rate < 1:
        parser.error("--d_model must be positive, --steps at least 0 and --mask_rate in [0, 1)")
    tokenizer_kind = args.tokenizer or ("words" if args.pretrain_on else "bytes")
    if tokenizer_kind == "words" and not args.pretrain_on:
        parser.error("--tokenizer words takes its vocabulary from the store: pass --pretrain_on STORE")
    try:  # the paths first: a bad one fails before torch builds anything
        check_writable(args.out)
        pairs = sentence_pairs(args.pretrain_on) + [(s, s) for s in LABEL_SENTENCES] if args.pretrain_on else []
    except GLIMError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    tokenizer = word_tokenizer(text for pair in pairs for text in pair) if tokenizer_kind == "words" else None
    path = build_tiny_t5(args.out, args.d_model, args.seed, tokenizer)
    teach(path, pairs, args.steps, args.seed, args.mask_rate, f"tiny T5 ({tokenizer_kind} tokenizer)")
    return 0


def teach(path: Path, pairs: list[tuple[str, str]], steps: int, seed: int, mask_rate: float, what: str) -> None:
    """Pretrain the text model at ``path`` on ``pairs`` (none: leave it random) and say what was written."""
    if pairs:
        loss = pretrain_text_model(path, pairs, steps, seed=seed, mask_rate=mask_rate)
        print(f"pretrained on {len(pairs)} text pairs for {steps} steps (last loss {loss:.3f})")
    n = sum(p.numel() for p in load_text_model(str(path))[1].parameters())
    print(f"{what}, {n:,} parameters, written to {path}")


if __name__ == "__main__":
    raise SystemExit(main())
