"""Rebuilds the tables of REPRODUCTION.md from the tracked evaluation files.

A thin wrapper of `dvae_tf.binaries.reproduction`; run with --help for its
flags.
"""

from dvae_tf.binaries.reproduction import run

if __name__ == '__main__':
  run()
