"""A tiny local BART for tests and the demo (no download): BART's architecture and special tokens
(``<s>`` 0, ``<pad>`` 1, ``</s>`` 2, ``<unk>`` 3; decoding starts with ``</s>`` and is forced to
``<s>`` first, as in ``facebook/bart-large``) with a byte-level BPE tokenizer made here (the 256
byte symbols and no merge, so every byte is a token and no vocabulary file is needed) or a
tokenizer given with the same special tokens (the demo's word tokenizer, ``data.synthetic.tiny_bart``)."""
from __future__ import annotations

import os
from pathlib import Path

from infra.options import OptionParser

SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>")
BOS, PAD, EOS = 0, 1, 2


def byte_vocabulary() -> dict[str, int]:
    """The special tokens, the 256 byte-level symbols (sorted) and ``<mask>``."""
    from tokenizers.pre_tokenizers import ByteLevel

    vocab = {token: i for i, token in enumerate(SPECIAL_TOKENS)}
    for symbol in sorted(ByteLevel.alphabet()):
        vocab[symbol] = len(vocab)
    vocab["<mask>"] = len(vocab)
    return vocab


def tiny_bart_config(vocab_size: int, d_model: int = 64, layers: int = 1, max_positions: int = 256):
    from transformers import BartConfig

    return BartConfig(vocab_size=vocab_size, d_model=d_model, encoder_layers=layers, decoder_layers=layers,
                      encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=2 * d_model,
                      decoder_ffn_dim=2 * d_model, max_position_embeddings=max_positions, dropout=0.0,
                      attention_dropout=0.0, activation_dropout=0.0, pad_token_id=PAD, bos_token_id=BOS,
                      eos_token_id=EOS, decoder_start_token_id=EOS, forced_bos_token_id=BOS,
                      forced_eos_token_id=EOS)


def build_tiny_bart(out_dir: str | os.PathLike, d_model: int = 64, seed: int = 0, layers: int = 1,
                    max_positions: int = 256, tokenizer=None) -> Path:
    """Write a tiny random BART (about 100k parameters at width 64) with its byte-level tokenizer,
    or with ``tokenizer`` (whose ids of ``SPECIAL_TOKENS`` must be BART's); deterministic for a
    seed. Returns the directory."""
    import torch
    from transformers import BartForConditionalGeneration, BartTokenizer, GenerationConfig

    out = Path(out_dir)
    if tokenizer is None:
        tokenizer = BartTokenizer(vocab=byte_vocabulary(), merges=[])
    ids = tokenizer.convert_tokens_to_ids(list(SPECIAL_TOKENS))
    if ids != list(range(len(SPECIAL_TOKENS))):
        raise ValueError(f"the tokenizer's ids of {SPECIAL_TOKENS} are {ids}, not BART's 0-3")
    torch.manual_seed(seed)
    model = BartForConditionalGeneration(tiny_bart_config(len(tokenizer), d_model, layers, max_positions))
    model.generation_config = GenerationConfig(bos_token_id=BOS, pad_token_id=PAD, eos_token_id=EOS,
                                               decoder_start_token_id=EOS, forced_bos_token_id=BOS,
                                               forced_eos_token_id=EOS)
    tokenizer.model_max_length = max_positions
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m model.bart --out DIR [--d_model 64] [--layers 1] [--seed 0]``: write a tiny BART."""
    parser = OptionParser(prog="python -m model.bart", description="Write a tiny random BART (tests, demo).")
    parser.add_argument("--out", required=True)
    parser.add_argument("--d_model", type=int, default=64)
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(f"tiny BART written: {build_tiny_bart(args.out, args.d_model, args.seed, args.layers)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
