"""A training run's directory: its lock, its records and its checkpoints.

`training.train` keeps a run directory consistent through faults:

- `RunLock`: one training per directory at a time (an exclusive `flock` on
  `.lock`, which holds the holder's process id); a second is refused with a
  message naming that process. The lock goes with the process, so a killed
  run never leaves a stale one.
- `check_writable`: the directory and its `checkpoints/` are created and
  probed before anything is trained, so a read-only or misnamed directory
  fails at once (`check_directory`, which the binaries also use for the
  folders they write).
- `write_json_atomic`: records are written to a temporary file and renamed,
  so a reader never sees half a record.
- `restorable_checkpoint`: the newest checkpoint that reads back completely
  (every tensor, with its checksum, and every value finite), found from the files on disk, not only
  the small `checkpoint` state file. Unreadable ones are renamed
  `<name>.corrupt` and named in a warning; the state file is rewritten to
  the ones that remain, and leftovers of interrupted saves are removed.
"""

import fcntl
import glob
import json
import os
import re
import shutil
import tempfile

import numpy as np
import tensorflow as tf

CHECKPOINT_DIR = 'checkpoints'
LOCK_FILE = '.lock'
_CHECKPOINT_INDEX = re.compile(r'^ckpt-(\d+)\.index$')


class RunDirectoryError(ValueError):
  """The run directory cannot be used as asked (locked, unwritable, ...)."""


def checkpoint_dir(model_dir):
  return os.path.join(model_dir, CHECKPOINT_DIR)


def check_writable(model_dir):
  """Creates `model_dir/checkpoints` and checks that files can be written.

  Raises:
    RunDirectoryError: `model_dir` is a file, not UTF-8, or a directory
      cannot be created or written.
  """
  check_directory(model_dir, '--model_dir')
  check_directory(checkpoint_dir(model_dir), '--model_dir')


def check_directory(directory, flag):
  """Creates `directory` if needed and checks that files can be written in it.

  Args:
    directory: the folder.
    flag: the flag that names it, for the message (e.g. '--model_dir').

  Raises:
    RunDirectoryError: `directory` is a file, its name is not UTF-8 (which
      TensorFlow's file functions need; checked before anything is made),
      or it cannot be created or written.
  """
  try:
    directory.encode('utf-8')
  except UnicodeEncodeError:
    raise RunDirectoryError(
        f'{flag} {directory!r} is not valid UTF-8, which TensorFlow needs in '
        'file names; choose a name in UTF-8.') from None
  if os.path.exists(directory) and not os.path.isdir(directory):
    raise RunDirectoryError(f'{flag} {directory!r} is a file, not a '
                            'directory; choose a directory.')
  try:
    os.makedirs(directory, exist_ok=True)
    with tempfile.TemporaryFile(dir=directory):
      pass
  except OSError as e:
    raise RunDirectoryError(
        f'Cannot write to {directory!r} ({e.strerror or e}); choose a '
        f'writable {flag} or fix its permissions.') from None


class RunLock:
  """An exclusive lock on a run directory while a training runs in it."""

  def __init__(self, model_dir):
    self.path = os.path.join(model_dir, LOCK_FILE)
    self._file = None

  def __enter__(self):
    self._file = open(self.path, 'a+')  # pylint: disable=consider-using-with
    try:
      fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      self._file.seek(0)
      holder = self._file.read().strip() or 'unknown'
      self._file.close()
      raise RunDirectoryError(
          f'{os.path.dirname(self.path)!r} is being trained by process '
          f'{holder} (lock {self.path}); wait for it to finish or stop it, '
          'or train into another --model_dir.') from None
    self._file.seek(0)
    self._file.truncate()
    self._file.write(str(os.getpid()))
    self._file.flush()
    return self

  def __exit__(self, *exc):
    self._file.seek(0)
    self._file.truncate()
    fcntl.flock(self._file, fcntl.LOCK_UN)
    self._file.close()


def write_atomic(path, write, binary=False):
  """Writes a file through a temporary file and a rename: readers see the old
  file or the whole new one. `write(f)` writes the content to the open file."""
  directory = os.path.dirname(path) or '.'
  fd, tmp = tempfile.mkstemp(prefix='.' + os.path.basename(path) + '-',
                             dir=directory)
  try:
    # mkstemp's 0o600 would hide the record from other users; use the umask.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    with os.fdopen(fd, 'wb' if binary else 'w') as f:
      write(f)
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise


def write_json_atomic(path, record):
  """Writes `record` as JSON to `path` atomically (`write_atomic`)."""
  write_atomic(path, lambda f: json.dump(record, f, indent=2))


