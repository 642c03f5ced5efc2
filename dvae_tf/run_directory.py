"""A run directory: everything it is, in one place.

A run directory (`--run_dir`) holds:

- `config.json` (CONFIG_FILE): the model and training configurations, the
  record `restore_model` rebuilds the model from (`run_record`,
  `check_run_config`, `load_run_config`), with its sha256 in
  `config.sha256`, so a hand edit is refused (`check_unchanged`);
- `train_mean.npy` (TRAIN_MEAN_FILE): the training set's mean image, the
  decoder bias's initial value, so a trained model restores without its data
  (`train_mean`);
- `checkpoints/`: the latest checkpoints (`make_checkpoint`: model weights,
  the prior's persistent chains among them, optimizer and step), and
  `checkpoints/best/` with `best.json`, the checkpoint of the best
  validation score (`BestCheckpoint`, `best_prefix`);
- `train/` (TensorBoard) and the `eval_<split>` records of
  `evaluation_report`.

`restore_model` rebuilds a trained model from it; evaluation, export and
sampling use it, and training writes it. It is kept consistent through
faults:

- `RunLock`: one training per directory at a time (an exclusive `flock` on
  `.lock`, which holds the holder's process id); a second is refused with a
  message naming that process. The lock goes with the process, so a killed
  run never leaves a stale one.
- `check_writable`: the directory and its `checkpoints/` are created and
  probed before anything is trained, so a read-only or misnamed directory
  fails at once (`check_directory`, which the binaries also use for the
  folders they write).
- `write_json_atomic`: records are written to a temporary file and renamed,
  so a reader never sees half a record; `write_all_atomic` writes several
  files that way, all temporary files before any rename, so a full disk
  changes none of them.
- `restorable_checkpoint`: the newest checkpoint that reads back completely
  (every tensor, with its checksum, and every value finite), found from the files on disk, not only
  the small `checkpoint` state file. Unreadable ones are renamed
  `<name>.corrupt` and named in a warning; the state file is rewritten to
  the ones that remain, and leftovers of interrupted saves are removed.
"""

import contextlib
import dataclasses
import errno
import fcntl
import glob
import hashlib
import io
import json
import os
import re
import shutil
import tempfile
import textwrap

import keras
import numpy as np
import tensorflow as tf
from tensorflow.python.checkpoint import checkpoint_management

from dvae_tf import data
from dvae_tf import distribute
from dvae_tf.models import config as config_lib
from dvae_tf.models import size
from dvae_tf.train_config import TrainConfig

CHECKPOINT_DIR = 'checkpoints'
CONFIG_FILE = 'config.json'
TRAIN_MEAN_FILE = 'train_mean.npy'
# The sha256 of CONFIG_FILE and TRAIN_MEAN_FILE as training wrote them
# (older runs have none): a hand edit is refused, not trusted.
CONFIG_CHECKSUM_FILE = 'config.sha256'
TRAIN_MEAN_CHECKSUM_FILE = 'train_mean.sha256'
# TrainConfig fields that may change on resume with `change_optimizer=True`.
OPTIMIZER_FIELDS = ('learning_rate',)
# TrainConfig fields that may change on any resume: how a step is computed
# and how often the run is saved and logged, not what it computes (the
# record's `resumed` history notes the change).
EXECUTION_FIELDS = ('jit_compile', 'checkpoint_every', 'log_every')
# The best checkpoint's folder (in CHECKPOINT_DIR) and its score's record.
BEST = 'best'
BEST_FILE = 'best.json'
LOCK_FILE = '.lock'
# How many of the latest checkpoints a training keeps.
KEPT_CHECKPOINTS = 3
# The fields of best.json that its readers use, and their types.
_BEST_FIELDS = {'checkpoint': str, 'step': int, 'nll': (int, float)}
_CHECKPOINT_INDEX = re.compile(r'^ckpt-(\d+)\.index$')


class RunDirectoryError(ValueError):
  """The run directory cannot be used as asked (locked, unwritable, ...)."""


def checkpoint_dir(run_dir):
  return os.path.join(run_dir, CHECKPOINT_DIR)


def check_writable(run_dir):
  """Creates `run_dir/checkpoints` and checks that files can be written.

  Raises:
    RunDirectoryError: `run_dir` is a file, not UTF-8, or a directory
      cannot be created or written.
  """
  check_directory(run_dir, '--run_dir')
  check_directory(checkpoint_dir(run_dir), '--run_dir')


