"""Train GLIM.

    python train.py --config configs/glim_zuco.yaml [--devices 8 --strategy ddp] [--model.lr 1e-4]
                    [--data.data_dir data/processed/zuco] [--text-model checkpoints/flan-t5-large]

Every hyper-parameter of the model (``--model.*``) and the data module (``--data.*``) and the
trainer options below can be set in the YAML file or on the command line; ``--print_config``
prints the resolved configuration. Checkpoints go to ``--out_dir``: every ``--ckpt_every``
epochs and ``last.ckpt``; the resolved config is saved beside them as ``config.yaml``.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from jsonargparse import ActionConfigFile, ArgumentParser, Namespace


def build_parser() -> ArgumentParser:
    from data.datamodule import GLIMDataModule
    from model.glim import GLIM

    parser = ArgumentParser(description="Train GLIM (EEG-to-text with a frozen T5).", exit_on_error=True)
    parser.add_argument("--config", action=ActionConfigFile, help="YAML preset (configs/*.yaml)")
    parser.add_class_arguments(GLIM, "model")
    parser.add_class_arguments(GLIMDataModule, "data", skip={"bsz_train", "bsz_val"})
    parser.add_argument("--text-model", type=str | None, default=None,
                        help="hub id or local directory of the text model (default: model.text_model_id)")
    parser.add_argument("--out_dir", type=str, default="checkpoints/glim", help="checkpoints and logs")
    parser.add_argument("--run_name", type=str, default="glim-zuco", help="checkpoint file prefix")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--max_epochs", type=int, default=200)
    parser.add_argument("--accelerator", type=str, default="auto")
    parser.add_argument("--devices", type=int | str, default="auto")
    parser.add_argument("--num_nodes", type=int, default=1)
    parser.add_argument("--strategy", type=str, default="auto")
    parser.add_argument("--precision", type=str, default="bf16-mixed")
    parser.add_argument("--logger", type=str, default="csv", help="csv | tensorboard | wandb | none")
    parser.add_argument("--ckpt_every", type=int, default=10, help="save a checkpoint every N epochs")
    parser.add_argument("--val_every", type=int, default=1, help="validate every N epochs")
    parser.add_argument("--limit_train_batches", type=int | float, default=1.0)
    parser.add_argument("--limit_val_batches", type=int | float, default=1.0)
    parser.add_argument("--deterministic", type=bool, default=False)
    parser.add_argument("--progress", type=bool, default=True, help="rich progress bar")
    parser.add_argument("--record_batches", type=bool, default=False,
                        help="write the store records of every train batch per rank to out_dir/batches")
    return parser


def make_logger(kind: str, out_dir: Path, name: str):
    from lightning.pytorch import loggers

    if kind == "csv":
        return loggers.CSVLogger(out_dir, name="logs")
    if kind == "tensorboard":
        return loggers.TensorBoardLogger(out_dir, name="logs")
    if kind == "wandb":  # WANDB_MODE=offline works without an account
        return loggers.WandbLogger(project="glim", name=name, save_dir=str(out_dir))
    if kind == "none":
        return False
    raise ValueError(f"unknown logger {kind!r}: use csv, tensorboard, wandb or none")


class BatchRecorder:
    """Callback writing, per rank, one JSON line per train batch: epoch, step, store records."""

    def __new__(cls, out_dir: Path):
        from lightning.pytorch.callbacks import Callback

        class _Recorder(Callback):
            def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
                out_dir.mkdir(parents=True, exist_ok=True)
                line = {"epoch": trainer.current_epoch, "batch": batch_idx,
                        "samples": batch["sample"].tolist(),
                        "records": batch["record"].tolist(), "uids": batch["text_uid"].tolist()}
                with open(out_dir / f"rank{trainer.global_rank}.jsonl", "a") as f:
                    f.write(json.dumps(line) + "\n")

        return _Recorder()


def train(cfg: Namespace, parser: ArgumentParser) -> Path:
    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint, RichProgressBar

    from data.datamodule import GLIMDataModule
    from model.glim import GLIM

    L.seed_everything(cfg.seed, workers=True)
    out_dir = Path(cfg.out_dir)
    model = GLIM(**vars(cfg.model))
    model.attach_text_model(cfg.text_model)
    data = GLIMDataModule(**vars(cfg.data), bsz_train=cfg.model.bsz_train, bsz_val=cfg.model.bsz_val)
    data.setup("fit")
    out_dir.mkdir(parents=True, exist_ok=True)
    parser.save(cfg, out_dir / "config.yaml", overwrite=True, skip_none=False)
    every = ModelCheckpoint(dirpath=out_dir, filename=cfg.run_name + "-{epoch}-{step}",
                            every_n_epochs=cfg.ckpt_every, save_top_k=-1, save_last=True)
    callbacks = [every] + ([RichProgressBar()] if cfg.progress else [])
    if cfg.record_batches:
        callbacks.append(BatchRecorder(out_dir / "batches"))
    trainer = L.Trainer(
        max_epochs=cfg.max_epochs, accelerator=cfg.accelerator, devices=cfg.devices,
        num_nodes=cfg.num_nodes, strategy=cfg.strategy, precision=cfg.precision,
        logger=make_logger(cfg.logger, out_dir, cfg.run_name), callbacks=callbacks,
        use_distributed_sampler=False, check_val_every_n_epoch=cfg.val_every,
        limit_train_batches=cfg.limit_train_batches, limit_val_batches=cfg.limit_val_batches,
        deterministic=cfg.deterministic, enable_progress_bar=cfg.progress,
        log_every_n_steps=1, num_sanity_val_steps=0)
    trainer.fit(model, datamodule=data)
    return out_dir / "last.ckpt"


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    parser = build_parser()
    cfg = parser.parse_args(argv)
    from data.store import StoreError
    from model.text_model import TextModelError

    try:
        last = train(cfg, parser)
    except (StoreError, TextModelError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"done: {last}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
