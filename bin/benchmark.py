"""Runs benchmark suites and writes their reports.

A thin wrapper of `dvae_tf.binaries.benchmark` (the `dvae-benchmark` command); run
with --help for its flags.
"""

from dvae_tf.binaries.benchmark import run

if __name__ == '__main__':
  run()
