"""What the binaries in `bin/` share: user errors as one clear line.

`run(main)` is `absl.app.run(main)`, except that the errors a user can cause
and fix (a missing dataset file or model directory, an invalid flag value or
configuration, a diverged run) print `error: <what was wrong and what to do>`
on stderr and exit with status 1, instead of a traceback. Every message
raised for these cases in dvae_tf already names the input and the fix.
"""

import sys

from absl import app

from dvae_tf import training

USER_ERRORS = (FileNotFoundError, FileExistsError, ValueError,
               training.TrainingDivergedError)


def run(main):
  """`app.run(main)` with USER_ERRORS reported as `error: ...`, exit 1."""

  def guarded(argv):
    try:
      return main(argv)
    except USER_ERRORS as e:
      print(f'error: {e}', file=sys.stderr)
      sys.exit(1)

  app.run(guarded)