def checkpoints_on_disk(directory):
  """[(step, prefix)] of the checkpoints whose index file exists, newest first."""
  found = []
  for name in os.listdir(directory) if os.path.isdir(directory) else ():
    match = _CHECKPOINT_INDEX.match(name)
    if match:
      found.append((int(match.group(1)),
                    os.path.join(directory, name[:-len('.index')])))
  return sorted(found, reverse=True)


def _orphans(directory):
  """Prefixes with data files but no index: a checkpoint that lost its index."""
  indexed = {prefix for _, prefix in checkpoints_on_disk(directory)}
  return sorted({f.rsplit('.data-', 1)[0] for f in glob.glob(
      os.path.join(glob.escape(directory), 'ckpt-*.data-*'))
                 if not f.endswith('.corrupt')} - indexed)


def newest_checkpoint(directory):
  """The prefix of the newest checkpoint on disk, readable or not, or None."""
  prefixes = [p for _, p in checkpoints_on_disk(directory)] + _orphans(
      directory)
  return max(prefixes, key=_step, default=None)


def read_error(prefix):
  """Why checkpoint `prefix` does not read back completely, or None.

  A tensor holding a NaN or an infinity counts as unreadable: no state a
  run can continue from has one (training never saves one, but older
  versions did, from an overflowed optimizer slot).
  """
  if not os.path.exists(prefix + '.index'):
    return 'its .index file is missing'
  try:
    reader = tf.train.load_checkpoint(prefix)
    for name in sorted(reader.get_variable_to_shape_map()):
      value = reader.get_tensor(name)
      if (isinstance(value, np.ndarray) and value.dtype.kind == 'f' and
          not np.all(np.isfinite(value))):
        return f'{name} holds NaN or infinite values'
  except (tf.errors.OpError, OSError, ValueError, IndexError) as e:
    return f'{type(e).__name__}: {str(e).splitlines()[0] if str(e) else e}'
  return None


def _data_files(prefix):
  return glob.glob(glob.escape(prefix) + '.data-*')


def remove_leftovers(directory):
  """Removes what interrupted saves leave behind: `*_temp` folders and the
  `checkpoint.tmp*` files of an interrupted write of the state file."""
  removed = []
  for path in [p for pattern in ('*_temp*', 'checkpoint.tmp*')
               for p in glob.glob(os.path.join(glob.escape(directory),
                                               pattern))]:
    shutil.rmtree(path, ignore_errors=True) if os.path.isdir(path) else (
        os.remove(path))
    removed.append(path)
  return removed


def restorable_checkpoint(model_dir, warn=print, quarantine=True):
  """The newest checkpoint of `model_dir` that reads back, or None.

  Checkpoints are found from their files, so a deleted or stale state file
  loses nothing. Each newer one that does not read back (truncated, bytes
  changed, index missing or damaged) is named by `warn` and, with
  `quarantine`, renamed `<file>.corrupt`; the state file is then rewritten
  to the remaining checkpoints.

  Args:
    model_dir: a run directory.
    warn: called with one line per unreadable checkpoint.
    quarantine: rename unreadable checkpoints and rewrite the state file
      (training, which holds the run's lock); evaluation only reads.

  Returns:
    The checkpoint prefix, or None if there is none.
  """
  directory = checkpoint_dir(model_dir)
  on_disk = checkpoints_on_disk(directory)
  # Data files whose index is gone are checkpoints too, unreadable ones.
  chosen, bad = None, [(p, 'its .index file is missing')
                       for p in _orphans(directory)]
  for _, prefix in on_disk:
    error = read_error(prefix)
    if error is None:
      chosen = prefix
      break
    bad.append((prefix, error))
  newest_bad = [(p, e) for p, e in bad
                if chosen is None or _step(p) > _step(chosen)]
  for prefix, error in newest_bad:
    fallback = (f'falling back to {os.path.basename(chosen)}' if chosen
                else 'no readable checkpoint remains: starting from step 0')
    warn(f'warning: checkpoint {prefix} cannot be read ({error}); '
         f'{fallback}.')
    if quarantine:
      for path in _data_files(prefix) + [prefix + '.index']:
        if os.path.exists(path):
          os.replace(path, path + '.corrupt')
  if quarantine and (newest_bad or on_disk):
    remaining = [p for _, p in checkpoints_on_disk(directory)]
    if remaining:
      tf.compat.v1.train.update_checkpoint_state(
          directory, remaining[0],
          all_model_checkpoint_paths=list(reversed(remaining)))
  return chosen


def _step(prefix):
  return int(prefix.rsplit('-', 1)[1])
