"""Faults injected into training: nothing is lost but the last interval.

Every scenario runs in subprocesses (killed at seeded random points, killed
at fixed points inside a save, a damaged latest checkpoint, a deleted state
file, two trainings at once, a read-only directory, a full disk) and then
checks that the run resumes to weights bit-identical to an uninterrupted
run's, or stops with one clear line and nothing lost. The uninterrupted
reference run is shared by all of them. The children are forked from one
process that imported TensorFlow (`tests.forked_binaries`), except the
binaries that a test signals while they start or in a long call, which run
as programs of their own.
"""

import dataclasses
import glob
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from dvae_tf import run_directory
from dvae_tf import training
from tests import test_training
from tests.test_training import REPO

# test_training's tiny RBM-prior run, shorter and without AIS refreshes.
TRAIN = dataclasses.replace(test_training.TRAIN, num_steps=40, log_z_every=0)
# A child training process: argv[1] the model dir, argv[2] a fault to inject.
CHILD = f"""
import os, signal, sys
sys.path.insert(0, {REPO!r})
import tensorflow as tf
from tensorflow.python.checkpoint import checkpoint_management
from tests.test_faults import TRAIN
from tests.test_training import MODEL
from dvae_tf import training
from dvae_tf.binaries import cli
fault = sys.argv[2]
saves = []
if fault == 'kill_before_state_file':
  # After the second save's files are written, before its state file.
  record = checkpoint_management.CheckpointManager._record_state
  def killing_record(self):
    if len(saves) == 2:
      os.kill(os.getpid(), signal.SIGKILL)
    return record(self)
  checkpoint_management.CheckpointManager._record_state = killing_record
if fault in ('kill_before_state_file', 'kill_while_writing'):
  write = tf.train.Checkpoint._write
  def counting_write(self, prefix, *args, **kwargs):
    saves.append(prefix)
    if fault == 'kill_while_writing' and len(saves) == 2:
      # What a kill during the write leaves: a partial temporary folder.
      os.makedirs(prefix + '_temp', exist_ok=True)
      with open(os.path.join(prefix + '_temp', 'part-00000-of-00001.data-'
                             '00000-of-00001'), 'wb') as f:
        f.write(b'partial' * 1000)
      os.kill(os.getpid(), signal.SIGKILL)
    return write(self, prefix, *args, **kwargs)
  tf.train.Checkpoint._write = counting_write
if fault.startswith('fsize='):
  import resource
  limit = int(fault.split('=')[1])
  resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
config = TRAIN
if fault == 'long':
  import dataclasses
  config = dataclasses.replace(TRAIN, num_steps=10**6)
try:
  result = training.train(MODEL, config, sys.argv[1], verbose=False)
except cli.USER_ERRORS as e:
  print('error: ' + ' '.join(str(e).split()), file=sys.stderr)
  sys.exit(1)
print(result['step'])
"""


def child(server, run_dir, fault='none'):
  """CHILD training `run_dir` with `fault`, as a process of its own."""
  return server.start(['-c', CHILD, run_dir, fault])


def finish(proc, timeout=300):
  out, err = proc.communicate(timeout=timeout)
  return proc.returncode, out, err


def weights(run_dir):
  run = run_directory.restore_model(run_dir)
  return run.step, [v.numpy() for v in run.model.weights]


def assert_same_weights(run_dir, reference):
  step, values = weights(run_dir)
  assert step == reference[0]
  for value, expected in zip(values, reference[1]):
    np.testing.assert_array_equal(value, expected)


def checkpoint_steps(run_dir):
  return sorted(int(p.rsplit('-', 1)[1].split('.')[0]) for p in glob.glob(
      os.path.join(run_dir, 'checkpoints', 'ckpt-*.index')))


def no_leftovers(run_dir):
  return not glob.glob(os.path.join(run_dir, 'checkpoints', '*_temp*'))


@pytest.fixture(scope='module')
def reference(tmp_path_factory, server):
  """An uninterrupted run: its directory (read-only use) and final weights."""
  run_dir = str(tmp_path_factory.mktemp('reference') / 'run')
  code, out, err = finish(child(server, run_dir))
  assert code == 0, err[-3000:]
  return run_dir, weights(run_dir)


