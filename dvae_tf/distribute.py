"""Where a run executes: a `tf.distribute` strategy by name, and its rules.

`make_strategy(name)` builds one of `STRATEGIES`:

- 'default': one device (TensorFlow's default strategy);
- 'mirrored': `MirroredStrategy` on all local GPUs (an error when there are
  none), or on `cpu_devices` logical CPU devices, which stand in for GPUs in
  tests and overhead benchmarks;
- 'multi_worker': `MultiWorkerMirroredStrategy`, the cluster and this
  process's task read from the `TF_CONFIG` environment variable (checked
  first, so a malformed one is a one-line error, not a hang); each worker
  mirrors over its local GPUs, or its CPU when it has none.

The rules every run follows under any of them:

- Replica r of R holds rows `replica_rows(n, r, R)` of a global quantity of n
  rows: the batch (`--batch_size` is global) and the RBM prior's persistent
  chains (`--num_chains` is global). `distribute_global_batches` feeds each
  replica its rows of the same global batch a single device would see, so
  the data do not depend on how the replicas are spread over workers.
- Only the chief writes the run directory (`is_chief`); another worker
  writes its copy of each checkpoint to `worker_dir(run_dir)`, which it
  deletes after the save, as tf.distribute's saving requires every worker to
  take part in it.
- A cluster fails as a whole, with one line on every survivor that says to
  restart every worker (the run resumes): a worker that never arrives ends
  the others after `cluster_timeout` seconds (`StartupWatchdog`), and a peer
  lost mid-run ends them when the coordination service misses its
  heartbeats, within about half a minute (`peers_lost_as_one_line`).
"""

import contextlib
import itertools
import json
import os
import re
import shutil
import subprocess
import sys

import tensorflow as tf
from tensorflow.python.eager import context as tf_context

STRATEGIES = ('default', 'mirrored', 'multi_worker')


class StrategyError(ValueError):
  """The strategy asked for cannot run here (no GPUs, a bad TF_CONFIG)."""


class ClusterError(StrategyError):
  """A worker of a multi-worker cluster stopped answering."""

# How long a worker waits for the whole cluster to connect, by default.
CLUSTER_TIMEOUT = 300.

RESTART = ('stop every worker and start them all again with the same '
           'commands; the run resumes from its last checkpoint')

# The watchdog of `StartupWatchdog`: a separate interpreter, because the
# strategy's constructor waits inside TensorFlow holding the GIL (no Python
# timer runs) and ignores SIGTERM; it ends when its parent does.
_WATCHDOG = """
import os, signal, sys, time
parent, deadline = int(sys.argv[1]), time.monotonic() + float(sys.argv[2])
while time.monotonic() < deadline:
  if os.getppid() != parent:
    sys.exit(0)
  time.sleep(0.2)
sys.stderr.write(sys.argv[3] + chr(10))
sys.stderr.flush()
os.kill(parent, signal.SIGKILL)
"""


class StartupWatchdog:
  """Within the `with` block, a process that prints `message` (one line) and
  ends this one with SIGKILL (status 137) if the block has not finished
  after `seconds`."""

  def __init__(self, seconds, message):
    self.seconds, self.message, self._process = seconds, message, None

  def __enter__(self):
    sys.stderr.flush()
    self._process = subprocess.Popen(
        [sys.executable, '-c', _WATCHDOG, str(os.getpid()),
         str(self.seconds), self.message],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    return self

  def __exit__(self, *exc):
    self._process.kill()
    self._process.wait()
    return False


def _tasks_named(message):
  """'worker 1, chief 0' from TensorFlow's task names in `message`."""
  found = dict.fromkeys(
      f'{job} {index}' for job, index in
      re.findall(r'/job:(\w+)/replica:\d+/task:(\d+)', message))
  return ', '.join(found)


@contextlib.contextmanager
def peers_lost_as_one_line(strategy, what='the run'):
  """Turns the errors of a multi-worker collective whose peer is gone
  (Unavailable, Aborted, DeadlineExceeded, Cancelled) into a one-line
  `ClusterError` that names the lost task and says to restart the cluster;
  nothing on one host."""
  if not is_multi_worker(strategy):
    yield
    return
  try:
    yield
  except (tf.errors.UnavailableError, tf.errors.AbortedError,
          tf.errors.DeadlineExceededError, tf.errors.CancelledError) as e:
    lost = _tasks_named(e.message)
    fault = (f'task(s) {lost} stopped answering' if lost else
             'a collective with the other workers failed')
    raise ClusterError(f'{what} lost its cluster: {fault} '
                       f'({type(e).__name__}); {RESTART}.') from None


def configure_cpu_devices(count):
  """Splits the CPU into `count` logical devices (before TensorFlow starts)."""
  cpu = tf.config.list_physical_devices('CPU')[0]
  try:
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * count)
  except RuntimeError as e:
    raise StrategyError(f'cpu_devices={count}: logical devices must be set '
                        f'before TensorFlow starts ({e}).') from None


