"""Trains a discrete VAE; rerunning the same command resumes it.

A thin wrapper of `dvae_tf.binaries.train` (the `dvae-train` command); run
with --help for its flags.
"""

from dvae_tf.binaries.train import run

if __name__ == '__main__':
  run()
