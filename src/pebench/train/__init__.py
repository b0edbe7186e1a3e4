"""One training loop for fine-tuning and every unlearning method."""

from pebench.train.loop import TrainResult, train
from pebench.train.streams import Stream

__all__ = ["Stream", "train", "TrainResult"]
