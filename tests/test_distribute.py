"""Training and evaluation on several replicas and several worker processes.

Two logical CPU devices in one process (MirroredStrategy) stand in for two
GPUs, and two local processes with TF_CONFIG for a two-host cluster; both
must give what the single-host rules promise: the same global batches, the
same per-replica seeds, every replica's persistent chains in the checkpoint,
and evaluation that does not depend on where an image is scored. Every such
process is forked from one that imported TensorFlow (`tests.forked_binaries`).
"""

import dataclasses
import json
import os
import signal
import socket
import time

import numpy as np
import pytest

from dvae_tf import distribute
from dvae_tf import run_directory
from tests import test_training
from tests.test_training import REPO

# test_training's tiny RBM-prior run (MODEL), with validation.
TRAIN = dataclasses.replace(test_training.TRAIN, log_every=10, log_z_every=30,
                            validate_every=30, validation_images=40,
                            validation_samples=5)
# Weights of two workers against two devices of one process after
# TRAIN's steps. Not bit-identical on CPUs: the thread partition of a
# matrix product, hence its float32 rounding, depends on how many replicas
# share a process (about 1e-7 after 40 steps); a resume that lost state or
# shifted a seed or a batch moves the weights by 1e-3 or more.
WEIGHT_ATOL = 2e-5
# How long a survivor may take to notice a lost peer (the coordination
# service's heartbeat timeout, about half a minute, plus a loaded machine).
LOST_PEER_SECONDS = 150
# Per-image NLLs of a distributed evaluation against one device: float32
# rounding of the same computation on another device.
NLL_RTOL = 1e-5

PRELUDE = f"""
import json, os, sys
sys.path.insert(0, {REPO!r})
from dvae_tf import distribute
STRATEGY = (distribute.make_strategy('mirrored', cpu_devices=2)
            if sys.argv[2] == 'mirrored' else distribute.make_strategy(sys.argv[2]))
import numpy as np
from dvae_tf import run_directory, training
from dvae_tf.evaluation import report as evaluation_report
from tests.test_distribute import TRAIN
from tests.test_training import MODEL
"""
_TRAIN_AND_EVALUATE = """
result = training.train(MODEL, TRAIN, sys.argv[1], strategy=STRATEGY,
                        verbose=False)
evaluation_report.evaluate_run(sys.argv[1], num_importance_samples=7,
                               batch_size=30, max_images=100, ais_chains=50,
                               ais_temperatures=50, strategy=STRATEGY)
print(json.dumps(result))
"""
TRAIN_SCRIPT = PRELUDE + _TRAIN_AND_EVALUATE
# The chief writes its last checkpoint 5 s late: a worker that went on to
# evaluate without waiting for it would score the checkpoint before.
SLOW_LAST_SAVE_SCRIPT = PRELUDE + """
import time
import tensorflow as tf
_save = tf.train.CheckpointManager.save
def _slow_save(self, *args, **kwargs):
  if (distribute.is_chief(STRATEGY) and
      kwargs.get('checkpoint_number') == TRAIN.num_steps):
    time.sleep(5)
  return _save(self, *args, **kwargs)
tf.train.CheckpointManager.save = _slow_save
""" + _TRAIN_AND_EVALUATE


def _free_ports(count):
  sockets = [socket.socket() for _ in range(count)]
  for s in sockets:
    s.bind(('localhost', 0))
  ports = [s.getsockname()[1] for s in sockets]
  for s in sockets:
    s.close()
  return ports


# What the `server` fixture's process imports before it forks a child
# (tests/conftest.py): TensorFlow and the library, nothing of the binaries.
FORKED_IMPORTS = ('tensorflow', 'tensorflow_probability', 'dvae_tf.training',
                  'dvae_tf.evaluation.report')


def _start_workers(server, run_dir, ports, command=None, indices=None):
  """Workers `indices` (default all) of a cluster on `ports`, each running
  `command` (as `server.start` takes it; default TRAIN_SCRIPT), stdout and
  stderr together."""
  cluster = {'worker': [f'localhost:{p}' for p in ports]}
  command = command or ['-c', TRAIN_SCRIPT, run_dir, 'multi_worker']
  procs = []
  for index in (range(len(ports)) if indices is None else indices):
    env = dict(os.environ, TF_CONFIG=json.dumps(
        {'cluster': cluster, 'task': {'type': 'worker', 'index': index}}))
    procs.append(server.start(command, env=env, stderr_to_stdout=True))
  return procs


