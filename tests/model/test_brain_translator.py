"""The BrainTranslator baseline: configuration, shapes, masking, the two training steps, a fit on CPU,
generation without teacher forcing, and its checkpoint round trip."""
from __future__ import annotations

import dataclasses

import lightning as L
import pytest
import torch
import yaml

from data.word_datamodule import WordDataModule
from model.bart import build_tiny_bart
from model.brain_translator import STAGE1_TEXT_PARAMS
from model.brain_translator_config import BrainTranslatorConfig
from model.brain_translator_module import BrainTranslator
from model.checkpoint import CheckpointError, brain_translator_from_checkpoint
from model.word_encoder import WordEncoder
from data.synthetic.random_store import write_random_store
from tests.factories import TINY_BRAIN_TRANSLATOR, TINY_DATA
from tests.paths import ROOT


@pytest.fixture(scope="module")
def tiny_bart(tmp_path_factory) -> str:
    return str(build_tiny_bart(tmp_path_factory.mktemp("bart") / "tiny-bart", d_model=32))


@pytest.fixture(scope="module")
def hparams(tiny_bart) -> dict:
    return {**TINY_BRAIN_TRANSLATOR, "text_model_id": tiny_bart}


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory):
    return write_random_store(tmp_path_factory.mktemp("bt") / "store", n_sentences=12, word_features=True)


