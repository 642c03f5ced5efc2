"""dvae-sample's grid: the PNG written a row at a time is the grid, its size
bound holds, and the binary's peak memory does not grow with --num_samples."""

import concurrent.futures
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from dvae_tf import images
from dvae_tf import models
from dvae_tf import training

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize('shape, columns, batch', [
    ([7, 5, 1], None, 4), ([7, 5, 3], None, 50), ([3, 4, 1], 6, 5)])
def test_the_png_written_a_row_at_a_time_is_the_grid(tmp_path, shape,
                                                     columns, batch):
  values = np.random.default_rng(0).uniform(size=[23, *shape])
  values[0, 0, 0] = 0.5 / 255  # Rounds half to even, as tf.round.
  path = str(tmp_path / 'grid.png')
  images.write_grid_png(path, (values[i:i + batch]
                               for i in range(0, 23, batch)),
                        23, shape, num_columns=columns)
  expected = tf.cast(tf.round(255. * images.grid(values, columns)), tf.uint8)
  with open(path, 'rb') as f:
    written = tf.io.decode_png(f.read(), channels=shape[-1])
  np.testing.assert_array_equal(written.numpy(), expected.numpy())


def test_the_png_size_bound_holds_for_noise(tmp_path):
  """Noise does not compress: the bound must hold all the same."""
  values = np.random.default_rng(1).uniform(size=[500, 28, 28, 3])
  path = str(tmp_path / 'noise.png')
  images.write_grid_png(path, [values], 500, [28, 28, 3])
  _, _, shape = images.grid_layout(500, [28, 28, 3])
  assert os.path.getsize(path) <= images.png_size_bound(shape)


# Runs bin/sample.py and prints its peak resident memory (KiB).
PEAK = '''
import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
'''


def test_peak_memory_does_not_grow_with_num_samples(tmp_path):
  """One batch of samples (20,000 rows of this model) against five: the
  samples and the grid were held whole, 1.5 GiB more for the five."""
  run_dir = str(tmp_path / 'run')
  training.train(models.ModelConfig(struct='1-layer-lin', units_per_group=8),
                 training.TrainConfig(dataset='sample', num_steps=1,
                                      batch_size=10, image_every=0,
                                      log_z_every=0),
                 run_dir, verbose=False)

  def peak(num_samples):
    out = subprocess.run(
        [sys.executable, '-c', PEAK, sys.executable,
         os.path.join(REPO, 'bin', 'sample.py'), f'--run_dir={run_dir}',
         f'--num_samples={num_samples}',
         f'--output={tmp_path}/{num_samples}.png'],
        capture_output=True, text=True, cwd=REPO, timeout=600, check=True)
    return int(out.stdout.split()[-1]) * 1024

  with concurrent.futures.ThreadPoolExecutor(2) as pool:
    one, five = pool.map(peak, [20_000, 100_000])
  assert five - one < 64 * 2**20, (one, five)
