"""Threefry-2x32-20 uniforms (`dvae_tf.threefry`) against Random123's
known-answer vectors, an independent pure-Python Threefry, and the
properties the Gibbs sweeps rely on."""

import numpy as np
import pytest
import tensorflow as tf

from dvae_tf import threefry

# Random123's kat_vectors for threefry2x32 with 20 rounds: counter, key,
# expected output (two 32-bit words each).
KNOWN_ANSWERS = (
    ((0x00000000, 0x00000000), (0x00000000, 0x00000000),
     (0x6b200159, 0x99ba4efe)),
    ((0xffffffff, 0xffffffff), (0xffffffff, 0xffffffff),
     (0x1cb996fc, 0xbb002be7)),
    ((0x243f6a88, 0x85a308d3), (0x13198a2e, 0x03707344),
     (0xc4923a9c, 0x483df7a0)),
)


def _reference_threefry(c0, c1, k0, k1):
  """Threefry-2x32-20 with Python integers, written from the paper's
  description (Salmon et al. 2011, Sec. 3.3) independently of the module."""
  mask = 2**32 - 1
  rotations = (13, 15, 26, 6, 17, 29, 16, 24)
  k = (k0, k1, k0 ^ k1 ^ 0x1BD11BDA)
  x = [(c0 + k[0]) & mask, (c1 + k[1]) & mask]
  for r in range(20):
    x[0] = (x[0] + x[1]) & mask
    x[1] = ((x[1] << rotations[r % 8]) | (x[1] >> (32 - rotations[r % 8])))
    x[1] = (x[1] & mask) ^ x[0]
    if r % 4 == 3:
      s = r // 4 + 1
      x[0] = (x[0] + k[s % 3]) & mask
      x[1] = (x[1] + k[(s + 1) % 3] + s) & mask
  return tuple(x)


@pytest.mark.parametrize('counter,key,expected', KNOWN_ANSWERS)
def test_known_answers(counter, key, expected):
  words = threefry.threefry2x32(
      *[tf.constant([v], tf.uint32) for v in counter + key])
  assert tuple(int(w[0]) for w in words) == expected
  assert _reference_threefry(*counter, *key) == expected


def test_uniform_is_the_documented_map_of_the_words():
  seed = tf.constant([7, -3], tf.int32)
  u = threefry.uniform([3, 5], seed).numpy().ravel()
  k0, k1 = (int(v) for v in tf.bitcast(seed, tf.uint32).numpy())
  words = [w for pair in range(8)
           for w in _reference_threefry(pair, 0, k0, k1)][:15]
  np.testing.assert_array_equal(
      u, np.array([(w >> 8) / 2.**24 for w in words], np.float32))
  u64 = threefry.uniform([15], seed, tf.float64).numpy()
  np.testing.assert_array_equal(u64, np.array(words) / 2.**32)


def test_the_high_counter_word():
  """Draws past 2^33 elements (pair indices from 2^32 on) carry into the
  counter's high word; too large to draw here, so the split is checked on
  its own and through the generator against the reference."""
  pairs = np.array([0, 2**32 - 1, 2**32, 2**33 + 5, 2**40 + 2**32 + 7])
  c0, c1 = threefry.counter_words(tf.constant(pairs, tf.int64))
  np.testing.assert_array_equal(c0.numpy(), pairs % 2**32)
  np.testing.assert_array_equal(c1.numpy(), pairs // 2**32)
  words = threefry.threefry2x32(c0, c1, tf.constant(11, tf.uint32),
                                tf.constant(2**31 + 3, tf.uint32))
  for i, p in enumerate(pairs):
    assert (int(words[0][i]), int(words[1][i])) == _reference_threefry(
        int(p % 2**32), int(p // 2**32), 11, 2**31 + 3)


def test_prefix_and_seed_and_program_independence():
  seed = tf.constant([3, 4], tf.int32)
  full = threefry.uniform([9, 4, 7], seed).numpy()
  np.testing.assert_array_equal(threefry.uniform([2, 4, 7], seed).numpy(),
                                full[:2])
  # An odd count: the last pair's second word is dropped, not reordered.
  np.testing.assert_array_equal(threefry.uniform([1, 3, 7], seed).numpy(),
                                full.reshape(-1)[:21].reshape(1, 3, 7))
  traced = tf.function(lambda s: threefry.uniform([9, 4, 7], s))
  np.testing.assert_array_equal(traced(seed).numpy(), full)
  assert not np.array_equal(
      threefry.uniform([9, 4, 7], tf.constant([3, 5])).numpy(), full)


def test_uniform_distribution():
  """Moments and a chi-square test of 10 bins over 200,000 draws; pairs of
  neighbours (the two words of one counter) uncorrelated."""
  u = threefry.uniform([200_000], (11, 12)).numpy().astype(np.float64)
  assert u.min() >= 0. and u.max() < 1.
  counts = np.bincount((u * 10).astype(int), minlength=10)
  chi2 = np.sum((counts - 20_000.)**2 / 20_000.)
  assert chi2 < 27.9  # The 0.999 quantile of chi-square with 9 dof.
  assert abs(u.mean() - 0.5) < 4 * np.sqrt(1 / 12 / 2e5)
  assert abs(np.corrcoef(u[0::2], u[1::2])[0, 1]) < 4 / np.sqrt(1e5)