def copy_run(reference, tmp_path):
  run_dir = str(tmp_path / 'run')
  shutil.copytree(reference[0], run_dir)
  return run_dir


@pytest.mark.parametrize('seed', [1, 2])
def test_killed_at_random_points_resumes_exactly(
    reference, server, tmp_path, seed):
  """SIGKILL twice at seeded random times after the first checkpoint."""
  rng = random.Random(seed)
  run_dir = str(tmp_path / 'run')
  for _ in range(2):
    proc = child(server, run_dir)
    # Generous: on two loaded cores a child's start-up alone took over 2 min.
    deadline = time.time() + 420
    while not checkpoint_steps(run_dir) and proc.poll() is None:
      assert time.time() < deadline, f'seed {seed}: no checkpoint'
      time.sleep(0.02)
    delay = rng.uniform(0., 1.5)
    time.sleep(delay)
    proc.kill()
    proc.wait()
  code, out, err = finish(child(server, run_dir))
  assert code == 0, f'seed {seed}: {err[-3000:]}'
  assert_same_weights(run_dir, reference[1])


@pytest.mark.parametrize('fault', ['kill_before_state_file',
                                   'kill_while_writing'])
def test_killed_inside_a_save_resumes_exactly(
    reference, server, tmp_path, fault):
  run_dir = str(tmp_path / 'run')
  code, _, _ = finish(child(server, run_dir, fault))
  assert code == -signal.SIGKILL
  code, out, err = finish(child(server, run_dir))
  assert code == 0, err[-3000:]
  assert no_leftovers(run_dir)
  assert_same_weights(run_dir, reference[1])


