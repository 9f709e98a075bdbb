"""What the evaluation tests build: a store whose test split holds all three tasks, a random GLIM
checkpoint on a tiny T5, and a tiny chat causal LM with a file-free byte tokenizer."""
from __future__ import annotations

from pathlib import Path

import torch

from data.synthetic.random_store import write_random_store
from model.glim import GLIM
from model.text_model import build_tiny_t5
from tests.factories import TINY_GLIM, TINY_RUN_SETTINGS

CHAT_TEMPLATE = ("{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}\n{% endfor %}"
                 "{% if add_generation_prompt %}<reply>{% endif %}")
# uid % 6 in {2, 3, 4} is test, so the test split has task3, task1 and task2 sentences
EVAL_PHASES = ("train", "val", "test", "test", "test", "train")


def eval_store(path: Path, n_sentences: int = 24) -> Path:
    """n_sentences texts (half of them test) read by 4 subjects of both datasets."""
    return write_random_store(path, n_sentences=n_sentences, n_subjects=2, phases=EVAL_PHASES)


def random_checkpoint(root: Path, seed: int = 0) -> Path:
    """A randomly initialised tiny GLIM saved as a checkpoint, with its tiny T5 beside it."""
    t5 = build_tiny_t5(root / "tiny-t5", d_model=TINY_GLIM["embed_dim"])
    torch.manual_seed(seed)
    model = GLIM(**{**TINY_GLIM, **TINY_RUN_SETTINGS, "text_model_id": str(t5)})
    path = root / "random.ckpt"
    torch.save({"hyper_parameters": dict(model.hparams), "state_dict": model.state_dict()}, path)
    return path


def tiny_chat_llm(path: Path, seed: int = 0) -> Path:
    """A one-layer Llama with a chat template and the byte-level tokenizer."""
    from transformers import ByT5Tokenizer, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=384, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=2048,
                         pad_token_id=0, bos_token_id=1, eos_token_id=1)
    LlamaForCausalLM(config).save_pretrained(path)
    tokenizer = ByT5Tokenizer()
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(path)
    return path