def cluster_spec():
  """TF_CONFIG's (cluster dict, task dict), checked.

  Raises:
    StrategyError: TF_CONFIG is missing, not JSON, or names a task that is
      not in its cluster.
  """
  text = os.environ.get('TF_CONFIG')
  if not text:
    raise StrategyError(
        '--strategy=multi_worker needs the cluster in the TF_CONFIG '
        'environment variable, e.g. TF_CONFIG=\'{"cluster": {"worker": '
        '["host1:12345", "host2:12345"]}, "task": {"type": "worker", '
        '"index": 0}}\' (see BUILD.md).')
  try:
    config = json.loads(text)
    cluster, task = config['cluster'], config['task']
    addresses = cluster[task['type']]
    index = int(task['index'])
  except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
    raise StrategyError(
        f'TF_CONFIG is not a cluster description ({type(e).__name__}: {e}); '
        'expected {"cluster": {"worker": [...]}, "task": {"type": "worker", '
        '"index": i}} (see BUILD.md).') from None
  if not 0 <= index < len(addresses):
    raise StrategyError(
        f'TF_CONFIG: task {task["type"]} {index} is not in its cluster, which '
        f'has {len(addresses)} {task["type"]} address(es).')
  return cluster, task


def make_strategy(name='default', cpu_devices=0,
                  cluster_timeout=CLUSTER_TIMEOUT):
  """The `tf.distribute.Strategy` called `name` (see the module docstring).

  Call it before any other TensorFlow work of the process: logical devices
  and the multi-worker runtime are set up when TensorFlow starts.

  Args:
    name: one of `STRATEGIES`.
    cpu_devices: for 'mirrored' on a machine without GPUs, mirror over this
      many logical CPU devices (0: GPUs are required).
    cluster_timeout: for 'multi_worker', the seconds to wait for every
      worker of TF_CONFIG to connect; then this process prints one line
      and ends (SIGKILL, status 137: TensorFlow's wait cannot be
      interrupted otherwise).

  Raises:
    StrategyError: an unknown name, GPUs asked for that are not there, or a
      bad TF_CONFIG.
  """
  if name not in STRATEGIES:
    raise StrategyError(f'strategy={name!r} is not one of {list(STRATEGIES)}.')
  if cpu_devices < 0:
    raise StrategyError(f'cpu_devices must be >= 0; got {cpu_devices}.')
  if cpu_devices and name != 'mirrored':
    raise StrategyError('cpu_devices applies to --strategy=mirrored only.')
  if name == 'default':
    return tf.distribute.get_strategy()
  if name == 'multi_worker':
    if not cluster_timeout > 0:
      raise StrategyError(
          f'cluster_timeout must be > 0 seconds; got {cluster_timeout}.')
    cluster, task_ = cluster_spec()
    size = sum(len(addresses) for addresses in cluster.values())
    with StartupWatchdog(cluster_timeout, (
        f'error: the cluster of TF_CONFIG ({size} tasks) did not connect '
        f'within {cluster_timeout:g} s (this is {task_["type"]} '
        f'{task_["index"]}); start every worker with the same command, each '
        f'with its own TF_CONFIG task (or raise --cluster_timeout); a run '
        f'resumes from its last checkpoint.')):
      return tf.distribute.MultiWorkerMirroredStrategy()
  if cpu_devices:
    configure_cpu_devices(cpu_devices)
    return tf.distribute.MirroredStrategy(
        [f'/cpu:{i}' for i in range(cpu_devices)])
  gpus = tf.config.list_physical_devices('GPU')
  if not gpus:
    raise StrategyError(
        '--strategy=mirrored trains on all local GPUs, and TensorFlow sees '
        'none here (check the CUDA installation and CUDA_VISIBLE_DEVICES); '
        'use --strategy=default for one device, or --cpu_devices=N to mirror '
        'over N logical CPU devices.')
  return tf.distribute.MirroredStrategy()


def task(strategy):
  """(task type, task index) of this process; ('chief', 0) on one host."""
  resolver = getattr(strategy, 'cluster_resolver', None)
  if resolver is None or not resolver.task_type:
    return 'chief', 0
  return resolver.task_type, int(resolver.task_id or 0)


def is_multi_worker(strategy):
  """Whether `strategy` spans several processes (a TF_CONFIG cluster)."""
  resolver = getattr(strategy, 'cluster_resolver', None)
  return bool(resolver and resolver.task_type)


# Barriers of `barrier`, numbered in the order every worker calls them.
_BARRIERS = itertools.count()
# How long `barrier` waits for the other workers (a lost peer ends it
# sooner: the coordination service reports it).
BARRIER_SECONDS = 3600.


