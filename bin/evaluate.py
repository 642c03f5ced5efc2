"""Evaluates the importance-weighted test NLL (binary limit) of a trained model.

A thin wrapper of `dvae_tf.binaries.evaluate` (the `dvae-evaluate` command); run
with --help for its flags.
"""

from dvae_tf.binaries.evaluate import run

if __name__ == '__main__':
  run()