def _batch(n: int = 3, w: int = 5, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    mask = torch.arange(w)[None] < torch.tensor([w, 2, 4][:n])[:, None]  # (n, w)
    return {"eeg": torch.randn(n, w, 840, generator=g), "mask": mask,
            "target_text": ["The film was good.", "A story.", "He was born in Ulm."][:n]}


def test_preset_holds_the_published_values():
    preset = yaml.safe_load((ROOT / "configs" / "brain_translator.yaml").read_text())
    cfg = BrainTranslatorConfig(**preset["model"])
    assert cfg == BrainTranslatorConfig()  # the preset restates the defaults
    assert (cfg.text_model_id, cfg.word_dim, cfg.n_layers, cfg.num_heads, cfg.ff_dim) == (
        "facebook/bart-large", 840, 6, 8, 2048)
    assert preset["max_epochs"] == cfg.stage1_epochs + cfg.lr_step == 50
    assert [cfg.lr_at(e) for e in (0, 19, 20, 49)] == [5e-5, 5e-5, 5e-7, 5e-7]
    assert cfg.lr_at(50) == pytest.approx(5e-8)


@pytest.mark.parametrize("change, message", [
    ({"num_heads": 9}, "word_dim 840 not divisible by num_heads 9"),
    ({"optimizer": "adam"}, "optimizer 'adam' is not one of"),
    ({"train_targets": "words"}, "train_targets 'words'"),
    ({"max_words": 0}, "max_words 0: must be at least 1"),
    ({"stage1_epochs": -1}, "stage1_epochs -1: must be at least 0"),
])
def test_bad_configuration_is_one_line(change, message):
    with pytest.raises(ValueError, match=message):
        BrainTranslatorConfig(**change)


def test_word_encoder_shapes_and_padding_invariance():
    torch.manual_seed(0)
    encoder = WordEncoder(840, 32, n_layers=2, num_heads=8, ff_dim=64).eval()
    batch = _batch()
    out = encoder(batch["eeg"], batch["mask"])
    assert out.shape == (3, 5, 32) and (out >= 0).all()  # ReLU after the map to the text width
    assert len(encoder.encoder.layers) == 2 and encoder.encoder.layers[0].self_attn.num_heads == 8
    changed = batch["eeg"].clone()
    changed[~batch["mask"]] = 1e3  # padding must not reach the real words
    again = encoder(changed, batch["mask"])
    assert torch.allclose(out[batch["mask"]], again[batch["mask"]], atol=1e-5)
    changed[1, 0] += 1  # a real word does
    assert not torch.allclose(encoder(changed, batch["mask"])[1, 1], out[1, 1])


def test_forward_loss_logits_and_teacher_forced_texts(hparams):
    model = BrainTranslator(**hparams).eval()
    batch = _batch()
    out = model(batch)
    labels = model.target_labels(batch["target_text"])
    assert out["logits"].shape == (*labels.shape, len(model.tokenizer)) and torch.isfinite(out["loss"])
    assert labels[1, -1] == -100  # padding of the shorter targets is ignored
    texts = model.teacher_forced_texts(out["logits"])
    assert len(texts) == 3 and all(isinstance(t, str) for t in texts)
    assert model.net.word_encoder.proj.out_features == model.net.text_model.config.d_model == 32


def test_generation_reads_the_words_alone(hparams):
    model = BrainTranslator(**hparams).eval()
    batch = _batch()
    words_only = {"eeg": batch["eeg"], "mask": batch["mask"]}  # no target: no teacher forcing
    first = model.generate(words_only, num_beams=2, max_length=12)
    assert len(first) == 3 and first == model.generate(words_only, num_beams=2, max_length=12)
    ids = model.net.generate(batch["eeg"], batch["mask"], num_beams=2, max_length=12)
    assert ids.shape[0] == 3 and ids.shape[1] <= 12 and (ids[:, 0] == 2).all() and (ids[:, 1] == 0).all()
    padded = {**words_only, "eeg": batch["eeg"].masked_fill(~batch["mask"][..., None], 5.0)}
    assert model.generate(padded, num_beams=2, max_length=12) == first  # padding is not read


def test_stages_choose_the_trained_bart_weights(hparams):
    model = BrainTranslator(**hparams)
    trained = lambda: {n for n, p in model.net.text_model.named_parameters() if p.requires_grad}  # noqa: E731
    every = {n for n, _ in model.net.text_model.named_parameters()}
    model.set_stage(0)
    first = trained()
    assert first and first < every and all(any(k in n for k in STAGE1_TEXT_PARAMS) for n in first)
    assert "model.encoder.layers.0.fc1.weight" in first and "model.decoder.layers.0.fc1.weight" not in first
    model.set_stage(1)
    assert trained() == every
    assert all(p.requires_grad for p in model.net.word_encoder.parameters())
    frozen = BrainTranslator(**{**hparams, "freeze_text_model": True})
    frozen.set_stage(5)
    assert not any(p.requires_grad for p in frozen.net.text_model.parameters())


@pytest.fixture(scope="module")
def fitted(hparams, store_dir, tmp_path_factory):
    """Two epochs on CPU (step 1, then step 2), a few steps each; the model before and after."""
    L.seed_everything(0)
    model = BrainTranslator(**hparams)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    dm = WordDataModule(**TINY_DATA, data_dir=store_dir)
    out = tmp_path_factory.mktemp("fit")
    epoch_states = []

    class Snapshot(L.Callback):
        def on_train_epoch_end(self, trainer, module):
            epoch_states.append({k: v.clone() for k, v in module.state_dict().items()})

    trainer = L.Trainer(max_epochs=2, accelerator="cpu", devices=1, limit_train_batches=3, limit_val_batches=1,
                        logger=False, enable_progress_bar=False, enable_model_summary=False,
                        default_root_dir=out, callbacks=[Snapshot()], enable_checkpointing=False)
    trainer.fit(model, dm)
    path = out / "last.ckpt"
    trainer.save_checkpoint(path)
    return model, before, epoch_states, trainer, path


def test_fit_runs_both_steps(fitted):
    model, before, (after_step1, after_step2), trainer, _ = fitted
    assert model.net.text_model.training  # BART trains with its dropout
    assert trainer.current_epoch == 2 and torch.isfinite(trainer.callback_metrics["val/loss"])
    changed = lambda a, b, key: not torch.equal(a[key], b[key])  # noqa: E731
    encoder_key = "net.word_encoder.proj.weight"
    frozen_key = "net.text_model.model.decoder.layers.0.fc1.weight"  # not trained in step 1
    stage1_key = "net.text_model.model.encoder.layers.0.fc1.weight"
    assert changed(before, after_step1, encoder_key) and changed(before, after_step1, stage1_key)
    assert not changed(before, after_step1, frozen_key)
    assert changed(after_step1, after_step2, frozen_key)  # step 2 trains all of BART
    lrs = trainer.lr_scheduler_configs[0].scheduler.get_last_lr()
    assert lrs == [model.cfg.lr_at(2)]


def test_checkpoint_round_trip(fitted, hparams, tiny_bart):
    model, _, _, _, path = fitted
    model.eval()
    loaded = brain_translator_from_checkpoint(path).eval()
    assert dataclasses.asdict(loaded.cfg) == dataclasses.asdict(model.cfg)
    assert loaded.net.text_model.generation_config.forced_bos_token_id == 0  # saved settings, not defaults
    own, back = model.state_dict(), loaded.state_dict()
    assert own.keys() == back.keys() and all(torch.equal(own[k], back[k]) for k in own)
    batch = _batch(seed=3)
    assert loaded.generate(batch, max_length=16) == model.generate(batch, max_length=16)
    assert torch.equal(loaded(batch)["logits"], model(batch)["logits"])


def test_foreign_checkpoints_are_refused(fitted, tmp_path):
    _, _, _, _, path = fitted
    ckpt = torch.load(path, weights_only=True)
    ckpt["hyper_parameters"]["hidden_eeg_len"] = 96  # a GLIM hyper-parameter
    torch.save(ckpt, tmp_path / "glim.ckpt")
    with pytest.raises(CheckpointError, match=r"another architecture: unknown hyper-parameters \['hidden_eeg_len'\]"):
        brain_translator_from_checkpoint(tmp_path / "glim.ckpt")
    ckpt = torch.load(path, weights_only=True)
    ckpt["hyper_parameters"]["n_layers"] = 2
    torch.save(ckpt, tmp_path / "deeper.ckpt")
    with pytest.raises(CheckpointError, match="BrainTranslator tensor 'net.word_encoder.encoder.layers.1"):
        brain_translator_from_checkpoint(tmp_path / "deeper.ckpt")


def _fit(hparams, store_dir, root, epochs: int, ckpt_path=None) -> BrainTranslator:
    L.seed_everything(0)
    model = BrainTranslator(**hparams)
    dm = WordDataModule(**TINY_DATA, data_dir=store_dir)
    trainer = L.Trainer(max_epochs=epochs, accelerator="cpu", devices=1, limit_train_batches=2, limit_val_batches=1,
                        logger=False, enable_progress_bar=False, enable_model_summary=False, default_root_dir=root,
                        enable_checkpointing=False)
    trainer.fit(model, dm, ckpt_path=ckpt_path)
    trainer.save_checkpoint(root / f"epoch{epochs}.ckpt")
    return model


@pytest.mark.slow
def test_resume_across_the_step_change_is_exact(hparams, store_dir, tmp_path):
    """Stopped after step 1 and resumed: the same weights as a run straight through (the stage,
    the learning rate and the optimizer state come back from the checkpoint)."""
    straight = _fit(hparams, store_dir, tmp_path / "a", 2)
    _fit(hparams, store_dir, tmp_path / "b", 1)
    resumed = _fit(hparams, store_dir, tmp_path / "b", 2, ckpt_path=tmp_path / "b" / "epoch1.ckpt")
    one, two = straight.state_dict(), resumed.state_dict()
    assert all(torch.equal(one[k], two[k]) for k in one)


def test_word_bart_tokenizer_has_barts_special_tokens_and_round_trips():
    from data.synthetic.tokenizer import word_tokenizer

    tok = word_tokenizer(["the film was good.", "a bad film."], style="bart")
    assert tok.convert_tokens_to_ids(["<s>", "<pad>", "</s>", "<unk>"]) == [0, 1, 2, 3]
    ids = tok("the film was bad.")["input_ids"]
    assert ids[0] == 0 and ids[-1] == 2 and len(ids) == 2 + 5  # <s> the film was bad . </s>
    assert tok.decode(ids, skip_special_tokens=True) == "the film was bad."
    assert tok.decode(tok("a zebra")["input_ids"], skip_special_tokens=True) == "a"  # unknown word dropped
    with pytest.raises(ValueError, match="style"):
        word_tokenizer(["x"], style="gpt")


def test_tiny_bart_refuses_a_tokenizer_with_other_special_ids(tmp_path):
    from data.synthetic.tokenizer import word_tokenizer

    with pytest.raises(ValueError, match="not BART's"):
        build_tiny_bart(tmp_path / "b", d_model=16, tokenizer=word_tokenizer(["a b"], style="t5"))


def test_demo_bart_pretrained_on_a_store_writes_its_sentences(tmp_path, store_dir, capsys):
    """``data.synthetic.tiny_bart --pretrain_on``: a word tokenizer of the store's texts and a BART
    that learnt to rewrite them from masked copies (its loss far below an untrained one's)."""
    from data.synthetic import tiny_bart
    from model.text_model import load_text_model

    assert tiny_bart.main(["--out", str(tmp_path / "fresh"), "--pretrain_on", str(store_dir), "--steps", "0"]) == 0
    assert tiny_bart.main(["--out", str(tmp_path / "taught"), "--pretrain_on", str(store_dir), "--steps", "150"]) == 0
    assert "words tokenizer" in capsys.readouterr().out
    texts = tiny_bart.store_texts(store_dir)[:16]
    losses = {}
    for name in ("fresh", "taught"):
        tok, model = load_text_model(str(tmp_path / name))
        enc = tok(texts, return_tensors="pt", padding=True)
        labels = enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100)
        with torch.no_grad():
            losses[name] = float(model(**enc, labels=labels).loss)
        words = texts[0].replace(".", " .").split()
        assert len(tok(texts[0])["input_ids"]) == len(words) + 2  # a token per word, not per byte
    assert losses["taught"] < 0.5 * losses["fresh"], losses
