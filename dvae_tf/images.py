"""Image grids for TensorBoard and PNG files."""

import numpy as np
import tensorflow as tf

from dvae_tf import run_directory

# Samples in one grid (a TensorBoard grid while training, `dvae-sample`).
GRID_SAMPLES = 64


def grid(images, num_columns=None, pad=1):
  """Tiles images [N, H, W, C] in [0, 1] into one [rows*(H+pad), cols*(W+pad), C].

  Args:
    images: numpy array of images.
    num_columns: images per row (default: ceil(sqrt(N))).
    pad: pixels of white between images.

  Returns:
    A float32 array in [0, 1].
  """
  images = np.asarray(images, np.float32)
  n, h, w, c = images.shape
  cols = num_columns or int(np.ceil(np.sqrt(n)))
  rows = -(-n // cols)
  out = np.ones((rows * (h + pad) + pad, cols * (w + pad) + pad, c), np.float32)
  for i, image in enumerate(images):
    r, col = divmod(i, cols)
    out[pad + r * (h + pad):pad + r * (h + pad) + h,
        pad + col * (w + pad):pad + col * (w + pad) + w] = image
  return out


def write_png(path, image):
  """Writes an [H, W, C] image in [0, 1] as PNG, atomically: a full disk
  leaves the old file or none, never half a PNG (`run_directory.write_atomic`).

  Raises:
    OSError: the file cannot be written.
  """
  encoded = tf.io.encode_png(tf.cast(tf.round(255. * np.clip(image, 0, 1)),
                                     tf.uint8))
  run_directory.write_atomic(path, lambda f: f.write(encoded.numpy()), binary=True)
