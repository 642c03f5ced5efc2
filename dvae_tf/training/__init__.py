"""Training: `train` (the loop of `dvae-train`), its step and its hooks.

- `loop`: `train`, which steps and calls hooks, checkpointed and resumable;
- `step`: the `tf.function` step under a `tf.distribute` strategy, on the
  model's `training_objective` (which Keras' `fit` trains too);
- `hooks`: one Keras callback per concern of the loop.

What a run directory is (config record, checkpoints, best, train mean,
restoring a model) is `dvae_tf.run_directory`'s; how to train is a `TrainConfig`
(`dvae_tf.train_config`).
"""

from dvae_tf.train_config import TrainConfig
from dvae_tf.training.hooks import CheckpointSaveError
from dvae_tf.training.hooks import COLLAPSE_FACTOR
from dvae_tf.training.hooks import COLLAPSE_STEPS
from dvae_tf.training.hooks import reference_bound
from dvae_tf.training.hooks import TrainingDivergedError
from dvae_tf.training.loop import train
from dvae_tf.training.step import make_train_step
from dvae_tf.training.step import read_metrics
