"""Published-format checkpoints load strictly into GLIM; wrong ones fail with a clear message."""
from __future__ import annotations

import json

import pytest
import torch

from model.checkpoint import CheckpointError, glim_from_checkpoint
from model.config import HPARAM_NAMES
from model.glim import GLIM
from model.text_model import build_tiny_t5


def _manifest_checkpoint(shared_dir, path, **hp_changes):
    """A Lightning-format checkpoint with the manifest's names/shapes and random tensors."""
    manifest = json.loads((shared_dir / "reference/glim_checkpoint_manifest.json").read_text())
    g = torch.Generator().manual_seed(0)
    state = {k: torch.randn(*shape, generator=g) for k, shape in manifest["state_dict"].items()}
    hp = {**manifest["hyper_parameters"], **hp_changes}
    torch.save({"epoch": 199, "global_step": 49600, "hyper_parameters": hp, "state_dict": state}, path)
    return state


@pytest.fixture(scope="module")
def wide_t5(tmp_path_factory):
    """A tiny T5 as wide as Flan-T5-large (d_model 1024) so the paper checkpoint attaches."""
    return str(build_tiny_t5(tmp_path_factory.mktemp("t5") / "t5-1024", d_model=1024))


def test_published_format_checkpoint_loads_strictly(shared_dir, tmp_path, wide_t5):
    path = tmp_path / "glim-zuco-epoch=199-step=49600.ckpt"
    state = _manifest_checkpoint(shared_dir, path)
    model = glim_from_checkpoint(path, text_model=wide_t5)
    assert model.config.text_model_id == "google/flan-t5-large"
    manifest = json.loads((shared_dir / "reference/glim_checkpoint_manifest.json").read_text())["hyper_parameters"]
    assert set(manifest) == HPARAM_NAMES and dict(model.hparams) == manifest  # every name kept, written back unchanged
    assert model.run_settings == {"bsz_train": 72, "bsz_val": 24, "lr": 0.0001, "weight_decay": 0,
                                  "full_val_interval": 10, "bs_retrieval": 24}
    assert not set(model.run_settings) & set(vars(model.config))  # GLIM's typed config holds no run setting
    ours = model.state_dict()
    assert ours.keys() == state.keys()
    assert all(torch.equal(ours[k], state[k]) for k in state)
    assert model.text_model.d_model == 1024


def test_text_model_of_other_width_is_refused(shared_dir, tmp_path):
    path = tmp_path / "glim.ckpt"
    _manifest_checkpoint(shared_dir, path)
    narrow = build_tiny_t5(tmp_path / "t5-64", d_model=64)
    with pytest.raises(Exception, match="d_model 64 but GLIM's aligner width .* is 1024"):
        glim_from_checkpoint(path, text_model=str(narrow))


@pytest.mark.parametrize("change, message", [
    ({"drop": "aligner.q_x"}, "'aligner.q_x' is missing"),
    ({"extra": "eeg_encoder.extra.weight"}, "'eeg_encoder.extra.weight' .* has no place"),
    ({"reshape": "eeg_encoder.x_proj.weight"}, "'eeg_encoder.x_proj.weight' has shape"),
])
def test_mismatched_tensors_name_the_first_mismatch(shared_dir, tmp_path, change, message):
    path = tmp_path / "glim.ckpt"
    _manifest_checkpoint(shared_dir, path)
    ckpt = torch.load(path, weights_only=True)
    sd = ckpt["state_dict"]
    if "drop" in change:
        del sd[change["drop"]]
    if "extra" in change:
        sd[change["extra"]] = torch.zeros(2)
    if "reshape" in change:
        sd[change["reshape"]] = torch.zeros(3, 3)
    torch.save(ckpt, path)
    with pytest.raises(CheckpointError, match=message):
        glim_from_checkpoint(path, attach_text=False)


def test_other_architecture_and_broken_files(shared_dir, tmp_path):
    path = tmp_path / "other.ckpt"
    _manifest_checkpoint(shared_dir, path, decoder_layers=4)
    with pytest.raises(CheckpointError, match="another architecture.*decoder_layers"):
        glim_from_checkpoint(path, attach_text=False)
    truncated = tmp_path / "truncated.ckpt"
    _manifest_checkpoint(shared_dir, truncated)
    truncated.write_bytes(truncated.read_bytes()[: 10_000])
    with pytest.raises(CheckpointError, match="cannot be read"):
        glim_from_checkpoint(truncated, attach_text=False)
    with pytest.raises(CheckpointError, match="not found"):
        glim_from_checkpoint(tmp_path / "nothing.ckpt", attach_text=False)


def test_saved_checkpoint_has_manifest_names_and_no_text_weights(shared_dir, tmp_path, wide_t5):
    """What Lightning saves for the paper configuration is exactly the manifest."""
    import lightning as L

    manifest = json.loads((shared_dir / "reference/glim_checkpoint_manifest.json").read_text())
    model = GLIM(**{**manifest["hyper_parameters"], "text_model_id": wide_t5})
    model.attach_text_model()
    trainer = L.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, max_epochs=0)
    trainer.strategy.connect(model)
    trainer.save_checkpoint(tmp_path / "saved.ckpt")
    ckpt = torch.load(tmp_path / "saved.ckpt", weights_only=True)
    assert {k: list(v.shape) for k, v in ckpt["state_dict"].items()} == manifest["state_dict"]
    assert set(ckpt["hyper_parameters"]) == set(manifest["hyper_parameters"])
