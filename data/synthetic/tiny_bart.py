"""The demo's BART for the BrainTranslator baseline: a tiny BART taught the sentences of a store.

    python -m data.synthetic.tiny_bart --out checkpoints/demo/tiny-bart --pretrain_on STORE [--steps 300]

Writes a tiny random BART (``model.bart.build_tiny_bart``) with a word-level tokenizer of the
store's texts (``data.synthetic.tokenizer``, BART's special tokens) and, with ``--pretrain_on``,
pretrains it as BART was pretrained: to rewrite each sentence and each of its 8 variants from a
copy with words masked out (denoising). The baseline then starts, as the published one does, from
a BART that knows the language; the demo's GLIM starts from a T5 taught the same texts
(``data.synthetic.tiny_t5``). Without ``--pretrain_on`` it is ``python -m model.bart`` (bytes).
"""
from __future__ import annotations

import sys

from data.synthetic.tiny_t5 import sentence_pairs, teach
from data.synthetic.tokenizer import word_tokenizer
from infra.errors import GLIMError
from infra.options import OptionParser
from infra.writable import check_writable
from model.bart import build_tiny_bart


def store_texts(store: str) -> list[str]:
    """Every distinct sentence of ``store`` and its 8 variants, in store order (the targets the
    demo's T5 learns to write)."""
    return [target for _, target in sentence_pairs(store)]


def main(argv: list[str] | None = None) -> int:
    parser = OptionParser(prog="python -m data.synthetic.tiny_bart",
                          description="Write a tiny BART, optionally with a word tokenizer and pretrained on a store's texts.")
    parser.add_argument("--out", required=True)
    parser.add_argument("--d_model", type=int, default=64)
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pretrain_on", default=None,
                        help="a processed store: the model gets a word tokenizer of its texts and learns to "
                             "rewrite them from masked copies")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--mask_rate", type=float, default=0.3,
                        help="share of the input words replaced by <unk> in pretraining")
    args = parser.parse_args(argv)
    if args.d_model < 1 or args.layers < 1 or args.steps < 0 or not 0 <= args.mask_rate < 1:
        parser.error("--d_model and --layers must be positive, --steps at least 0 and --mask_rate in [0, 1)")
    try:  # the paths first: a bad one fails before torch builds anything
        check_writable(args.out)
        texts = store_texts(args.pretrain_on) if args.pretrain_on else []
    except GLIMError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    tokenizer = word_tokenizer(texts, style="bart") if texts else None
    path = build_tiny_bart(args.out, args.d_model, args.seed, args.layers, tokenizer=tokenizer)
    teach(path, [(t, t) for t in texts], args.steps, args.seed, args.mask_rate,
          f"tiny BART ({'words' if texts else 'bytes'} tokenizer)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