def _train_command(run_dir, *flags):
  return ['train.py', '--preset=demo', '--dataset=sample',
          '--strategy=multi_worker', '--nojit_compile', f'--run_dir={run_dir}',
          *flags]


def test_a_worker_that_never_arrives_ends_the_other_with_one_line(server,
                                                                  tmp_path):
  """Worker 0 of two, alone: after --cluster_timeout one line saying to
  start every worker, not a silent wait (TensorFlow's own has no end)."""
  start = time.monotonic()
  (proc,) = _start_workers(server, str(tmp_path), _free_ports(2),
                           _train_command(str(tmp_path / 'run'),
                                          '--cluster_timeout=5'), indices=[0])
  output = proc.communicate(timeout=300)[0]
  assert proc.returncode == -signal.SIGKILL, output[-3000:]
  assert time.monotonic() - start < 240
  lines = output.strip().splitlines()
  assert lines[-1].startswith(
      'error: the cluster of TF_CONFIG (2 tasks) did not connect within 5 s '
      '(this is worker 0); start every worker'), output[-3000:]
  assert 'Traceback' not in output


def test_a_lost_chief_ends_the_other_worker_with_one_line(server, tmp_path):
  """kill -9 of the chief after its first checkpoint: dvae-train on the
  other worker ends by itself with one line naming the lost task."""
  run_dir = str(tmp_path)
  procs = _start_workers(server, run_dir, _free_ports(2), _train_command(
      run_dir, '--num_steps=100000', '--checkpoint_every=10'))
  _wait_for_checkpoint(run_dir, procs, 10)
  procs[0].send_signal(signal.SIGKILL)
  output = procs[1].communicate(timeout=LOST_PEER_SECONDS)[0]
  procs[0].wait()
  assert procs[1].returncode == 1, output[-3000:]
  assert 'Traceback' not in output, output[-3000:]
  line = output.strip().splitlines()[-1]
  assert line.startswith('error: training lost its cluster: task(s) worker 0 '
                         'stopped answering ('), output[-3000:]
  assert line.endswith('); stop every worker and start them all again with '
                       'the same commands; the run resumes from its last '
                       'checkpoint.'), output[-3000:]


LOST_BEFORE_BARRIER_SCRIPT = PRELUDE + """
if not distribute.is_chief(STRATEGY):
  os._exit(0)  # Gone before the barrier, as a crashed worker would be.
with distribute.peers_lost_as_one_line(STRATEGY, 'evaluation'):
  distribute.barrier(STRATEGY)
"""


def test_a_worker_lost_before_a_barrier_is_one_line(server, tmp_path):
  """The coordination service fails the barrier when a peer's heartbeats
  stop (an InternalError): the survivor ends with the one-line
  `ClusterError` naming it, as for a lost collective."""
  procs = _start_workers(server, str(tmp_path), _free_ports(2), [
      '-c', LOST_BEFORE_BARRIER_SCRIPT, str(tmp_path), 'multi_worker'])
  output = procs[0].communicate(timeout=LOST_PEER_SECONDS)[0]
  procs[1].wait()
  assert procs[0].returncode == 1, output[-3000:]
  assert ('ClusterError: evaluation lost its cluster: task(s) worker 1 '
          'stopped answering (UnavailableError)') in output, output[-3000:]


def _newest_step(run_dir):
  found = run_directory.checkpoints_on_disk(
      run_directory.checkpoint_dir(run_dir))
  return found[0][0] if found else 0


def _wait_for_checkpoint(run_dir, procs, step):
  """Waits (up to 10 minutes) until `run_dir` holds a checkpoint at `step`
  or later, every worker of `procs` still running."""
  deadline = time.time() + 600
  while _newest_step(run_dir) < step and time.time() < deadline:
    assert all(p.poll() is None for p in procs), procs[0].output()[0]
    time.sleep(0.05)


