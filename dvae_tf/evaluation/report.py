"""The evaluation of a trained run directory, and the files it leaves there.

`evaluate_run(run_dir, ...)` restores the latest checkpoint, refreshes the
prior's log Z with the paper's AIS settings (exact when small enough),
scores a split with the importance-weighted bound (`evaluation`), and writes

- `eval_<split>.json`: one JSON object (nll, stderr, num_images,
  num_importance_samples, log_z, log_z_stderr, log_z_method, split, dataset,
  step; bits_per_dim for 8-bit data; paired_difference with compare_with;
  nll_sha256, the checksum of the per-image NLLs it goes with);
- `eval_<split>_nll.npy`: each image's NLL, float64 [N], in split order;
- while it scores, `eval_<split>_partial.npz`: the NLLs of the batches
  scored so far and the settings they were scored with, saved after every
  round of batches. An evaluation interrupted (killed, stopped) and run
  again with the same settings resumes after the last batch saved, with
  the values an uninterrupted one gives; the file is removed once the
  result is written.

The pair is written as one commit (`run_directory.write_all_atomic`): a
full disk or a failed write leaves the previous pair as it was, and a crash
between the two renames is caught by the checksum when the pair is read
back. The run directory's writability is checked before anything is
scored: a read-only one is refused with one line.

`read_evaluation` and `baseline_nll` read them back: the export's metadata
and paired comparisons between runs.
"""

import hashlib
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


def partial_path(run_dir, split):
  """eval_<split>_partial.npz: the NLLs scored so far by an evaluation."""
  return os.path.join(run_dir, f'eval_{split}_partial.npz')


def nll_checksum(nll):
  """The SHA-256 of per-image NLLs as float64 bytes: the record's
  `nll_sha256`, which ties eval_<split>.json to its eval_<split>_nll.npy."""
  return hashlib.sha256(
      np.ascontiguousarray(nll, '<f8').tobytes()).hexdigest()


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


# What an evaluation record must hold to be compared with.
_RECORD_FIELDS = ('nll', 'num_images', 'num_importance_samples')


