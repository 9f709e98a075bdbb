"""The training run of train.py (Trainer wiring); above evaluation in the layers."""