def check_directory(directory, flag, fix=None):
  """Creates `directory` if needed and checks that files can be written in it.

  Args:
    directory: the folder.
    flag: the flag that names it, for the message (e.g. '--run_dir').
    fix: what the message says to do when it cannot be written (default:
      choose a writable `flag` or fix its permissions).

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
    fix = fix or f'choose a writable {flag} or fix its permissions'
    raise RunDirectoryError(
        f'Cannot write to {directory!r} ({e.strerror or e}); {fix}.'
    ) from None


# TensorFlow's errors from writing TensorBoard's events file (their messages
# name the op: CreateSummaryFileWriter, FlushSummaryWriter, WriteSummary...).
_SUMMARY_WRITE = re.compile(r'events (file|writer)|Summary')
_WRITE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS,
                 errno.EACCES, errno.EPERM)


@contextlib.contextmanager
def write_failures_as_one_line(run_dir):
  """A failed write into `run_dir` while training, as a `RunDirectoryError`.

  A full disk or a folder made read-only shows up as an OSError (the lock,
  the records) or as TensorFlow's error from the TensorBoard writer; either
  becomes one line naming the folder and the fix. Checkpoints are written
  only whole (`CheckpointSaveError` reports theirs), so a rerun resumes from
  the last one.
  """
  try:
    yield
  except OSError as e:
    inside = e.filename is None or os.path.abspath(str(e.filename)).startswith(
        os.path.abspath(run_dir))
    if e.errno not in _WRITE_ERRNOS or not inside:
      raise
    raise RunDirectoryError(_write_failure(run_dir, e.strerror)) from None
  except tf.errors.OpError as e:
    if not _SUMMARY_WRITE.search(e.message):
      raise
    raise RunDirectoryError(_write_failure(
        run_dir, _os_reason(e.message))) from None


# The reasons an OS gives for a failed write, as TensorFlow's messages end.
_OS_REASONS = re.compile('|'.join(
    os.strerror(code) for code in sorted(_WRITE_ERRNOS)))


def _os_reason(message):
  """The OS's reason inside TensorFlow's error `message` ('Read-only file
  system', ...), or the message itself shortened at a word."""
  found = _OS_REASONS.findall(message)
  return found[-1] if found else textwrap.shorten(message, 200,
                                                   placeholder=' ...')


def _write_failure(run_dir, what):
  return (f'Could not write to the run directory {run_dir!r} ({what}); free '
          'disk space or make it writable, then rerun the same command: the '
          'run resumes from its last checkpoint.')


class RunLock:
  """An exclusive lock on a run directory while a training runs in it.

  The lock is taken on the directory itself, so deleting LOCK_FILE (which
  names the holder's process) does not let a second training in; file
  systems that cannot lock a directory (some NFS mounts) rely on LOCK_FILE's
  lock alone.
  """

  def __init__(self, run_dir):
    self.path = os.path.join(run_dir, LOCK_FILE)
    self._file = None
    self._dir = None

  def __enter__(self):
    self._file = open(self.path, 'a+')  # pylint: disable=consider-using-with
    self._dir = os.open(os.path.dirname(self.path) or '.', os.O_RDONLY)
    try:
      for handle, required in ((self._dir, False), (self._file, True)):
        try:
          fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
          raise
        except OSError:  # A directory this file system cannot lock.
          if required:
            raise
    except BlockingIOError:
      self._file.seek(0)
      pid = self._file.read().strip()
      holder = f'process {pid}' if pid else 'another process'
      self._release()
      raise RunDirectoryError(
          f'{os.path.dirname(self.path)!r} is being trained by {holder} '
          f'(lock {self.path}); wait for it to finish or stop it, '
          'or train into another --run_dir.') from None
    self._file.seek(0)
    self._file.truncate()
    self._file.write(str(os.getpid()))
    self._file.flush()
    return self

  def __exit__(self, *exc):
    self._file.seek(0)
    self._file.truncate()
    self._release()

  def _release(self):
    """Closing a descriptor releases its lock."""
    self._file.close()
    os.close(self._dir)


def write_atomic(path, write, binary=False):
  """Writes a file through a temporary file and a rename: readers see the old
  file or the whole new one. `write(f)` writes the content to the open file."""
  write_all_atomic([(path, write, binary)])


def write_all_atomic(files):
  """Writes several files as one commit, as far as a file system allows one.

  Every file's content is written to a temporary file beside it first, so a
  full disk or an unwritable folder fails before any file changes; then each
  is renamed over its file, in the order given. Only a crash between two
  renames leaves new files beside old ones, so a record that must agree with
  its companions should name them by checksum (the evaluation's does).

  Args:
    files: [(path, write, binary)]; `write(f)` writes the content to the
      open file, in binary mode if `binary`.
  """
  temporaries = []
  try:
    for path, write, binary in files:
      temporaries.append(_write_temporary(path, write, binary))
    for (path, _, _), tmp in zip(files, temporaries):
      os.replace(tmp, path)
  except BaseException:
    for tmp in temporaries:
      if os.path.exists(tmp):
        os.remove(tmp)
    raise


def _write_temporary(path, write, binary):
  """A temporary file beside `path`, holding what `write(f)` wrote, synced."""
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
  except BaseException:
    os.remove(tmp)
    raise
  return tmp


def write_json_atomic(path, record):
  """Writes `record` as JSON to `path` atomically (`write_atomic`)."""
  write_atomic(path, lambda f: json.dump(record, f, indent=2))


def write_with_checksum(path, content, checksum_path):
  """Writes the bytes `content` to `path` and their sha256 to
  `checksum_path`, as one commit (`write_all_atomic`)."""
  write_all_atomic([
      (path, lambda f: f.write(content), True),
      (checksum_path,
       lambda f: f.write(hashlib.sha256(content).hexdigest() + '\n'), False)])


def check_unchanged(path, content, checksum_path, fix):
  """Raises ValueError naming `path` if the sha256 of `content` (the bytes
  read from `path`) is not the one `write_with_checksum` recorded; a
  missing `checksum_path` (an older run) passes."""
  if not os.path.exists(checksum_path):
    return
  with open(checksum_path) as f:
    recorded = f.read().strip()
  if hashlib.sha256(content).hexdigest() != recorded:
    raise ValueError(f'{path} was changed after training wrote it (its sha256 '
                     f'is not the one in {checksum_path}); {fix}.')


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


def restorable_checkpoint(run_dir, warn=print, quarantine=True):
  """The newest checkpoint of `run_dir` that reads back, or None.

  Checkpoints are found from their files, so a deleted or stale state file
  loses nothing. Each newer one that does not read back (truncated, bytes
  changed, index missing or damaged) is named by `warn` and, with
  `quarantine`, renamed `<file>.corrupt`; the state file is then rewritten
  to the remaining checkpoints.

  Args:
    run_dir: a run directory.
    warn: called with one line per unreadable checkpoint.
    quarantine: rename unreadable checkpoints and rewrite the state file
      (training, which holds the run's lock); evaluation only reads.

  Returns:
    The checkpoint prefix, or None if there is none.
  """
  directory = checkpoint_dir(run_dir)
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
      # What `tf.train.CheckpointManager` writes (relative paths, through a
      # `checkpoint.tmp*` file), without the deprecation warning that the
      # public `update_checkpoint_state` printed on every resume.
      # With their times (the index files'): a manager deletes only
      # checkpoints newer than `last_preserved_timestamp`, and keeps the ones
      # listed without a time forever.
      oldest_first = list(reversed(remaining))
      times = [os.path.getmtime(p + '.index') for p in oldest_first]
      checkpoint_management.update_checkpoint_state_internal(
          directory, remaining[0],
          all_model_checkpoint_paths=oldest_first,
          all_model_checkpoint_timestamps=times,
          last_preserved_timestamp=min(times) - 1.,
          save_relative_paths=True)
  return chosen


def _step(prefix):
  return int(prefix.rsplit('-', 1)[1])


# The run record: config.json.


def run_record(model_config, train_config):
  """What config.json holds: {'model': {...}, 'train': {...}}."""
  return {'model': model_config.to_dict(),
          'train': dataclasses.asdict(train_config)}


def check_run_config(run_dir, model_config, train_config,
                     change_optimizer=False):
  """Checks a run against the record of `run_dir`; writes nothing.

  A recorded config is compared after reading it back through the config
  classes, so records written before a field existed (e.g. `kind`) or with
  an old name of a prior compare by meaning.

  Args:
    run_dir: the run directory.
    model_config, train_config: the run asked for.
    change_optimizer: accept other values of `OPTIMIZER_FIELDS` (e.g. a
      lower learning rate after a divergence).

  Returns:
    The record to write: None if config.json exists and matches, else the
    new record (a new run, or a resume with changed optimizer settings,
    whose history `resumed` lists the changes).

  Raises:
    ValueError: the configuration differs, or the directory has
      checkpoints but no config.json.
  """
  path = os.path.join(run_dir, CONFIG_FILE)
  record = run_record(model_config, train_config)
  if not os.path.exists(path):
    found = checkpoints_on_disk(checkpoint_dir(run_dir))
    if found:
      raise ValueError(
          f'{run_dir!r} has checkpoints but no {CONFIG_FILE}, which says '
          'how they were trained; put the run\'s config.json back, or train '
          'into a new --run_dir.')
    return record
  previous_model, previous_train = load_run_config(run_dir)
  previous = run_record(previous_model, previous_train)
  if previous == record:
    return None
  changed = sorted((part, key) for part in record for key in record[part]
                   if previous[part].get(key) != record[part][key])
  names = ', '.join(f'{part}.{key}' for part, key in changed)
  execution_only = all(part == 'train' and key in EXECUTION_FIELDS
                       for part, key in changed)
  optimizer_only = all(
      part == 'train' and key in OPTIMIZER_FIELDS + EXECUTION_FIELDS
      for part, key in changed)
  if not (execution_only or (optimizer_only and change_optimizer)):
    hint = (' (to resume with other optimizer settings, add '
            '--change_optimizer_settings)' if optimizer_only else '')
    raise ValueError(
        f'{run_dir} holds a run with a different configuration (changed: '
        f'{names}){hint}. Resume it with the same flags, or train into a new '
        '--run_dir.')
  with open(path) as f:
    history = json.load(f).get('resumed', [])
  record['resumed'] = history + [{
      'changed': {f'{part}.{key}': [previous[part][key], record[part][key]]
                  for part, key in changed}}]
  return record


def write_run_record(run_dir, record):
  """Writes config.json (`record`) with its checksum (CONFIG_CHECKSUM_FILE)."""
  write_with_checksum(os.path.join(run_dir, CONFIG_FILE),
                      json.dumps(record, indent=2).encode(),
                      os.path.join(run_dir, CONFIG_CHECKSUM_FILE))


def load_run_config(run_dir):
  """(model config of either kind, TrainConfig) of a trained model directory.

  A config.json edited after training wrote it is refused: it says how the
  checkpoints were trained, and an edit (a seed, a layer size) would make
  the resumed or restored run something else than what it records.
  """
  path = os.path.join(run_dir, CONFIG_FILE)
  if not os.path.exists(path):
    raise FileNotFoundError(
        f'No {CONFIG_FILE} in {run_dir!r}: is --run_dir a directory '
        'written by bin/train.py?')
  with open(path, 'rb') as f:
    content = f.read()
  try:
    record = json.loads(content)
    configs = (config_lib.config_from_dict(record['model']),
               TrainConfig(**record['train']))
  except (json.JSONDecodeError, UnicodeDecodeError) as e:
    raise ValueError(f'{path} is not valid JSON ({e}); restore it from the '
                     'run\'s original config.json.') from None
  except (KeyError, TypeError, AttributeError) as e:
    raise ValueError(f'{path} is not a run record ({type(e).__name__}: {e}); '
                     'expected {"model": {...}, "train": {...}} as written by '
                     'bin/train.py.') from None
  except ValueError as e:
    raise ValueError(f'{path}: {e}') from None
  checksum = os.path.join(run_dir, CONFIG_CHECKSUM_FILE)
  check_unchanged(path, content, checksum,
                  'it records how the checkpoints were trained: put back the '
                  f'original, or delete {checksum} if the edit is deliberate')
  return configs


@dataclasses.dataclass(frozen=True)
class RestoredRun:
  """A trained model restored from its directory.

  Attributes:
    model: the model, at the latest checkpoint.
    model_config: its model config (either kind).
    train_config: its `TrainConfig`.
    step: the training steps the checkpoint holds.
  """
  model: object
  model_config: object
  train_config: TrainConfig
  step: int


def restore_model(run_dir, data_dir=None, strategy=None, checkpoint=None):
  """The trained model of `run_dir`, a `RestoredRun`.

  Args:
    run_dir: a directory written by `train`.
    data_dir: where the dataset is (only for directories without
      train_mean.npy).
    strategy: the `tf.distribute.Strategy` to build under.
    checkpoint: a checkpoint name ('ckpt-N'), 'best' (the best validation
      score, `dvae_tf.validation`) or a path; default the newest, which must
      read back completely.

  Raises:
    FileNotFoundError: no config.json or no checkpoint.
    ValueError: the newest checkpoint (or the one asked for) is unreadable;
      the message names the newest readable one.
  """
  model_config, train_config = load_run_config(run_dir)
  directory = checkpoint_dir(run_dir)
  if checkpoint is None:
    prefix = newest_checkpoint(directory)
    if prefix is None:
      raise FileNotFoundError(f'No checkpoint in {directory}: train the model '
                              'first (bin/train.py).')
  elif checkpoint == BEST:
    prefix = best_prefix(run_dir)
  else:
    prefix = (checkpoint if os.path.dirname(checkpoint)
              else os.path.join(directory, checkpoint))
  error = read_error(prefix)
  if error:
    readable = restorable_checkpoint(run_dir, warn=lambda _: None,
                                             quarantine=False)
    fallback = (f'pass --checkpoint={os.path.basename(readable)} (the newest '
                'readable one), or rerun training to set it aside' if readable
                else 'no readable checkpoint remains; retrain')
    raise ValueError(f'Checkpoint {prefix} cannot be read ({error}); '
                     f'{fallback}.')
  model, optimizer = build_model_and_optimizer(
      model_config, train_config, data_dir,
      strategy or tf.distribute.get_strategy(), run_dir)
  check_checkpoint_matches(model, prefix, run_dir)
  make_checkpoint(model, optimizer).restore(prefix).expect_partial()
  return RestoredRun(model, model_config, train_config,
                     int(optimizer.iterations.numpy()))


def check_checkpoint_matches(model, prefix, run_dir):
  """Checks that checkpoint `prefix` holds `model`'s weights, shape by shape.

  A config.json edited by hand builds another model, which would fail deep
  inside the restore (with TensorFlow's warnings about unrestored values).
  Checkpoints that list no weights by position (version 0.1) are not checked.

  Raises:
    ValueError: the shapes differ; the message names the first difference.
  """
  shapes = tf.train.load_checkpoint(prefix).get_variable_to_shape_map()
  saved = {int(match.group(1)): shape for match, shape in (
      (re.fullmatch(r'weights/(\d+)/\.ATTRIBUTES/VARIABLE_VALUE', name), shape)
      for name, shape in shapes.items()) if match}
  if not saved:
    return
  built = [list(w.shape) for w in model.weights]
  if [saved.get(i) for i in range(len(saved))] == built:
    return
  first = next(i for i in range(max(len(built), len(saved)))
               if i >= len(built) or saved.get(i) != built[i])
  what = (f'weight {first} ({model.weights[first].path}) has shape '
          f'{built[first]} in the model {CONFIG_FILE} describes but '
          f'{saved.get(first)} in the checkpoint' if first < len(built) else
          f'the checkpoint holds {len(saved)} weights, the model '
          f'{len(built)}')
  raise ValueError(
      f'{os.path.join(run_dir, CONFIG_FILE)} does not describe the model '
      f'of {prefix}: {what}. Was it edited? Put back the run\'s original '
      f'{CONFIG_FILE} (the one training wrote).')


def make_checkpoint(model, optimizer):
  """A checkpoint of every model weight (by position) and the optimizer.

  Keras 3 layers held in Python lists are not tracked by `tf.train.Checkpoint`
  through the model object, so the weights are also listed explicitly; the
  order of `model.weights` is fixed by the model's construction.
  """
  return tf.train.Checkpoint(model=model, weights=list(model.weights),
                             optimizer=optimizer)


def run_train_mean(train_config, data_dir=None, run_dir=None, save=True):
  """A run's training-set mean image, which initialises the decoder's bias
  (`data.train_mean` computes it).

  Stored in `run_dir` (TRAIN_MEAN_FILE, atomically) when a run starts, so
  a trained model restores (for sampling, evaluation on other data, export)
  without the training data; computed from `data_dir` for older model
  directories, and by workers other than the chief (`save=False`).
  """
  path = run_dir and os.path.join(run_dir, TRAIN_MEAN_FILE)
  shape = data.image_shape(train_config.dataset)
  if path and os.path.exists(path):
    recompute = (f'delete it (and {TRAIN_MEAN_CHECKSUM_FILE}) to recompute it '
                 'from the dataset (--data_dir)')
    try:
      with open(path, 'rb') as f:
        content = f.read()
      mean = np.load(io.BytesIO(content), allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
      raise ValueError(f'{path} cannot be read ({e}); {recompute}.') from None
    if (mean.shape != tuple(shape) or not np.all(np.isfinite(mean)) or
        mean.min() < 0. or mean.max() > 1.):
      values = (f'values in [{mean.min()}, {mean.max()}]'
                if np.all(np.isfinite(mean)) else 'values not finite')
      raise ValueError(
          f'{path} is not the mean image of {train_config.dataset} (shape '
          f'{mean.shape}, {values}; expected {tuple(shape)} in [0, 1]); '
          f'{recompute}.')
    check_unchanged(path, content,
                    os.path.join(run_dir, TRAIN_MEAN_CHECKSUM_FILE),
                    'the model subtracts it from its inputs, so put back the '
                    f'original, or {recompute}')
    return mean
  mean = data.train_mean(train_config.dataset, data_dir=data_dir)
  if not np.all(np.isfinite(mean)):
    raise ValueError(f'The mean training image of {train_config.dataset} is '
                     'not finite; check the dataset files in --data_dir.')
  if path and save:
    buffer = io.BytesIO()
    np.save(buffer, mean)
    write_with_checksum(path, buffer.getvalue(),
                        os.path.join(run_dir, TRAIN_MEAN_CHECKSUM_FILE))
  return mean


def build_model_and_optimizer(model_config, train_config, data_dir, strategy,
                              run_dir=None, save_mean=True):
  """(model, optimizer) of a run, built under `strategy`, seeded by the
  run's seed; the model trains by `train_config` (`set_train_config`)."""
  mean = run_train_mean(train_config, data_dir, run_dir, save=save_mean)
  size.check_fits(model_config, mean, *distribute.available_bytes(strategy))
  # Seeded initialization: a run is reproducible from its flags alone.
  keras.utils.set_random_seed(train_config.seed)
  with strategy.scope(), size.out_of_memory_as_one_line(model_config):
    model = config_lib.build_model(
        model_config, mean, binary=data.is_binary(train_config.dataset))
    model.build()
    model.set_train_config(train_config)
    optimizer = train_config.make_optimizer()
    optimizer.build(model.trainable_variables)
  return model, optimizer


# The best checkpoint (kept by validation during training).


def best_dir(run_dir):
  return os.path.join(checkpoint_dir(run_dir), BEST)


def read_best(run_dir):
  """The record of the kept best checkpoint, or None."""
  path = os.path.join(best_dir(run_dir), BEST_FILE)
  if not os.path.exists(path):
    return None
  try:
    with open(path) as f:
      record = json.load(f)
    problem = next((f'no {key!r}' for key in _BEST_FIELDS
                    if not isinstance(record.get(key), _BEST_FIELDS[key])),
                   None) if isinstance(record, dict) else 'not an object'
  except (ValueError, UnicodeDecodeError) as e:
    problem = f'not JSON: {e}'
  if problem:
    raise RunDirectoryError(
        f'{path} is damaged ({problem}); delete the folder {best_dir(run_dir)} '
        '(training keeps a new best at its next validation), or put back the '
        f'{BEST_FILE} training wrote.')
  return record


def best_prefix(run_dir):
  """The prefix of the kept best checkpoint.

  Raises:
    FileNotFoundError: there is none (training ran without validate_every).
  """
  record = read_best(run_dir)
  if record is None:
    raise FileNotFoundError(
        f'No best checkpoint in {best_dir(run_dir)}: train with '
        '--validate_every=N to keep one.')
  return os.path.join(best_dir(run_dir), record['checkpoint'])


class BestCheckpoint:
  """Keeps the checkpoint of the best validation score (lowest NLL)."""

  def __init__(self, checkpoint, run_dir, record=None):
    """Keeps the best checkpoint in `best_dir(run_dir)`.

    Args:
      checkpoint: the `tf.train.Checkpoint` to save.
      run_dir: the run directory (a non-chief worker: its own folder).
      record: the best record so far (default: the one in `run_dir`).
    """
    self._dir = best_dir(run_dir)
    self._manager = tf.train.CheckpointManager(checkpoint, self._dir,
                                               max_to_keep=1)
    self.record = read_best(run_dir) if record is None else record

  def better(self, nll):
    """Whether `nll` beats the kept score."""
    return self.record is None or nll < self.record['nll']

  def keep(self, step, nll, stderr, num_images, num_samples):
    """Saves the current state as the best, with its score."""
    prefix = self._manager.save(checkpoint_number=step)
    self.record = {'checkpoint': os.path.basename(prefix), 'step': int(step),
                   'nll': float(nll), 'stderr': float(stderr),
                   'num_images': int(num_images),
                   'num_importance_samples': int(num_samples)}
    write_json_atomic(os.path.join(self._dir, BEST_FILE), self.record)
