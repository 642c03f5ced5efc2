"""Writes a grid of samples from a trained model's prior as PNG.

  dvae-sample --run_dir=runs/demo --num_samples=64 --output=samples.png
  dvae-sample --run_dir=runs/dvaepp --fixed_global --num_samples=100

With --sampler=simulated_annealing (or another of `ocean.SAMPLERS`) the
global latents come from that dimod sampler on the prior's BQM (a Boltzmann
prior; needs the `ocean` extra) instead of the model's block Gibbs chains.

With --fixed_global (DVAE++ models) every --group_size consecutive samples
share one sample of the global prior and differ in their local latents, laid
out --groups_per_row groups to a row: the layout of Fig. 4.
"""

import os

from absl import app
from absl import flags
import numpy as np

from dvae_tf.binaries import cli
from dvae_tf import images
from dvae_tf import ocean
from dvae_tf import ranges
from dvae_tf import run_directory

FLAGS = flags.FLAGS
cli.define_run_flags('sample')
flags.DEFINE_integer('num_samples', images.GRID_SAMPLES, 'Number of samples.')
flags.DEFINE_string('output', 'samples.png', 'PNG file to write.')
flags.DEFINE_integer('seed', 0, 'Random seed.')
flags.DEFINE_bool('fixed_global', False, 'Groups of samples that share one '
                  'global latent sample (DVAE++ models; Fig. 4).')
flags.DEFINE_integer('group_size', 5, 'With --fixed_global: samples per '
                     'global sample.')
flags.DEFINE_enum('sampler', 'gibbs', ['gibbs'] + sorted(ocean.SAMPLERS),
                  'Where the global latents come from: the model\'s block '
                  'Gibbs chains, or a dimod sampler on the prior\'s BQM '
                  '(Boltzmann priors).')
flags.DEFINE_integer('groups_per_row', 2, 'With --fixed_global: groups in '
                     'each row of the grid.')


def available_memory_bytes():
  """Memory the machine has free now (physical pages), in bytes."""
  return os.sysconf('SC_AVPHYS_PAGES') * os.sysconf('SC_PAGE_SIZE')


def max_samples_that_fit(image_shape, free_bytes):
  """The most samples whose image means and grid fit in half of `free_bytes`.

  Each sample costs its float32 means, the float32 grid and the uint8 PNG
  rows: 9 bytes per pixel value, and the model's activations are drawn in
  batches (`DiscreteVAE.max_evaluation_rows`), so they do not grow with n.
  """
  return int(free_bytes // 2 // (9 * int(np.prod(image_shape))))


def ocean_samples(model, sampler_name, num_samples, seed):
  """Image means [n, H, W, C] decoded from a dimod sampler's reads of the
  model's Boltzmann prior (`ocean.sample_machine`)."""
  if not hasattr(model.prior, 'machine'):
    raise ValueError(f'--sampler={sampler_name} samples a Boltzmann prior; '
                     f'this model\'s prior is a {type(model.prior).__name__}.')
  sampler, kwargs = ocean.SAMPLERS[sampler_name]()
  z = ocean.sample_machine(model.prior.machine(), sampler, num_samples,
                           seed=seed, **kwargs)
  return np.concatenate([
      model.decode_global(z[start:start + model.max_evaluation_rows],
                          seed=(seed, b)).numpy()
      for b, start in enumerate(range(0, num_samples,
                                      model.max_evaluation_rows))])


def check_output(path):
  """Checks before sampling that the PNG `path` can be written.

  Raises:
    ValueError: `path` is a folder, or its folder cannot be written.
  """
  if os.path.isdir(path):
    example = os.path.join(path, 'samples.png')
    raise ValueError(f'--output={path} is a folder; give the PNG file to '
                     f'write, e.g. --output={example}.')
  run_directory.check_directory(os.path.dirname(path) or '.', '--output folder')


def main(argv):
  del argv
  for name in ('num_samples', 'group_size', 'groups_per_row'):
    ranges.check_count(f'--{name}', FLAGS[name].value)
  ranges.check_seed('--seed', FLAGS.seed)
  check_output(FLAGS.output)
  model = run_directory.restore_model(FLAGS.run_dir, FLAGS.data_dir,
                                 checkpoint=FLAGS.checkpoint).model
  fits = max_samples_that_fit(model.image_shape, available_memory_bytes())
  if FLAGS.num_samples > fits:
    raise app.UsageError(
        f'--num_samples={FLAGS.num_samples} does not fit in the memory free '
        f'now ({available_memory_bytes() / 2**30:.1f} GiB); at most {fits} '
        'samples fit in one grid.')
  columns = None
  samples_per_global = 1
  if FLAGS.sampler != 'gibbs':
    if FLAGS.fixed_global:
      raise app.UsageError('--fixed_global draws its global latents by '
                           'Gibbs sampling; leave --sampler at gibbs.')
    means = ocean_samples(model, FLAGS.sampler, FLAGS.num_samples, FLAGS.seed)
  elif FLAGS.fixed_global:
    if not model.num_local_groups:
      raise app.UsageError(
          f'--fixed_global needs a model with local latents (--model=dvaepp); '
          f'{FLAGS.run_dir} holds a {type(model).__name__}.')
    samples_per_global = FLAGS.group_size
    columns = FLAGS.group_size * FLAGS.groups_per_row
  if FLAGS.sampler == 'gibbs':
    # In batches of whole groups, so memory does not grow with the model's
    # activations; batch b uses the seed (seed, b).
    per_batch = max(samples_per_global, model.max_evaluation_rows //
                    samples_per_global * samples_per_global)
    means = np.concatenate([
        model.sample(min(per_batch, FLAGS.num_samples - start),
                     seed=(FLAGS.seed, b),
                     samples_per_global=samples_per_global)[0].numpy()
        for b, start in enumerate(range(0, FLAGS.num_samples, per_batch))])
  try:
    images.write_png(FLAGS.output, images.grid(means, num_columns=columns))
  except OSError as e:
    raise ValueError(f'Cannot write {FLAGS.output} ({e.strerror or e}); free '
                     'disk space or choose another --output.') from None
  print(f'Wrote {FLAGS.num_samples} samples to {FLAGS.output}.')


def run():
  cli.run(main)


if __name__ == '__main__':
  run()
