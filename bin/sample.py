"""Writes a grid of samples from a trained model's prior as PNG.

A thin wrapper of `dvae_tf.binaries.sample` (the `dvae-sample` command); run
with --help for its flags.
"""

from dvae_tf.binaries.sample import run

if __name__ == '__main__':
  run()
