"""The files an evaluation leaves in its run directory, through faults.

In-process: a read-only run directory (simulated, so that it holds when the
tests run as root, whom permissions do not stop), a full disk and a crash in
the middle of the final write, a damaged record read by `compare_with`, and
an evaluation interrupted after some batches and run again.
"""

import errno
import json
import os
import shutil
import tempfile

import numpy as np
import pytest

from dvae_tf import models
from dvae_tf import run_directory
from dvae_tf import training
from dvae_tf.evaluation import report

SETTINGS = dict(num_importance_samples=2, max_images=15, batch_size=5)
Partial = report._Partial  # pylint: disable=protected-access


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
  run_dir = str(tmp_path_factory.mktemp('evaluation') / 'run')
  training.train(models.ModelConfig(struct='1-layer-lin', units_per_group=8),
                 training.TrainConfig(dataset='sample', num_steps=2,
                                      batch_size=10, image_every=0,
                                      log_z_every=0),
                 run_dir, verbose=False)
  return run_dir


@pytest.fixture
def run_dir(trained, tmp_path):
  copy = str(tmp_path / 'run')
  shutil.copytree(trained, copy)
  return copy


def _files(run_dir):
  json_path, nll_path = report.evaluation_paths(run_dir, 'test')
  with open(json_path) as f:
    return f.read(), np.load(nll_path)


def _path_of(fd):
  return os.readlink(f'/proc/self/fd/{fd}')


def test_a_read_only_run_directory_is_refused_before_scoring(
    run_dir, monkeypatch):
  """Files cannot be made in it: one error, and no image is scored."""
  def read_only(make):
    def refuse(*args, dir=None, **kwargs):  # pylint: disable=redefined-builtin
      if dir and os.path.abspath(dir) == run_dir:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))
      return make(*args, dir=dir, **kwargs)
    return refuse
  for name in ('TemporaryFile', 'mkstemp'):
    monkeypatch.setattr(tempfile, name, read_only(getattr(tempfile, name)))

  def scored(*args, **kwargs):
    raise AssertionError('images were scored')
  monkeypatch.setattr(report.evaluation, 'per_image_nll', scored)
  with pytest.raises(run_directory.RunDirectoryError) as error:
    report.evaluate_run(run_dir, **SETTINGS)
  assert str(error.value).startswith(
      f"Cannot write to '{run_dir}' (Read-only file system)")
  assert 'nothing has been scored' in str(error.value)


def test_a_full_disk_in_the_final_write_keeps_the_previous_pair(
    run_dir, monkeypatch):
  """ENOSPC while the record is written, after the NLLs were: both old."""
  report.evaluate_run(run_dir, **SETTINGS)
  before = _files(run_dir)
  fsync = os.fsync

  def full_disk(fd):
    if os.path.basename(_path_of(fd)).startswith('.eval_test.json'):
      raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    return fsync(fd)
  monkeypatch.setattr(os, 'fsync', full_disk)
  with pytest.raises(report.EvaluationWriteError) as error:
    report.evaluate_run(run_dir, seed=1, **SETTINGS)
  assert 'No space left on device' in str(error.value)
  after = _files(run_dir)
  assert after[0] == before[0]
  np.testing.assert_array_equal(after[1], before[1])
  assert not [f for f in os.listdir(run_dir) if f.startswith('.eval')]


def test_a_crash_between_the_renames_is_caught_when_compared(
    run_dir, monkeypatch):
  """New NLLs beside the old record: `compare_with` names the mismatch."""
  report.evaluate_run(run_dir, **SETTINGS)
  replace = os.replace

  def crash(source, target):
    if target.endswith('eval_test.json'):
      raise OSError(errno.EIO, 'simulated crash')
    return replace(source, target)
  monkeypatch.setattr(os, 'replace', crash)
  with pytest.raises(report.EvaluationWriteError):
    report.evaluate_run(run_dir, seed=1, **SETTINGS)
  monkeypatch.undo()
  json_path, nll_path = report.evaluation_paths(run_dir, 'test')
  with pytest.raises(ValueError) as error:
    report.baseline_nll(run_dir, 'test', {'num_images': 15})
  assert str(error.value).startswith(
      f'compare_with: {nll_path} does not go with {json_path}')
  assert f'evaluate it again: bin/evaluate.py --run_dir={run_dir}' in str(
      error.value)


@pytest.mark.parametrize('damage', ['{"nll": ', '[1, 2]'])
def test_compare_with_a_damaged_record_names_the_file(run_dir, damage):
  report.evaluate_run(run_dir, **SETTINGS)
  json_path, _ = report.evaluation_paths(run_dir, 'test')
  with open(json_path, 'w') as f:
    f.write(damage)
  with pytest.raises(ValueError) as error:
    report.baseline_nll(run_dir, 'test', {'num_images': 15})
  message = str(error.value)
  assert len(message.splitlines()) == 1
  assert f'cannot be read: {json_path} (' in message, message
  assert 'evaluate it again' in message


def test_an_interrupted_evaluation_resumes_where_it_stopped(
    run_dir, trained, monkeypatch, tmp_path):
  """Stopped after its first batch was saved: the rerun scores the other
  two and gives the uninterrupted evaluation's NLLs."""
  reference = str(tmp_path / 'reference')
  shutil.copytree(trained, reference)
  report.evaluate_run(reference, **SETTINGS)
  save = Partial.save

  def stop_after_saving(self, nll):
    save(self, nll)
    raise KeyboardInterrupt
  monkeypatch.setattr(Partial, 'save', stop_after_saving)
  with pytest.raises(KeyboardInterrupt):
    report.evaluate_run(run_dir, **SETTINGS)
  monkeypatch.undo()
  partial = report.partial_path(run_dir, 'test')
  assert os.path.exists(partial)
  resumed_from = []
  per_image_nll = report.evaluation.per_image_nll

  def spy(*args, scored=(), **kwargs):
    resumed_from.append(len(scored))
    return per_image_nll(*args, scored=scored, **kwargs)
  monkeypatch.setattr(report.evaluation, 'per_image_nll', spy)
  result = report.evaluate_run(run_dir, **SETTINGS)
  assert resumed_from == [5]
  assert not os.path.exists(partial)
  expected = _files(reference)
  np.testing.assert_array_equal(_files(run_dir)[1], expected[1])
  assert result['nll'] == json.loads(expected[0])['nll']
  # Other settings do not resume from it.
  report.evaluate_run(run_dir, seed=1, **SETTINGS)
  assert resumed_from == [5, 0]


def test_a_damaged_or_foreign_progress_file_is_scored_again(
    tmp_path, monkeypatch, capsys):
  partial = Partial(str(tmp_path), 'test', {'seed': 0}, enabled=True)
  with open(partial.path, 'wb') as f:
    f.write(b'not an archive')
  assert len(partial.load()) == 0
  Partial(str(tmp_path), 'test', {'seed': 1}, True).save(np.ones([5]))
  assert len(partial.load()) == 0
  partial.save(np.ones([5]))
  np.testing.assert_array_equal(partial.load(), np.ones([5]))

  def full_disk(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
  monkeypatch.setattr(run_directory, 'write_atomic', full_disk)
  partial.save(np.ones([10]))
  partial.save(np.ones([15]))
  warnings = [l for l in capsys.readouterr().err.splitlines()
              if l.startswith('warning: cannot save the progress')]
  assert len(warnings) == 1 and 'No space left on device' in warnings[0]
  np.testing.assert_array_equal(partial.load(), np.ones([5]))
