"""Sweeps: Optuna studies over TrainConfig fields, each trial an ordinary run folder trained by its own process."""
