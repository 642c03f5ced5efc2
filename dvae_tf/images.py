"""Image grids for TensorBoard and PNG files.

`grid` tiles a few images into one array (TensorBoard). `write_grid_png`
writes a grid of any number of images as a PNG without ever holding the
grid: the images arrive in batches, and each row of the grid is encoded and
compressed as soon as it is complete, so memory does not grow with the
number of images. `png_size_bound` is the most bytes such a file takes.
"""

import struct
import zlib

import numpy as np

from dvae_tf import run_directory

# Samples in one grid (a TensorBoard grid while training, `dvae-sample`).
GRID_SAMPLES = 64
# PNG colour types by channel count: grey, grey and alpha, RGB, RGBA.
_COLOUR_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}
_PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'


def grid_layout(num_images, image_shape, num_columns=None, pad=1):
  """(rows, columns, [height, width, channels]) of a grid of `num_images`
  images [H, W, C] with `pad` pixels of white around each; `num_columns`
  defaults to ceil(sqrt(num_images))."""
  h, w, c = image_shape
  cols = num_columns or int(np.ceil(np.sqrt(num_images)))
  rows = -(-num_images // cols)
  return rows, cols, [rows * (h + pad) + pad, cols * (w + pad) + pad, c]


def _grid_row(images, num_columns, pad):
  """One row of a grid: images [<= num_columns, H, W, C] side by side, with
  `pad` white rows below them, float32 [H + pad, width, C]."""
  _, h, w, c = images.shape
  out = np.ones((h + pad, num_columns * (w + pad) + pad, c), np.float32)
  for col, image in enumerate(images):
    out[:h, pad + col * (w + pad):pad + col * (w + pad) + w] = image
  return out


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
  rows, cols, (_, width, c) = grid_layout(len(images), images.shape[1:],
                                          num_columns, pad)
  return np.concatenate([np.ones((pad, width, c), np.float32)] + [
      _grid_row(images[r * cols:(r + 1) * cols], cols, pad)
      for r in range(rows)])


def png_size_bound(shape):
  """The most bytes `write_grid_png` writes for a grid of `shape` [H, W, C]:
  the uncompressed rows (a filter byte each) and zlib's worst-case growth,
  plus the PNG's chunk headers (one per 16 KiB at most)."""
  height, width, channels = shape
  raw = height * (width * channels + 1)
  return raw + raw // 1000 + 12 * (raw // 16384 + 1) + 1024


class _PngStream:
  """A PNG written to an open binary file a few rows at a time: 8 bits per
  channel, no row filter, each zlib output as an IDAT chunk."""

  def __init__(self, f, shape):
    height, width, channels = shape
    self._f = f
    f.write(_PNG_SIGNATURE)
    self._chunk(b'IHDR', struct.pack('>IIBBBBB', width, height, 8,
                                     _COLOUR_TYPE[channels], 0, 0, 0))
    self._compress = zlib.compressobj(6)

  def _chunk(self, kind, payload):
    self._f.write(struct.pack('>I', len(payload)) + kind + payload +
                  struct.pack('>I', zlib.crc32(kind + payload)))

  def add(self, rows):
    """Appends rows [n, W, C] in [0, 1], rounded to 8 bits."""
    pixels = np.round(255. * np.clip(rows, 0., 1.)).astype(np.uint8)
    scanlines = np.concatenate([np.zeros((len(pixels), 1), np.uint8),
                                pixels.reshape(len(pixels), -1)], axis=1)
    data = self._compress.compress(scanlines.tobytes())
    if data:
      self._chunk(b'IDAT', data)

  def finish(self):
    self._chunk(b'IDAT', self._compress.flush())
    self._chunk(b'IEND', b'')


def write_grid_png(path, batches, num_images, image_shape, num_columns=None,
                   pad=1):
  """Writes the `grid` of `num_images` images as PNG, a row at a time.

  Written atomically (`run_directory.write_atomic`): a full disk leaves the
  old file or none, never half a PNG. Memory holds one batch and one row of
  the grid, whatever `num_images` is.

  Args:
    path: the PNG file.
    batches: an iterable of image batches [n, H, W, C] in [0, 1], in grid
      order, `num_images` images in all.
    num_images: how many images `batches` yields.
    image_shape: [H, W, C].
    num_columns: images per row (default: ceil(sqrt(num_images))).
    pad: pixels of white between images.

  Raises:
    OSError: the file cannot be written.
  """
  _, cols, shape = grid_layout(num_images, image_shape, num_columns, pad)

  def write(f):
    png = _PngStream(f, shape)
    png.add(np.ones((pad, shape[1], shape[2]), np.float32))
    # Images of the row being filled, carried over from earlier batches.
    carry, written = np.zeros([0, *image_shape], np.float32), 0
    for batch in batches:
      head = cols - len(carry)
      rows = [np.concatenate([carry, batch[:head]])] + [
          batch[start:start + cols] for start in range(head, len(batch), cols)]
      carry = carry[:0]
      for row in rows:
        if len(row) == cols:
          png.add(_grid_row(row, cols, pad))
          written += cols
        else:
          carry = np.array(row, np.float32)  # A copy: the batch can go.
      del batch, rows, row  # Before the next batch is made.
    if len(carry):
      png.add(_grid_row(carry, cols, pad))
      written += len(carry)
    if written != num_images:
      raise ValueError(f'write_grid_png: {written} images given for a grid '
                       f'of {num_images}.')
    png.finish()

  run_directory.write_atomic(path, write, binary=True)