def baseline_nll(run_dir, split, expected):
  """Per-image NLL of `run_directory`'s evaluation, checked to match `expected`.

  Args:
    run_dir: a run evaluated before.
    split: the split both are scored on.
    expected: {key: value} its evaluation must have (num_images,
      num_importance_samples), so that the images are the same.

  Raises:
    FileNotFoundError: it has not been evaluated on `split`.
    ValueError: it was evaluated with other settings, or a file of its
      evaluation is damaged or does not go with the other (the message
      names the file).
  """
  json_path, nll_path = evaluation_paths(run_dir, split)
  again = (f'evaluate it again: bin/evaluate.py --run_dir={run_dir} '
           f'--split={split}')
  for path in (json_path, nll_path):
    if not os.path.exists(path):
      raise FileNotFoundError(
          f'compare_with: no {os.path.basename(path)} in {run_dir!r}; run '
          f'bin/evaluate.py --run_dir={run_dir} --split={split} first.')
  for path in (json_path, nll_path):
    try:
      if path == json_path:
        baseline = read_evaluation(run_dir, split)
        if not isinstance(baseline, dict):
          raise ValueError(f'a JSON {type(baseline).__name__}, not an object')
        missing = [key for key in _RECORD_FIELDS if not isinstance(
            baseline.get(key), (int, float)) or isinstance(
                baseline.get(key), bool)]
        if missing:
          raise ValueError(f'no number for {", ".join(missing)}')
      else:
        nll = np.load(nll_path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
      raise ValueError(
          f'compare_with: the evaluation of {run_dir!r} cannot be read: '
          f'{path} ({type(e).__name__}: {" ".join(str(e).split())}); '
          f'{again}.') from None
  for key, value in expected.items():
    if baseline.get(key) != value:
      raise ValueError(
          f'compare_with: {run_dir!r} was evaluated with {key}='
          f'{baseline.get(key)}, this run asks for {value}; evaluate both '
          'with the same --max_images and --num_importance_samples.')
  checksum = baseline.get('nll_sha256')
  if (nll.shape != (baseline['num_images'],) or nll.dtype != np.float64 or
      not np.all(np.isfinite(nll)) or
      (checksum is not None and nll_checksum(nll) != checksum)):
    raise ValueError(
        f'compare_with: {nll_path} does not go with {json_path} (it holds '
        f'{nll.dtype} values of shape {nll.shape}, the record '
        f'{baseline["num_images"]} finite NLLs with checksum '
        f'{str(checksum)[:12]}); {again}.')
  return nll


def write_evaluation(run_dir, split, result, nll):
  """Writes eval_<split>_nll.npy and eval_<split>.json as one commit
  (`run_directory.write_all_atomic`), the record with the NLLs' checksum.

  Raises:
    EvaluationWriteError: a file cannot be written (read-only directory,
      full disk); it carries `result`, and the files keep their old content.
  """
  json_path, nll_path = evaluation_paths(run_dir, split)
  record = dict(result, nll_sha256=nll_checksum(nll))
  try:
    run_directory.write_all_atomic([
        (nll_path, lambda f: np.save(f, nll), True),
        (json_path, lambda f: f.write(json.dumps(record) + '\n'), False)])
  except OSError as e:
    raise EvaluationWriteError(
        f'Cannot write the evaluation to {run_dir!r} ({e.strerror or e}); '
        'its result is printed above. Free disk space or fix the '
        'permissions, then evaluate again to save it.', result) from None


class _Partial:
  """eval_<split>_partial.npz: the NLLs scored so far, with the settings
  (`key`) they were scored with; only NLLs of the same settings resume."""

  def __init__(self, run_dir, split, key, enabled):
    self.path = partial_path(run_dir, split)
    self.key = json.dumps(key, sort_keys=True)
    self.enabled = enabled
    self._warned = False

  def load(self):
    """The NLLs saved by an interrupted evaluation of the same settings."""
    if not (self.enabled and os.path.exists(self.path)):
      return np.zeros([0])
    try:
      with np.load(self.path, allow_pickle=False) as saved:
        key, nll = str(saved['key']), saved['nll']
    except (OSError, ValueError, KeyError, EOFError):
      return np.zeros([0])  # Damaged: scored again, then replaced.
    if key != self.key or nll.ndim != 1 or not np.all(np.isfinite(nll)):
      return np.zeros([0])
    print(f'Resuming the evaluation after {len(nll)} images scored before '
          f'({self.path}).', file=sys.stderr, flush=True)
    return nll

  def save(self, nll):
    """Saves `nll` atomically; a failure is a warning (scoring goes on, and
    the final write reports it)."""
    if not self.enabled:
      return
    try:
      run_directory.write_atomic(
          self.path, lambda f: np.savez(f, key=self.key, nll=nll),
          binary=True)
    except OSError as e:
      if not self._warned:
        print(f'warning: cannot save the progress of the evaluation to '
              f'{self.path} ({e.strerror or e}); scoring goes on.',
              file=sys.stderr, flush=True)
      self._warned = True

  def remove(self):
    if self.enabled and os.path.exists(self.path):
      os.remove(self.path)


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
    The dict written to eval_<split>.json (without its checksum).

  Raises:
    run_directory.RunDirectoryError: `run_dir` cannot be written; checked
      before anything is scored.
    EvaluationWriteError: the result could not be written (it carries it).
    distribute.ClusterError: a worker of a multi-worker cluster stopped
      answering.
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
  active = strategy or tf.distribute.get_strategy()
  chief = distribute.is_chief(active)
  if chief and os.path.isdir(run_dir):  # Else restoring names what is wrong.
    check_writable(run_dir)
  # A worker lost mid-evaluation: one line (`distribute.ClusterError`).
  with distribute.peers_lost_as_one_line(active, 'evaluation'):
    run = run_directory.restore_model(run_dir, data_dir, strategy=strategy,
                                      checkpoint=checkpoint)
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
    # Resumed only where one process scores: workers would disagree on where.
    partial = _Partial(run_dir, split, dict(
        split=split, num_images=len(images), max_images=max_images,
        num_importance_samples=num_importance_samples, batch_size=batch_size,
        seed=seed, log_z=log_z.value, step=run.step,
        checkpoint=checkpoint or 'latest', dataset=run.train_config.dataset),
                       enabled=chief and not distribute.is_multi_worker(active))
    nll = evaluation.per_image_nll(run.model, images, num_importance_samples,
                                   batch_size=batch_size, seed=seed,
                                   verbose=verbose, strategy=strategy,
                                   scored=partial.load(), on_round=partial.save)
    distribute.barrier(active)
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
    partial.remove()
  return result


def check_writable(run_dir):
  """Checks that the evaluation's files can be written into `run_dir`.

  Raises:
    run_directory.RunDirectoryError: they cannot (read-only, not ours).
  """
  run_directory.check_directory(
      run_dir, '--run_dir', fix='evaluation writes its result and its '
      'progress there, and nothing has been scored: make it writable, or copy '
      'the run directory somewhere writable and evaluate the copy')