def barrier(strategy):
  """Returns once every worker of a multi-worker `strategy` has called it;
  at once on one host.

  `training.train` ends with it, so that no worker reads the run directory
  (evaluating its newest checkpoint, say) before the chief has written its
  last save, and `evaluation.report.evaluate_run` too, so that no worker
  exits while a peer still reads its part of the last gather. It is the
  coordination service's barrier, not a collective: a worker that finished
  its side of a collective may not exit yet (its peer may still be pulling
  the buffer it posted, and fails with 'Socket closed' if it does), and a
  collective used as a barrier would end the same way."""
  if is_multi_worker(strategy):
    try:
      tf_context.context().wait_at_barrier(
          f'dvae_tf/barrier/{next(_BARRIERS)}', int(BARRIER_SECONDS * 1000))
    except tf.errors.InternalError as e:
      # A peer lost before it arrived ('Barrier failed ... heartbeat
      # timeout'): the error `peers_lost_as_one_line` makes one line of.
      raise tf.errors.UnavailableError(None, None, e.message) from None


def is_chief(strategy):
  """Whether this process writes the run directory.

  The chief is task 'chief' if the cluster has one, else worker 0.
  """
  task_type, task_id = task(strategy)
  resolver = getattr(strategy, 'cluster_resolver', None)
  has_chief = bool(resolver and resolver.task_type and
                   'chief' in resolver.cluster_spec().as_dict())
  return task_type == 'chief' or (not has_chief and task_type == 'worker' and
                                  task_id == 0)


def worker_dir(run_dir, strategy):
  """Where this process saves: `run_dir` for the chief, else a folder of
  its own inside it, which `remove_worker_dir` deletes after each save."""
  if is_chief(strategy):
    return run_dir
  task_type, task_id = task(strategy)
  return os.path.join(run_dir, f'.{task_type}-{task_id}')


def remove_worker_dir(run_dir, strategy):
  """Deletes a non-chief worker's save folder (nothing on the chief)."""
  if not is_chief(strategy):
    shutil.rmtree(worker_dir(run_dir, strategy), ignore_errors=True)


def check_divisible(what, count, num_replicas):
  """ValueError unless `count` rows split evenly over `num_replicas`."""
  if count % num_replicas:
    raise ValueError(f'{what}={count} does not split evenly over the '
                     f'{num_replicas} replicas; use a multiple of '
                     f'{num_replicas}.')


def replica_rows(count, replica, num_replicas):
  """(first row, number of rows) of replica `replica` in `count` rows."""
  return replica * (count // num_replicas), count // num_replicas


def distribute_global_batches(strategy, dataset, global_batch):
  """A distributed iterator giving each replica its rows of each batch.

  Args:
    strategy: the run's strategy.
    dataset: the dataset of global batches [global_batch, ...] a single
      device trains on (every worker builds the same one).
    global_batch: its static batch size, a multiple of the replica count.

  Returns:
    An iterator of per-replica values: replica r gets rows
    `replica_rows(global_batch, r, R)` of each global batch.
  """
  num_replicas = strategy.num_replicas_in_sync
  if num_replicas == 1:
    return iter(strategy.experimental_distribute_dataset(dataset))
  check_divisible('batch_size', global_batch, num_replicas)

  def per_pipeline(context):
    local = num_replicas // context.num_input_pipelines
    first, rows = replica_rows(global_batch, context.input_pipeline_id * local,
                               num_replicas)
    # Elements go to this pipeline's replicas in turn, one batch each.
    return dataset.flat_map(lambda x: tf.data.Dataset.from_tensor_slices(
        tf.reshape(x[first:first + local * rows],
                   [local, rows] + x.shape[1:].as_list())))

  return iter(strategy.distribute_datasets_from_function(per_pipeline))


def available_bytes(strategy):
  """(bytes free where this worker's replicas run, its name): the smallest
  GPU's memory times the replicas on GPUs, or the host's available memory,
  which its CPU replicas share."""
  try:
    devices = strategy.extended.worker_devices
  except RuntimeError:  # The default strategy: TensorFlow's first device.
    devices = [d.name for d in tf.config.list_logical_devices('GPU')[:1]]
  if any('GPU' in d.upper() for d in devices):
    from tensorflow.python.client import device_lib  # pylint: disable=g-import-not-at-top
    limits = [d.memory_limit for d in device_lib.list_local_devices()
              if d.device_type == 'GPU']
    return min(limits) * len(devices), f'{len(devices)} GPU(s)'
  try:
    with open('/proc/meminfo') as f:
      fields = dict(line.split(':', 1) for line in f)
    return int(fields['MemAvailable'].split()[0]) * 1024, 'this machine'
  except (OSError, KeyError, ValueError):
    return (os.sysconf('SC_AVPHYS_PAGES') * os.sysconf('SC_PAGE_SIZE'),
            'this machine')