def _truncate(path):
  with open(path, 'r+b') as f:
    f.truncate(os.path.getsize(path) // 2)


def _flip_bytes(path):
  with open(path, 'r+b') as f:
    f.seek(os.path.getsize(path) // 2)
    chunk = f.read(64)
    f.seek(os.path.getsize(path) // 2)
    f.write(bytes(b ^ 0xFF for b in chunk))


DAMAGE = {
    'truncated_data': lambda prefix: _truncate(
        glob.glob(prefix + '.data-*')[0]),
    'flipped_data': lambda prefix: _flip_bytes(
        glob.glob(prefix + '.data-*')[0]),
    'deleted_index': lambda prefix: os.remove(prefix + '.index'),
    'truncated_index': lambda prefix: _truncate(prefix + '.index'),
}


@pytest.mark.parametrize('damage', sorted(DAMAGE))
def test_damaged_latest_checkpoint_falls_back(
    reference, server, tmp_path, damage):
  """Training resumes from the checkpoint before it; evaluation refuses it
  in one line naming the fallback."""
  run_dir = copy_run(reference, tmp_path)
  latest = os.path.join(run_dir, 'checkpoints', 'ckpt-40')
  DAMAGE[damage](latest)
  with pytest.raises(ValueError, match=r'ckpt-40 cannot be read .*'
                     r'--checkpoint=ckpt-30'):
    run_directory.restore_model(run_dir)
  code, out, err = finish(child(server, run_dir))
  assert code == 0, err[-3000:]
  assert f'checkpoint {latest} cannot be read' in err
  assert 'falling back to ckpt-30' in err
  assert_same_weights(run_dir, reference[1])
  assert glob.glob(latest + '*.corrupt')


def test_deleted_state_file_finds_the_checkpoints(reference, server, tmp_path):
  run_dir = copy_run(reference, tmp_path)
  os.remove(os.path.join(run_dir, 'checkpoints', 'checkpoint'))
  for path in glob.glob(os.path.join(run_dir, 'checkpoints', 'ckpt-40*')):
    os.remove(path)
  code, out, err = finish(child(server, run_dir))
  assert code == 0, err[-3000:]
  assert checkpoint_steps(run_dir) == [20, 30, 40]
  assert_same_weights(run_dir, reference[1])
  assert tf.train.latest_checkpoint(
      os.path.join(run_dir, 'checkpoints')).endswith('ckpt-40')


def test_a_second_training_of_one_directory_is_refused(server, tmp_path):
  run_dir = str(tmp_path / 'run')
  first = child(server, run_dir, 'long')
  lock = os.path.join(run_dir, '.lock')
  deadline = time.time() + 120
  while not (os.path.exists(lock) and open(lock).read().strip()):
    assert first.poll() is None and time.time() < deadline
    time.sleep(0.02)
  code, out, err = finish(child(server, run_dir))
  first.kill()
  first.wait()
  assert code == 1
  lines = err.strip().splitlines()
  assert lines[-1].startswith('error: ') and f'process {first.pid}' in (
      lines[-1]), err[-2000:]


def test_a_full_disk_stops_with_a_clear_error(reference, server, tmp_path):
  """RLIMIT_FSIZE in the child: the next save fails, the previous stays."""
  run_dir = copy_run(reference, tmp_path)
  for path in glob.glob(os.path.join(run_dir, 'checkpoints', 'ckpt-40*')):
    os.remove(path)
  code, out, err = finish(child(server, run_dir, 'fsize=2000'))
  assert code == 1, err[-3000:]
  last = err.strip().splitlines()[-1]
  assert last.startswith('error: Could not save the checkpoint of step 40'), (
      err[-3000:])
  assert 'ckpt-30, is kept' in last
  assert checkpoint_steps(run_dir) == [20, 30]
  assert no_leftovers(run_dir)
  # Then, with room again, it resumes to the same weights.
  code, out, err = finish(child(server, run_dir))
  assert code == 0, err[-3000:]
  assert_same_weights(run_dir, reference[1])


def _bind_read_only(path):
  """Makes `path` read-only for root too; the reason if that is not allowed."""
  for command in (['mount', '--bind', path, path],
                  ['mount', '-o', 'remount,bind,ro', path]):
    try:
      result = subprocess.run(command, capture_output=True, text=True,
                              check=False)
    except FileNotFoundError:
      return 'no mount command'
    if result.returncode:
      if command[1] == '-o':
        subprocess.run(['umount', path], check=False)
      return (result.stderr.strip() or f'{command} failed').splitlines()[0]
  return None


def test_a_read_only_directory_is_refused_before_training(
    reference, server, tmp_path):
  run_dir = copy_run(reference, tmp_path)
  for path in glob.glob(os.path.join(run_dir, 'checkpoints', 'ckpt-40*')):
    os.remove(path)
  checkpoints = os.path.join(run_dir, 'checkpoints')
  reason = _bind_read_only(checkpoints)
  if reason:
    pytest.skip(f'a read-only bind mount is not permitted here ({reason})')
  try:
    code, out, err = finish(child(server, run_dir))
  finally:
    subprocess.run(['umount', checkpoints], check=False)
  assert code == 1
  assert err.strip().splitlines()[-1].startswith(
      f"error: Cannot write to '{checkpoints}'"), err[-2000:]
  assert checkpoint_steps(run_dir) == [20, 30]


def test_a_deleted_lock_file_does_not_admit_a_second_training(tmp_path):
  """The lock is on the folder: removing .lock while a training holds it
  changes nothing, and the line says another process (its pid went with the
  file), not 'process unknown'."""
  run_dir = str(tmp_path)
  with run_directory.RunLock(run_dir):
    os.remove(os.path.join(run_dir, run_directory.LOCK_FILE))
    with pytest.raises(run_directory.RunDirectoryError,
                       match='is being trained by another process'):
      with run_directory.RunLock(run_dir):
        pass
  with run_directory.RunLock(run_dir):  # Released with the first.
    pass


def test_a_changed_train_mean_is_refused(reference, tmp_path):
  """One pixel of train_mean.npy moved by 4e-7 would change every later
  weight silently; its recorded sha256 catches it."""
  run_dir = copy_run(reference, tmp_path)
  path = os.path.join(run_dir, run_directory.TRAIN_MEAN_FILE)
  mean = np.load(path)
  mean.flat[300] = np.nextafter(mean.flat[300], np.float32(1), dtype=mean.dtype)
  np.save(path, mean)
  with pytest.raises(ValueError, match='was changed after training wrote it'):
    run_directory.restore_model(run_dir)
  # Deleting both recomputes the same mean from the data.
  os.remove(path)
  os.remove(os.path.join(run_dir, run_directory.TRAIN_MEAN_CHECKSUM_FILE))
  assert_same_weights(run_dir, reference[1])


def test_a_resume_may_save_and_log_at_other_intervals(reference, tmp_path):
  """checkpoint_every and log_every change nothing computed: accepted on
  resume, noted in the record, and the weights are the uninterrupted run's."""
  run_dir = copy_run(reference, tmp_path)
  for path in glob.glob(os.path.join(run_dir, 'checkpoints', 'ckpt-40*')):
    os.remove(path)
  other = dataclasses.replace(TRAIN, checkpoint_every=5, log_every=2)
  assert training.train(test_training.MODEL, other, run_dir,
                        verbose=False)['step'] == TRAIN.num_steps
  assert checkpoint_steps(run_dir) == [30, 35, 40]
  with open(os.path.join(run_dir, run_directory.CONFIG_FILE)) as f:
    resumed = json.load(f)['resumed']
  assert resumed[-1]['changed'] == {'train.checkpoint_every': [10, 5],
                                    'train.log_every': [5, 2]}, resumed
  assert_same_weights(run_dir, reference[1])


def test_an_unwritable_tensorboard_folder_is_one_line(
    reference, server, tmp_path):
  """TensorFlow's events writer fails inside TensorFlow; the run says which
  folder and what to do, and resumes once it can write again."""
  run_dir = copy_run(reference, tmp_path)
  for path in glob.glob(os.path.join(run_dir, 'checkpoints', 'ckpt-40*')):
    os.remove(path)
  logs = os.path.join(run_dir, 'train')
  reason = _bind_read_only(logs)
  if reason:
    pytest.skip(f'a read-only bind mount is not permitted here ({reason})')
  try:
    code, out, err = finish(child(server, run_dir))
  finally:
    subprocess.run(['umount', logs], check=False)
  last = _one_error_line(code, err)
  assert last.startswith(
      f"error: Could not write to the run directory '{run_dir}'"), last
  assert 'the run resumes from its last checkpoint' in last
  code, out, err = finish(child(server, run_dir))
  assert code == 0, err[-3000:]
  assert_same_weights(run_dir, reference[1])


def test_a_file_size_limit_before_any_checkpoint_is_one_line(server, tmp_path):
  """The first record written (config.json) fails: one line, no traceback."""
  run_dir = str(tmp_path / 'run')
  code, _, err = finish(child(server, run_dir, 'fsize=100'))
  last = _one_error_line(code, err)
  assert last.startswith(
      f"error: Could not write to the run directory '{run_dir}' (File too "
      "large)"), last


def test_a_full_disk_at_the_first_checkpoint_says_none_is_kept(
    server, tmp_path):
  """The records fit under the limit, the first checkpoint does not: the
  line says a rerun starts from step 0, not that checkpoint None is kept."""
  run_dir = str(tmp_path / 'run')
  code, _, err = finish(child(server, run_dir, 'fsize=100000'))
  last = _one_error_line(code, err)
  assert last.startswith('error: Could not save the checkpoint of step '), last
  assert 'None' not in last, last
  assert 'there is no earlier checkpoint, so a rerun starts from step 0' in (
      last), last
  assert last.endswith('then rerun the same command to start again.'), last
  assert checkpoint_steps(run_dir) == []


def test_a_tensorboard_write_failure_names_the_whole_os_reason(tmp_path):
  """TensorFlow's message names a long events-file path before the OS's
  reason; the line keeps the reason whole, not a prefix cut at 200."""
  run_dir = str(tmp_path / ('r' * 150))
  message = (f'Failed to create a NewWriteableFile: {run_dir}/train/events.'
             'out.tfevents.1796521841.host.9870.0.v2 : Read-only file system')
  with pytest.raises(run_directory.RunDirectoryError) as raised:
    with run_directory.write_failures_as_one_line(run_dir):
      raise tf.errors.PermissionDeniedError(None, None, 'WriteSummary: ' +
                                            message)
  assert '(Read-only file system);' in str(raised.value), str(raised.value)


def test_a_damaged_best_record_is_one_line(reference, tmp_path):
  run_dir = copy_run(reference, tmp_path)
  best = run_directory.best_dir(run_dir)
  os.makedirs(best, exist_ok=True)
  path = os.path.join(best, run_directory.BEST_FILE)
  for text, problem in (('{}', "no 'checkpoint'"),
                        ('{"checkpoint": "ckpt-20", "step": 20, "nll": "x"}',
                         "no 'nll'"),
                        ('{"checkpoint": "ckpt-2', 'not JSON'),
                        ('[]', 'not an object')):
    with open(path, 'w') as f:
      f.write(text)
    with pytest.raises(run_directory.RunDirectoryError) as e:
      run_directory.read_best(run_dir)
    assert str(e.value).startswith(f'{path} is damaged ({problem}'), e.value
    assert f'delete the folder {best}' in str(e.value)


def _edit_record(run_dir, part, field, value, keep_checksum):
  path = os.path.join(run_dir, run_directory.CONFIG_FILE)
  with open(path) as f:
    record = json.load(f)
  record[part][field] = value
  with open(path, 'w') as f:
    json.dump(record, f)
  if not keep_checksum:  # A deliberate edit, or a run older than checksums.
    os.remove(os.path.join(run_dir, run_directory.CONFIG_CHECKSUM_FILE))


def test_an_edited_model_config_with_matching_flags_is_refused(reference,
                                                                tmp_path):
  """config.json (its checksum deleted) and the flags agree with each other
  but not with the checkpoints: the same check as restoring, before
  TensorFlow's restore."""
  run_dir = copy_run(reference, tmp_path)
  _edit_record(run_dir, 'model', 'units_per_group', 9, keep_checksum=False)
  edited = dataclasses.replace(test_training.MODEL, units_per_group=9)
  with pytest.raises(ValueError, match='does not describe the model of .*'
                     'ckpt-40: weight 0 .* Was it edited'):
    training.train(edited, TRAIN, run_dir, verbose=False)


def test_an_edited_seed_with_matching_flags_is_refused(reference, tmp_path):
  """The checkpoints fit any seed, so only the record's checksum tells that
  config.json no longer says how they were trained; evaluation refuses it
  too, and deleting the checksum accepts the edit."""
  run_dir = copy_run(reference, tmp_path)
  _edit_record(run_dir, 'train', 'seed', TRAIN.seed + 1, keep_checksum=True)
  reseeded = dataclasses.replace(TRAIN, seed=TRAIN.seed + 1)
  changed = 'config.json was changed after training wrote it .*config.sha256'
  with pytest.raises(ValueError, match=changed):
    training.train(test_training.MODEL, reseeded, run_dir, verbose=False)
  with pytest.raises(ValueError, match=changed):
    run_directory.restore_model(run_dir)
  os.remove(os.path.join(run_dir, run_directory.CONFIG_CHECKSUM_FILE))
  assert run_directory.load_run_config(run_dir)[1] == reseeded


def test_sigterm_exits_with_the_requeue_status(server, tmp_path):
  """bin/train.py stopped by SIGTERM saves, says so and exits 75, not 0."""
  run_dir = str(tmp_path / 'run')
  proc = server.start(
      ['train.py', '--dataset=sample', '--struct=2-layer-lin', '--prior=rbm',
       '--units_per_group=8', '--num_chains=16', '--num_gibbs_sweeps=2',
       '--num_steps=100000', '--batch_size=20', '--checkpoint_every=10',
       '--image_every=0', '--log_z_every=0', '--nojit_compile',
       f'--run_dir={run_dir}'])
  deadline = time.time() + 120
  while not checkpoint_steps(run_dir):
    assert proc.poll() is None and time.time() < deadline
    time.sleep(0.02)
  proc.send_signal(signal.SIGTERM)
  code, out, err = finish(proc)
  assert code == 75, err[-3000:]
  stopped = json.loads(out.strip().splitlines()[-2])
  assert stopped['stopped_by'] == 'SIGTERM'
  assert checkpoint_steps(run_dir)[-1] == stopped['step']
  assert 'rerun the same command to resume' in err


def test_records_are_written_with_the_usual_permissions(tmp_path):
  path = str(tmp_path / 'record.json')
  run_directory.write_json_atomic(path, {'a': 1})
  umask = os.umask(0)
  os.umask(umask)
  assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask
  assert json.load(open(path)) == {'a': 1}
  assert os.listdir(tmp_path) == ['record.json']


def _run_bin(server, name, *args, limit=None):
  """A binary's (status, stdout, stderr); `limit`: RLIMIT_FSIZE in bytes."""
  out = server.run([name, *args], timeout=300, fsize=limit)
  return out.returncode, out.stdout, out.stderr


EVALUATE = ('--num_importance_samples=2', '--max_images=10', '--batch_size=5')


def _one_error_line(code, err):
  assert code == 1, err[-3000:]
  assert 'Traceback' not in err, err[-3000:]
  return err.strip().splitlines()[-1]


def test_a_read_only_run_directory_gives_one_line_each(
    reference, server, tmp_path):
  """Evaluate, sample and export refuse the folder before working."""
  run_dir = copy_run(reference, tmp_path)
  reason = _bind_read_only(run_dir)
  if reason:
    pytest.skip(f'a read-only bind mount is not permitted here ({reason})')
  try:
    code, out, err = _run_bin(server, 'evaluate.py', f'--run_dir={run_dir}',
                              *EVALUATE)
    sample = _run_bin(server, 'sample.py', f'--run_dir={run_dir}',
                      f'--output={run_dir}/samples.png')
    export = _run_bin(server, 'export.py', f'--run_dir={run_dir}',
                      f'--export_dir={run_dir}/export')
  finally:
    subprocess.run(['umount', run_dir], check=False)
  last = _one_error_line(code, err)
  assert last.startswith(f"error: Cannot write to '{run_dir}' (Read-only "
                         "file system)"), err[-2000:]
  assert 'nothing has been scored' in last
  assert not out.strip()
  assert not os.path.exists(os.path.join(run_dir, 'eval_test.json'))
  for (code, _, err), folder in ((sample, run_dir),
                                 (export, f'{run_dir}/export')):
    assert _one_error_line(code, err).startswith(
        f"error: Cannot write to '{folder}' (Read-only file system)"), (
            err[-2000:])


def test_a_full_disk_keeps_the_previous_evaluation(reference, server, tmp_path):
  """RLIMIT_FSIZE during a second evaluation: one line, the NLL printed,
  and the first evaluation's two files left whole and consistent."""
  run_dir = copy_run(reference, tmp_path)
  code, out, err = _run_bin(server, 'evaluate.py', f'--run_dir={run_dir}',
                            *EVALUATE)
  assert code == 0, err[-3000:]
  json_path = os.path.join(run_dir, 'eval_test.json')
  nll_path = os.path.join(run_dir, 'eval_test_nll.npy')
  before = (open(json_path).read(), np.load(nll_path))
  code, out, err = _run_bin(server, 'evaluate.py', f'--run_dir={run_dir}',
                            *EVALUATE, '--seed=1', limit=100)
  assert _one_error_line(code, err).startswith(
      'error: Cannot write the evaluation to'), err[-2000:]
  assert 'result is printed above' in err
  assert json.loads(out.strip().splitlines()[-1])['nll'] > 0
  assert open(json_path).read() == before[0]
  np.testing.assert_array_equal(np.load(nll_path), before[1])
  assert sorted(f for f in os.listdir(run_dir) if f.startswith(
      ('eval', '.eval'))) == ['eval_test.json', 'eval_test_nll.npy']


def test_compare_with_a_damaged_evaluation_is_one_line(
    reference, server, tmp_path):
  run_dir = copy_run(reference, tmp_path)
  code, _, err = _run_bin(server, 'evaluate.py', f'--run_dir={run_dir}',
                          *EVALUATE)
  assert code == 0, err[-3000:]
  _truncate(os.path.join(run_dir, 'eval_test_nll.npy'))
  code, _, err = _run_bin(server, 'evaluate.py', f'--run_dir={run_dir}',
                          *EVALUATE, f'--compare_with={run_dir}')
  last = _one_error_line(code, err)
  assert last.startswith(f"error: compare_with: the evaluation of "
                         f"'{run_dir}' cannot be read"), last
  assert 'evaluate it again' in last


@pytest.mark.parametrize('record', ['{}', '{"nll": 1.0, "num_images": '
                                    '"10", "num_importance_samples": 2}'])
def test_compare_with_a_record_without_its_numbers_is_damaged(tmp_path,
                                                              record):
  """An empty or mistyped record was reported as 'evaluated with
  num_images=None'; it is a damaged evaluation, to evaluate again."""
  from dvae_tf.evaluation import report  # pylint: disable=g-import-not-at-top
  json_path, nll_path = report.evaluation_paths(str(tmp_path), 'test')
  with open(json_path, 'w') as f:
    f.write(record)
  np.save(nll_path, np.zeros(10))
  with pytest.raises(ValueError, match=(
      r"compare_with: the evaluation of '.*' cannot be read: .*eval_test\.json "
      r'\(ValueError: no number for (nll, )?num_images.*evaluate it again')):
    report.baseline_nll(str(tmp_path), 'test', {'num_images': 10,
                                                'num_importance_samples': 2})


def test_a_stray_state_file_copy_is_removed(reference, server, tmp_path):
  """What a kill during the write of the `checkpoint` state file leaves."""
  run_dir = copy_run(reference, tmp_path)
  stray = os.path.join(run_dir, 'checkpoints',
                       'checkpoint.tmp0123456789abcdef')
  with open(stray, 'w') as f:
    f.write('model_checkpoint_path: "ckpt-')
  code, out, err = finish(child(server, run_dir))
  assert code == 0, err[-3000:]
  assert not os.path.exists(stray)
  # The resume rewrote the state file without TensorFlow's deprecation lines.
  assert 'deprecated' not in err, err[-3000:]


@pytest.mark.parametrize('binary,sig', [('sample.py', signal.SIGINT),
                                        ('train.py', signal.SIGTERM)])
def test_a_signal_while_starting_is_one_line(tmp_path, binary, sig):
  """Before TensorFlow has been imported: no traceback, no silent exit, and
  a training has made nothing yet."""
  run_dir = str(tmp_path / 'run')
  proc = subprocess.Popen(
      [sys.executable, os.path.join(REPO, 'bin', binary),
       f'--run_dir={run_dir}', '--dataset=sample'][:3 if binary == 'train.py'
                                                    else 2],
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  time.sleep(1.5)
  assert proc.poll() is None
  proc.send_signal(sig)
  code, out, err = finish(proc, timeout=120)
  assert code == 75, err[-3000:]
  assert 'Traceback' not in err
  assert err.strip().splitlines()[-1] == (
      f'error: stopped by {signal.Signals(sig).name} before finishing; rerun '
      'the same command (nothing saved is lost: a training resumes from its '
      'last checkpoint, an evaluation after its last saved batch).')
  assert not os.path.exists(run_dir)


def test_a_signal_during_a_long_evaluation_batch_stops_within_seconds(
    reference, tmp_path):
  """One batch at k = 1e9 is a single TensorFlow call of many minutes;
  Python would run the SIGINT handler only after it. The binary still stops
  within its grace period, with the one line and the status to rerun."""
  from dvae_tf import binaries  # pylint: disable=g-import-not-at-top
  run_dir = copy_run(reference, tmp_path)
  proc = subprocess.Popen(
      [sys.executable, os.path.join(REPO, 'bin', 'evaluate.py'),
       f'--run_dir={run_dir}', '--num_importance_samples=1000000000',
       '--max_images=1', '--batch_size=1'],
      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
  try:
    out = bytearray()
    deadline = time.monotonic() + 240
    while b'0/1' not in out:  # The progress bar: the batch has started.
      assert proc.poll() is None and time.monotonic() < deadline, out
      out += os.read(proc.stdout.fileno(), 4096)
    time.sleep(2.)
    proc.send_signal(signal.SIGINT)
    start = time.monotonic()
    _, err = proc.communicate(timeout=60)
    assert time.monotonic() - start < binaries.STOP_GRACE_S + 15
  finally:
    if proc.poll() is None:
      proc.kill()
      proc.wait()
  err = err.decode()
  assert proc.returncode == 75, err[-3000:]
  assert 'Traceback' not in err
  assert err.strip().splitlines()[-1].startswith(
      'error: stopped by SIGINT before finishing; rerun the same command')
