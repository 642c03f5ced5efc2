"""Exports a trained model as a SavedModel for sampling and TF Serving.

A thin wrapper of `dvae_tf.binaries.export` (the `dvae-export` command); run
with --help for its flags.
"""

from dvae_tf.binaries.export import run

if __name__ == '__main__':
  run()
