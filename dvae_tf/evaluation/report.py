"""The evaluation of a trained run directory, and the files it leaves there.

`evaluate_run(run_dir, ...)` restores the latest checkpoint, refreshes the
prior's log Z with the paper's AIS settings (exact when small enough),
scores a split with the importance-weighted bound (`evaluation`), and writes

- `eval_<split>.json`: one JSON object (nll, stderr, num_images,
  num_importance_samples, log_z, log_z_stderr, log_z_method, split, dataset,
  step; bits_per_dim for 8-bit data; paired_difference with compare_with);
- `eval_<split>_nll.npy`: each image's NLL, float64 [N], in split order.

Both are written atomically (`run_directory.write_atomic`), the per-image NLLs
first, so a reader sees the old pair or the new one, never a truncated
array beside a new record. A run directory that cannot be written is named
in a warning before scoring, and after scoring `EvaluationWriteError`
carries the result, which the binary prints before its error line.

`read_evaluation` and `baseline_nll` read them back: the export's metadata
and paired comparisons between runs.
"""

import json
import os
import sys

import numpy as np
import tensorflow as tf

from dvae_tf import data
from dvae_tf import distribute
from dvae_tf.evaluation import bound as evaluation
from dvae_tf import ranges
from dvae_tf import run_directory
from dvae_tf.distributions.ais import PAPER_AIS_TEMPERATURES, PAPER_AIS_CHAINS


class EvaluationWriteError(ValueError):
  """The evaluation was computed but could not be written; `result` holds it."""

  def __init__(self, message, result):
    super().__init__(message)
    self.result = result


def evaluation_paths(run_dir, split):
  """(eval_<split>.json, eval_<split>_nll.npy) of a run directory."""
  return (os.path.join(run_dir, f'eval_{split}.json'),
          os.path.join(run_dir, f'eval_{split}_nll.npy'))


def ais_seed(seed):
  """The AIS seed of an evaluation with `seed`; export uses the same, so
  equal settings give the log Z of `eval_test.json`."""
  return (seed, 1)


def read_evaluation(run_dir, split='test'):
  """The recorded evaluation of `run_directory` on `split`, or None if none."""
  path, _ = evaluation_paths(run_dir, split)
  if not os.path.exists(path):
    return None
  with open(path) as f:
    return json.load(f)


def baseline_nll(run_dir, split, expected):
  """Per-image NLL of `run_directory`'s evaluation, checked to match `expected`.

  Args:
    run_dir: a run evaluated before.
    split: the split both are scored on.
    expected: {key: value} its evaluation must have (num_images,
      num_importance_samples), so that the images are the same.

  Raises:
    FileNotFoundError: it has not been evaluated on `split`.
    ValueError: it was evaluated with other settings.
  """
  for path in evaluation_paths(run_dir, split):
    if not os.path.exists(path):
      raise FileNotFoundError(
          f'compare_with: no {os.path.basename(path)} in {run_dir!r}; run '
          f'bin/evaluate.py --run_dir={run_dir} --split={split} first.')
  try:
    baseline = read_evaluation(run_dir, split)
    nll = np.load(evaluation_paths(run_dir, split)[1], allow_pickle=False)
  except (OSError, ValueError, EOFError) as e:
    raise ValueError(
        f'compare_with: the evaluation of {run_dir!r} cannot be read '
        f'({type(e).__name__}: {" ".join(str(e).split())}); evaluate it '
        f'again: bin/evaluate.py --run_dir={run_dir} --split={split}.'
    ) from None
  for key, value in expected.items():
    if baseline.get(key) != value:
      raise ValueError(
          f'compare_with: {run_dir!r} was evaluated with {key}='
          f'{baseline.get(key)}, this run asks for {value}; evaluate both '
          'with the same --max_images and --num_importance_samples.')
  if nll.shape != (baseline['num_images'],) or not np.all(np.isfinite(nll)):
    raise ValueError(
        f'compare_with: {evaluation_paths(run_dir, split)[1]} does not hold '
        f'the {baseline["num_images"]} finite NLLs its record says (shape '
        f'{nll.shape}); evaluate {run_dir!r} again.')
  return nll


