"""Periodic validation during training, and the kept best checkpoint.

Hyperparameters (the beta schedule, the learning rate, the number of global
groups) are chosen on the validation split, and the paper keeps the
checkpoint that scores best there. Every `validate_every` steps and at the
last step, training scores the first `validation_images` validation images
with the importance-weighted bound (`evaluation.per_image_nll`,
`validation_samples` samples, a seed fixed per step), after refreshing the
prior's log Z (the same quick AIS at the same step, so a resumed run selects
the same checkpoint). `BestCheckpoint` keeps the best-scoring step in
`checkpoints/best/` with its score in `checkpoints/best/best.json`;
`training.restore_model(..., checkpoint='best')` (and `--checkpoint=best` of
evaluate and export) restore it.
"""

import json
import os

import tensorflow as tf

from dvae_tf import evaluation
from dvae_tf import run_dir

BEST = 'best'
BEST_FILE = 'best.json'


def best_dir(model_dir):
  return os.path.join(run_dir.checkpoint_dir(model_dir), BEST)


def read_best(model_dir):
  """The record of the kept best checkpoint, or None."""
  path = os.path.join(best_dir(model_dir), BEST_FILE)
  if not os.path.exists(path):
    return None
  with open(path) as f:
    return json.load(f)


def best_prefix(model_dir):
  """The prefix of the kept best checkpoint.

  Raises:
    FileNotFoundError: there is none (training ran without validate_every).
  """
  record = read_best(model_dir)
  if record is None:
    raise FileNotFoundError(
        f'No best checkpoint in {best_dir(model_dir)}: train with '
        '--validate_every=N to keep one.')
  return os.path.join(best_dir(model_dir), record['checkpoint'])


def validation_score(model, images, num_samples, seed, step, strategy=None):
  """-L_k on `images` (mean and its standard error), seeded by the step;
  split over the replicas of `strategy` (`evaluation.per_image_nll`)."""
  nll = evaluation.per_image_nll(model, images, num_samples, batch_size=100,
                                 seed=(seed * 1_000_003 + step) % (2**31 - 1),
                                 strategy=strategy)
  summary = evaluation.summarize(nll, num_samples)
  return summary['nll'], summary['stderr']


class BestCheckpoint:
  """Keeps the checkpoint of the best validation score (lowest NLL)."""

  def __init__(self, checkpoint, model_dir, record=None):
    """Keeps the best checkpoint in `best_dir(model_dir)`.

    Args:
      checkpoint: the `tf.train.Checkpoint` to save.
      model_dir: the run directory (a non-chief worker: its own folder).
      record: the best record so far (default: the one in `model_dir`).
    """
    self._dir = best_dir(model_dir)
    self._manager = tf.train.CheckpointManager(checkpoint, self._dir,
                                               max_to_keep=1)
    self.record = read_best(model_dir) if record is None else record

  def better(self, nll):
    """Whether `nll` beats the kept score."""
    return self.record is None or nll < self.record['nll']

  def keep(self, step, nll, stderr, num_images, num_samples):
    """Saves the current state as the best, with its score."""
    prefix = self._manager.save(checkpoint_number=step)
    self.record = {'checkpoint': os.path.basename(prefix), 'step': int(step),
                   'nll': float(nll), 'stderr': float(stderr),
                   'num_images': int(num_images),
                   'num_importance_samples': int(num_samples)}
    run_dir.write_json_atomic(os.path.join(self._dir, BEST_FILE), self.record)
