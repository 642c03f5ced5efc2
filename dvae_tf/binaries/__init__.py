"""The command-line programs: `dvae-train`, `dvae-evaluate`, `dvae-sample`,
`dvae-export` and `dvae-benchmark` (console scripts), also run as
`python bin/<name>.py`. Each module defines its flags, a `main(argv)` that
turns them into a config and calls one library function, and `run()`.

Importing this package (which every binary does before TensorFlow) makes
SIGINT and SIGTERM end the program with one `error:` line and status
`EXIT_STOPPED`, from the first second on; a training loop takes them over
while it runs, to save a checkpoint first.
"""

import os
import signal
import sys

# The exit status of a program stopped by SIGINT or SIGTERM (EX_TEMPFAIL):
# rerun the same command (a training resumes from its last checkpoint).
EXIT_STOPPED = 75

# Before TensorFlow is imported: its C++ INFO and WARNING lines would land in
# the progress output (errors still show).
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')


def _stop(signum, frame):
  """SIGINT or SIGTERM outside a training loop (which saves first): one line,
  not a KeyboardInterrupt traceback or a silent exit."""
  del frame
  print(f'error: stopped by {signal.Signals(signum).name}; rerun the same '
        'command (a training resumes from its last checkpoint).',
        file=sys.stderr, flush=True)
  sys.exit(EXIT_STOPPED)


# Before TensorFlow is imported, which takes seconds.
for _signal in (signal.SIGINT, signal.SIGTERM):
  signal.signal(_signal, _stop)