def write_evaluation(run_dir, split, result, nll):
  """Writes eval_<split>_nll.npy, then eval_<split>.json, each atomically.

  Raises:
    EvaluationWriteError: a file cannot be written (read-only directory,
      full disk); it carries `result`, and the files keep their old content.
  """
  json_path, nll_path = evaluation_paths(run_dir, split)
  try:
    run_directory.write_atomic(nll_path, lambda f: np.save(f, nll), binary=True)
    run_directory.write_atomic(json_path,
                             lambda f: f.write(json.dumps(result) + '\n'))
  except OSError as e:
    raise EvaluationWriteError(
        f'Cannot write the evaluation to {run_dir!r} ({e.strerror or e}); '
        'its result is printed above. Free disk space or fix the '
        'permissions, then evaluate again to save it.', result) from None


def evaluate_run(run_dir, split='test',
                 num_importance_samples=evaluation.NUM_IMPORTANCE_SAMPLES,
                 batch_size=evaluation.BATCH_SIZE, max_images=0,
                 ais_chains=PAPER_AIS_CHAINS,
                 ais_temperatures=PAPER_AIS_TEMPERATURES, seed=0, data_dir=None,
                 compare_with=None, checkpoint=None, verbose=False,
                 strategy=None):
  """Scores `run_dir` on `split`; writes and returns its evaluation.

  Args:
    run_dir: a run directory (`dvae_tf.run_directory`).
    split: a key of `data.SPLITS`.
    num_importance_samples: k of the bound.
    batch_size: images per batch.
    max_images: score only the first N images (0: all).
    ais_chains, ais_temperatures: AIS settings where log Z is not exact.
    seed: seeds the importance samples and, as `ais_seed(seed)`, AIS.
    data_dir: where the dataset files are.
    compare_with: another run directory evaluated on the same images with
      the same k: adds `paired_difference` (`evaluation.paired_difference`).
    checkpoint: the checkpoint to score ('ckpt-N', or 'best': the best
      validation score; default the newest).
    verbose: show progress.
    strategy: a `tf.distribute.Strategy` whose replicas (and workers) share
      the images (`evaluation.per_image_nll`: the same per-image NLLs as one
      device); only the chief writes the files.

  Returns:
    The dict written to eval_<split>.json.

  Raises:
    EvaluationWriteError: the result could not be written (it carries it).
  """
  for name, value in (('num_importance_samples', num_importance_samples),
                      ('batch_size', batch_size)):
    ranges.check_count(name, value)
  ranges.check_count('max_images', max_images, minimum=0)
  for name, value in (('ais_chains', ais_chains),
                      ('ais_temperatures', ais_temperatures)):
    ranges.check_count(name, value, minimum=2)
  ranges.check_seed('seed', seed)
  if split not in data.SPLITS:
    raise ValueError(f'split={split!r} is not one of {data.SPLITS}.')
  run = run_directory.restore_model(run_dir, data_dir, strategy=strategy,
                               checkpoint=checkpoint)
  chief = distribute.is_chief(strategy or tf.distribute.get_strategy())
  if chief:
    try:
      run_directory.check_directory(run_dir, '--run_dir')
    except run_directory.RunDirectoryError as e:
      print(f'warning: {e} The result will be printed, not saved.',
            file=sys.stderr, flush=True)
  log_z = run.model.prior.refresh_log_normalizer(
      ais_chains=ais_chains, ais_temperatures=ais_temperatures,
      seed=ais_seed(seed))
  images = data.load_images(run.train_config.dataset, split,
                            data_dir=data_dir)
  if max_images:
    images = images[:max_images]
  if compare_with:  # Checked before the long part.
    baseline = baseline_nll(compare_with, split, dict(
        num_images=len(images),
        num_importance_samples=num_importance_samples))
  nll = evaluation.per_image_nll(run.model, images, num_importance_samples,
                                 batch_size=batch_size, seed=seed,
                                 verbose=verbose, strategy=strategy)
  result = evaluation.summarize(nll, num_importance_samples)
  if compare_with:
    result['paired_difference'] = dict(
        evaluation.paired_difference(nll, baseline), baseline=compare_with)
  result.update(log_z=log_z.value, log_z_stderr=log_z.stderr,
                log_z_method=log_z.method, split=split,
                dataset=run.train_config.dataset, step=run.step,
                checkpoint=checkpoint or 'latest')
  if not data.is_binary(run.train_config.dataset):
    result.update(
        bits_per_dim=evaluation.bits_per_dim(result['nll'], images.shape[1:]),
        bits_per_dim_stderr=evaluation.bits_per_dim(result['stderr'],
                                                    images.shape[1:]))
  if chief:
    write_evaluation(run_dir, split, result, nll)
  return result