def _weights(run_dir):
  run = run_directory.restore_model(run_dir)
  # In model order: restoring twice in one process renames the layers.
  return run.step, [(v.path, v.numpy()) for v in run.model.weights]


@pytest.fixture(scope='module')
def mirrored_run(tmp_path_factory, server):
  """The reference: one process, two logical devices, no interruption."""
  run_dir = str(tmp_path_factory.mktemp('mirrored'))
  out = server.run(['-c', TRAIN_SCRIPT, run_dir, 'mirrored'], timeout=900)
  assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
  return run_dir


def test_strategy_errors_are_one_clear_line(monkeypatch):
  with pytest.raises(distribute.StrategyError, match='not one of'):
    distribute.make_strategy('tpu')
  with pytest.raises(distribute.StrategyError, match='mirrored only'):
    distribute.make_strategy('default', cpu_devices=2)
  monkeypatch.delenv('TF_CONFIG', raising=False)
  with pytest.raises(distribute.StrategyError, match='TF_CONFIG'):
    distribute.make_strategy('multi_worker')
  monkeypatch.setenv('TF_CONFIG', '{"cluster": ')
  with pytest.raises(distribute.StrategyError, match='not a cluster'):
    distribute.make_strategy('multi_worker')
  monkeypatch.setenv('TF_CONFIG', json.dumps(
      {'cluster': {'worker': ['localhost:1']},
       'task': {'type': 'worker', 'index': 1}}))
  with pytest.raises(distribute.StrategyError, match='not in its cluster'):
    distribute.make_strategy('multi_worker')


def test_asking_for_gpus_that_are_not_there_is_an_error(server, tmp_path):
  """No silent fallback to one CPU replica: --strategy=mirrored needs GPUs."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  if tf.config.list_physical_devices('GPU'):
    pytest.skip('this machine has GPUs')
  procs = [server.start(['train.py', flag, '--preset=demo',
                         f'--run_dir={tmp_path}'])
           for flag in ('--strategy=mirrored', '--multi_gpu')]
  for proc in procs:
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 1, stderr[-2000:]
    errors = [l for l in stderr.splitlines() if l.startswith('error:')]
    assert len(errors) == 1 and 'GPUs' in errors[0], stderr[-2000:]
    assert 'Traceback' not in stderr
  assert not os.listdir(tmp_path)


def test_replicas_get_their_rows_of_the_global_batch():
  assert distribute.replica_rows(20, 1, 2) == (10, 10)
  assert distribute.replica_rows(16, 3, 4) == (12, 4)


def test_checkpoints_hold_every_replicas_chains(mirrored_run):
  """Both halves of the saved chains moved away from their initial state,
  each by its own replica's Gibbs sweeps."""
  from dvae_tf.distributions import persistent_chains  # pylint: disable=import-outside-toplevel
  _, weights = _weights(mirrored_run)
  state = [v for k, v in weights if k.endswith('state')]
  assert len(state) == 1
  initial = persistent_chains.PersistentChains(16, state[0].shape[1]).state
  initial = np.asarray(initial.numpy())
  for half in (slice(0, 8), slice(8, 16)):
    assert not np.array_equal(state[0][half], initial[half])
  # A single-device restore (another replica count) reads the run back.
  assert _weights(mirrored_run)[0] == TRAIN.num_steps


