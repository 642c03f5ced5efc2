"""Writes a grid of samples from a trained model's prior as PNG.

  dvae-sample --run_dir=runs/demo --num_samples=64 --output=samples.png
  dvae-sample --run_dir=runs/dvaepp --fixed_global --num_samples=100

With --sampler=simulated_annealing (or another of `ocean.SAMPLERS`) the
global latents come from that dimod sampler on the prior's BQM (a Boltzmann
prior; needs the `ocean` extra) instead of the model's block Gibbs chains.

With --fixed_global (DVAE++ models) every --group_size consecutive samples
share one sample of the global prior and differ in their local latents, laid
out --groups_per_row groups to a row: the layout of Fig. 4.

Samples are drawn in batches (`DiscreteVAE.max_evaluation_rows` rows) and
each row of the grid is compressed into the PNG as soon as it is complete
(`images.write_grid_png`), so memory does not grow with --num_samples; what
does is the PNG, and --num_samples is refused before sampling when the most
the PNG can take (`images.png_size_bound`) is more than the output folder's
free disk space.
"""

import os
import shutil

from absl import app
from absl import flags

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


def gibbs_batches(model, num_samples, seed, samples_per_global=1):
  """Image means from the model's own prior, in batches of whole groups of
  `samples_per_global` (at most `max_evaluation_rows` rows, so memory does
  not grow with the activations); batch b uses the seed (seed, b)."""
  per_batch = max(samples_per_global, model.max_evaluation_rows //
                  samples_per_global * samples_per_global)
  for b, start in enumerate(range(0, num_samples, per_batch)):
    yield model.sample(min(per_batch, num_samples - start), seed=(seed, b),
                       samples_per_global=samples_per_global)[0].numpy()


def ocean_batches(model, sampler_name, num_samples, seed):
  """Image means decoded from a dimod sampler's reads of the model's
  Boltzmann prior (`ocean.sample_machine`), in batches of
  `max_evaluation_rows`; the reads ([n, units]) are drawn at once."""
  if not hasattr(model.prior, 'machine'):
    raise ValueError(f'--sampler={sampler_name} samples a Boltzmann prior; '
                     f'this model\'s prior is a {type(model.prior).__name__}.')
  sampler, kwargs = ocean.SAMPLERS[sampler_name]()
  z = ocean.sample_machine(model.prior.machine(), sampler, num_samples,
                           seed=seed, **kwargs)
  for b, start in enumerate(range(0, num_samples, model.max_evaluation_rows)):
    yield model.decode_global(z[start:start + model.max_evaluation_rows],
                              seed=(seed, b)).numpy()


def check_disk(path, num_samples, image_shape, num_columns):
  """Checks that the PNG of `num_samples` fits in the free space of the
  folder of `path`, at its largest (`images.png_size_bound`).

  Raises:
    ValueError: it may not.
  """
  _, _, shape = images.grid_layout(num_samples, image_shape, num_columns)
  needed = images.png_size_bound(shape)
  free = shutil.disk_usage(os.path.dirname(os.path.abspath(path))).free
  if needed > free:
    raise ValueError(
        f'--num_samples={num_samples} makes a PNG of {shape[1]} x {shape[0]} '
        f'pixels, up to {needed / 2**30:.1f} GiB, and the folder of {path} '
        f'has {free / 2**30:.1f} GiB free; ask for fewer samples or '
        'choose another --output.')


def check_output(path):
  """Checks before sampling that the PNG `path` can be written.

  Raises:
    ValueError: `path` is a folder or another file than a regular one (a
      device, a pipe: the PNG is renamed over it), or its folder cannot be
      written.
  """
  if os.path.isdir(path) or path.endswith(os.sep):
    example = os.path.join(path, 'samples.png')
    raise ValueError(f'--output={path} is a folder; give the PNG file to '
                     f'write, e.g. --output={example}.')
  if os.path.exists(path) and not os.path.isfile(path):
    raise ValueError(f'--output={path} is not a regular file (a device or a '
                     'pipe), which the PNG would replace; give a PNG file.')
  run_directory.check_directory(os.path.dirname(path) or '.', '--output folder')


def main(argv):
  del argv
  for name in ('num_samples', 'group_size', 'groups_per_row'):
    ranges.check_count(f'--{name}', FLAGS[name].value)
  ranges.check_seed('--seed', FLAGS.seed)
  check_output(FLAGS.output)
  model = run_directory.restore_model(FLAGS.run_dir, FLAGS.data_dir,
                                     checkpoint=FLAGS.checkpoint).model
  columns = None
  if FLAGS.sampler != 'gibbs':
    if FLAGS.fixed_global:
      raise app.UsageError('--fixed_global draws its global latents by '
                           'Gibbs sampling; leave --sampler at gibbs.')
  elif FLAGS.fixed_global:
    if not model.num_local_groups:
      raise app.UsageError(
          f'--fixed_global needs a model with local latents (--model=dvaepp); '
          f'{FLAGS.run_dir} holds a {type(model).__name__}.')
    columns = FLAGS.group_size * FLAGS.groups_per_row
  check_disk(FLAGS.output, FLAGS.num_samples, model.image_shape, columns)
  if FLAGS.sampler == 'gibbs':
    batches = gibbs_batches(
        model, FLAGS.num_samples, FLAGS.seed,
        samples_per_global=FLAGS.group_size if FLAGS.fixed_global else 1)
  else:
    batches = ocean_batches(model, FLAGS.sampler, FLAGS.num_samples,
                            FLAGS.seed)
  try:
    images.write_grid_png(FLAGS.output, batches, FLAGS.num_samples,
                          model.image_shape, num_columns=columns)
  except OSError as e:
    raise ValueError(f'Cannot write {FLAGS.output} ({e.strerror or e}); free '
                     'disk space or choose another --output.') from None
  print(f'Wrote {FLAGS.num_samples} samples to {FLAGS.output}.')


def run():
  cli.run(main)


if __name__ == '__main__':
  run()
