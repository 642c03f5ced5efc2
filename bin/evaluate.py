"""Evaluates the importance-weighted test NLL (binary limit) of a trained model.

  python bin/evaluate.py --model_dir=runs/demo --num_importance_samples=4000

Prints one JSON line (nll, stderr, log_z, log_z_method, ...; bits_per_dim for
8-bit datasets such as CIFAR-10) and writes it to <model_dir>/eval_<split>.json,
and each image's NLL to <model_dir>/eval_<split>_nll.npy.

With --compare_with=OTHER_RUN (a run evaluated before on the same images with
the same k), the line also holds `paired_difference`: this model's NLL minus
the other's, averaged over the images, with the standard error of the paired
differences (`evaluation.paired_difference`), the error bar for a ranking.
Works for feed-forward and DVAE++ models: for DVAE++ the importance samples
are binary for the global latents and drawn from the posterior for the local
ones.
"""

import json
import os

from absl import app
from absl import flags
import numpy as np

from dvae_tf import cli
from dvae_tf import data
from dvae_tf import evaluation
from dvae_tf import training

FLAGS = flags.FLAGS
flags.DEFINE_string('model_dir', None, 'A directory written by bin/train.py.',
                    required=True)
flags.DEFINE_string('data_dir', None, 'Folder with the dataset files.')
flags.DEFINE_enum('split', 'test', list(data.SPLITS), 'Split to evaluate.')
flags.DEFINE_integer('num_importance_samples', 4000, 'Samples per image.')
flags.DEFINE_integer('batch_size', 100, 'Images per batch.')
flags.DEFINE_integer('max_images', 0, 'Evaluate only the first N (0: all).')
flags.DEFINE_integer('ais_chains', 1024, 'AIS chains when log Z is not exact.')
flags.DEFINE_integer('ais_betas', 1000, 'AIS inverse temperatures.')
flags.DEFINE_integer('seed', 0, 'Random seed.')
flags.DEFINE_string('compare_with', None, 'Another run directory, evaluated '
                    'on the same images with the same k: report the paired '
                    'NLL difference against it.')


def _baseline_nll(run_dir, split, expected):
  """Per-image NLL of `run_dir`'s evaluation, checked to match `expected`."""
  json_path = os.path.join(run_dir, f'eval_{split}.json')
  nll_path = os.path.join(run_dir, f'eval_{split}_nll.npy')
  for path in (json_path, nll_path):
    if not os.path.exists(path):
      raise FileNotFoundError(
          f'--compare_with: no {os.path.basename(path)} in {run_dir!r}; run '
          f'bin/evaluate.py --model_dir={run_dir} --split={split} first.')
  with open(json_path) as f:
    baseline = json.loads(f.read())
  for key, value in expected.items():
    if baseline.get(key) != value:
      raise ValueError(
          f'--compare_with: {run_dir!r} was evaluated with {key}='
          f'{baseline.get(key)}, this run asks for {value}; evaluate both '
          'with the same --max_images and --num_importance_samples.')
  return np.load(nll_path)


def main(argv):
  del argv
  if FLAGS.num_importance_samples < 1:
    raise app.UsageError('--num_importance_samples must be positive.')
  model, _, train_config, step = training.restore_model(FLAGS.model_dir,
                                                        FLAGS.data_dir)
  log_z = model.prior.log_normalizer(num_chains=FLAGS.ais_chains,
                                     num_betas=FLAGS.ais_betas,
                                     seed=(FLAGS.seed, 1))
  images = data.load_images(train_config.dataset, FLAGS.split,
                            data_dir=FLAGS.data_dir)
  if FLAGS.max_images:
    images = images[:FLAGS.max_images]
  if FLAGS.compare_with:  # Checked before the long part.
    baseline_nll = _baseline_nll(
        FLAGS.compare_with, FLAGS.split,
        dict(num_images=len(images),
             num_importance_samples=FLAGS.num_importance_samples))
  nll = evaluation.per_image_nll(model, images, FLAGS.num_importance_samples,
                                 batch_size=FLAGS.batch_size, seed=FLAGS.seed,
                                 log_z=log_z.value)
  result = evaluation.summarize(nll, FLAGS.num_importance_samples)
  if FLAGS.compare_with:
    result['paired_difference'] = dict(
        evaluation.paired_difference(nll, baseline_nll),
        baseline=FLAGS.compare_with)
  result.update(log_z=log_z.value, log_z_stderr=log_z.stderr,
                log_z_method=log_z.method, split=FLAGS.split,
                dataset=train_config.dataset, step=step)
  if not data.is_binary(train_config.dataset):
    result.update(
        bits_per_dim=evaluation.bits_per_dim(result['nll'], images.shape[1:]),
        bits_per_dim_stderr=evaluation.bits_per_dim(result['stderr'],
                                                    images.shape[1:]))
  line = json.dumps(result)
  path = os.path.join(FLAGS.model_dir, f'eval_{FLAGS.split}.json')
  with open(path, 'w') as f:
    f.write(line + '\n')
  np.save(os.path.join(FLAGS.model_dir, f'eval_{FLAGS.split}_nll.npy'), nll)
  print(f'Wrote {path}:')
  print(line)


if __name__ == '__main__':
  cli.run(main)