def test_two_workers_killed_and_restarted_equal_two_local_replicas(
    server, mirrored_run, tmp_path):
  """Kill one worker mid-run, restart the cluster: it resumes from the last
  checkpoint and ends with the weights of the uninterrupted two-device run;
  its distributed evaluation equals the single-process one image by image."""
  run_dir = str(tmp_path)
  procs = _start_workers(server, run_dir, _free_ports(2))
  _wait_for_checkpoint(run_dir, procs, 20)
  procs[1].send_signal(signal.SIGKILL)
  # The chief's collectives fail once the coordination service misses its
  # peer's heartbeats, and it ends by itself with the one-line error.
  chief_output = procs[0].communicate(timeout=LOST_PEER_SECONDS)[0]
  procs[1].wait()
  assert procs[0].returncode == 1, chief_output[-3000:]
  assert ('ClusterError: training lost its cluster: task(s) worker 1 stopped '
          'answering') in chief_output, chief_output[-3000:]
  assert _newest_step(run_dir) < TRAIN.num_steps, (
      'the kill came after the end')

  procs = _start_workers(server, run_dir, _free_ports(2))
  outputs = [p.communicate(timeout=900)[0] for p in procs]
  for p, output in zip(procs, outputs):
    assert p.returncode == 0, output[-3000:]
  assert 'Resuming from step' not in outputs[1]  # Not verbose off the chief.
  assert '.worker-1' not in os.listdir(run_dir)  # Deleted after saves.
  step, weights = _weights(run_dir)
  reference_step, reference = _weights(mirrored_run)
  assert step == reference_step == TRAIN.num_steps
  for (name, value), (_, expected) in zip(weights, reference):
    np.testing.assert_allclose(value, expected, rtol=0, atol=WEIGHT_ATOL,
                               err_msg=name)
  with open(os.path.join(run_dir, 'checkpoints', 'best', 'best.json')) as f:
    best = json.load(f)
  with open(os.path.join(mirrored_run, 'checkpoints', 'best',
                         'best.json')) as f:
    assert best['step'] == json.load(f)['step']
  np.testing.assert_allclose(
      np.load(os.path.join(run_dir, 'eval_test_nll.npy')),
      np.load(os.path.join(mirrored_run, 'eval_test_nll.npy')), rtol=NLL_RTOL)


def test_workers_evaluate_the_checkpoint_the_chief_saved_last(
    server, mirrored_run, tmp_path):
  """Train then evaluate on two workers, the chief's last save 5 s late:
  training ends on every worker only once that save is on disk
  (`distribute.barrier`), so both score the last checkpoint (without the
  barrier, worker 1 scored the one before it: its batches, images 30-59
  and 90-99, differed from one device's)."""
  run_dir = str(tmp_path)
  procs = _start_workers(server, run_dir, _free_ports(2), [
      '-c', SLOW_LAST_SAVE_SCRIPT, run_dir, 'multi_worker'])
  outputs = [p.communicate(timeout=900)[0] for p in procs]
  for p, output in zip(procs, outputs):
    assert p.returncode == 0, output[-3000:]
  np.testing.assert_allclose(
      np.load(os.path.join(run_dir, 'eval_test_nll.npy')),
      np.load(os.path.join(mirrored_run, 'eval_test_nll.npy')), rtol=NLL_RTOL)


EVAL_SCRIPT = PRELUDE + """
import tensorflow as tf
from dvae_tf.evaluation import bound as evaluation
run = run_directory.restore_model(sys.argv[1], strategy=STRATEGY)
images = np.random.default_rng(0).uniform(size=(77, 28, 28, 1)) < 0.3
images = images.astype(np.float32)
one = evaluation.per_image_nll(run.model, images, 9, batch_size=10, seed=3,
                               strategy=tf.distribute.get_strategy())
two = evaluation.per_image_nll(run.model, images, 9, batch_size=10, seed=3,
                               strategy=STRATEGY)
np.testing.assert_allclose(two, one, rtol=RTOL)
np.testing.assert_array_equal(
    evaluation.per_image_nll(run.model, images[:30], 9, batch_size=10,
                             seed=3, strategy=STRATEGY), two[:30])
# Resumed after three batches (an odd round start): the same values.
np.testing.assert_allclose(
    evaluation.per_image_nll(run.model, images, 9, batch_size=10, seed=3,
                             strategy=STRATEGY, scored=two[:35]), two,
    rtol=RTOL)
print(json.dumps(float(np.max(np.abs(two / one - 1)))))
"""


def test_distributed_evaluation_equals_one_device_image_by_image(
    server, mirrored_run):
  """77 images in batches of 10 over two replicas (the last round has one
  batch, partly padding) against one device, image by image."""
  out = server.run(
      ['-c', EVAL_SCRIPT.replace('RTOL', repr(NLL_RTOL)), mirrored_run,
       'mirrored'], timeout=600)
  assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
