"""Small fit/evaluate loops."""

from prunekit.train.loop import accuracy, fit, mean_loss

__all__ = ["accuracy", "fit", "mean_loss"]
