"""The command-line programs, every one in one style: a module here that
defines its flags, a `main(argv)` that turns them into a config and calls
library functions, and `run()` (`cli.run(main)`), run as `python -m
dvae_tf.binaries.<name>`. The user's programs are also console scripts
(`dvae-train`, `dvae-evaluate`, `dvae-sample`, `dvae-export`,
`dvae-benchmark`) and `python bin/<name>.py`; `reproduction` writes the
reproduction tables, `measure` is the fresh process of one benchmark
measurement, and `make_sample` regenerates the bundled MNIST sample.

Importing this package (which every binary does before TensorFlow) makes
SIGINT and SIGTERM end the program with one `error:` line and status
`EXIT_STOPPED`, from the first second on and within `STOP_GRACE_S` even in
the middle of a long TensorFlow call (`_watch_signals`); a training loop
takes them over while it runs, to save a checkpoint first.

It also imports TensorFlow quietly (`quiet_start`): TensorFlow's C++ start-up
lines (absl's pre-initialisation notice, oneDNN and CPU-feature INFO lines,
and on a machine without a GPU the failed `cuInit`) are written to file
descriptor 2 by static initialisers, before Python could set a log level, so
they are captured there and dropped; every other line written meanwhile is
passed on. `--verbosity=0` (or higher), `-v 0`, the environment variable
`DVAE_TF_STARTUP_LOGS=1`, or `TF_CPP_MIN_LOG_LEVEL=0` set by the caller show
them all. Any other `TF_CPP_MIN_LOG_LEVEL` applies to TensorFlow's later
lines only: the start-up lines are logged before TensorFlow reads it.
"""

import os
import re
import signal
import sys
import tempfile
import threading

# The exit status of a program stopped by SIGINT or SIGTERM (EX_TEMPFAIL):
# rerun the same command (a training resumes from its last checkpoint, an
# evaluation after its last saved batch).
EXIT_STOPPED = 75

# Lines TensorFlow writes while it starts that report no fault: glog-style
# INFO and WARNING lines ('I1203 ...', 'W0000 ...'), absl's notice that it
# is not initialised yet, and the continuation of the CPU-feature line.
_STARTUP_NOISE = re.compile(
    r'^([IW]\d{4} \d\d:\d\d:\d\d|'
    r'WARNING: All log messages before absl::InitializeLog|'
    r'To enable the following instructions:)')
# A failed cuInit is an error only where there is a GPU to initialise.
_NO_GPU_NOISE = re.compile(r'^E\d{4} .*(failed call to cuInit|cuda_platform)')


def _wants_startup_logs(argv, environ):
  if environ.get('DVAE_TF_STARTUP_LOGS', '') not in ('', '0'):
    return True
  if environ.get('TF_CPP_MIN_LOG_LEVEL', '').strip() == '0':
    return True
  for i, arg in enumerate(argv):
    value = None
    if arg.startswith('--verbosity='):
      value = arg.split('=', 1)[1]
    elif arg in ('--verbosity', '-v') and i + 1 < len(argv):
      value = argv[i + 1]
    if value is not None:
      try:
        return int(value) >= 0
      except ValueError:
        return False  # absl refuses it later, with its own line.
  return False


def startup_lines_to_keep(text, have_gpu):
  """The lines of TensorFlow's start-up output that are not `_STARTUP_NOISE`
  (nor, without a GPU, the failed cuInit)."""
  return [line for line in text.splitlines()
          if line.strip() and not _STARTUP_NOISE.match(line)
          and (have_gpu or not _NO_GPU_NOISE.match(line))]


def quiet_start(argv=None, environ=None):
  """Imports TensorFlow and finds its devices with file descriptor 2
  captured, then writes back what `startup_lines_to_keep` keeps (everything
  if the import fails, or if `_wants_startup_logs`)."""
  argv = sys.argv if argv is None else argv
  environ = os.environ if environ is None else environ
  if 'tensorflow' in sys.modules or _wants_startup_logs(argv, environ):
    return
  environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')  # Its own later lines.
  sys.stderr.flush()
  saved = os.dup(2)
  have_gpu, failed = False, True
  with tempfile.TemporaryFile() as captured:
    os.dup2(captured.fileno(), 2)
    try:
      import tensorflow as tf  # pylint: disable=g-import-not-at-top
      have_gpu = bool(tf.config.list_physical_devices('GPU'))
      failed = False
    except SystemExit:  # A signal while starting (`_stop`): its one line.
      failed = False
      raise
    finally:
      sys.stderr.flush()
      os.dup2(saved, 2)
      os.close(saved)
      captured.seek(0)
      text = captured.read().decode('utf-8', 'replace')
      lines = (text.splitlines() if failed else
               startup_lines_to_keep(text, have_gpu))
      for line in lines:
        print(line, file=sys.stderr)
      sys.stderr.flush()


# Seconds a signal waits for the main thread's handler before `_watch_signals`
# ends the program itself.
STOP_GRACE_S = 3.
_stopping = threading.Event()


def _stop_line(signum):
  print(f'error: stopped by {signal.Signals(signum).name} before finishing; '
        'rerun the same command (nothing saved is lost: a training resumes '
        'from its last checkpoint, an evaluation after its last saved '
        'batch).',
        file=sys.stderr, flush=True)


def _stop(signum, frame):
  """SIGINT or SIGTERM outside a training loop (which saves first): one line,
  not a KeyboardInterrupt traceback or a silent exit."""
  del frame
  if _stopping.is_set():
    return
  _stopping.set()
  _stop_line(signum)
  sys.exit(EXIT_STOPPED)


def _watch_signals():
  """Ends the program within `STOP_GRACE_S` of a SIGINT or SIGTERM that
  `_stop` handles, even while one TensorFlow call runs for minutes.

  Python runs a signal handler only when the main thread is between
  bytecodes, so a long op (an evaluation batch at a large k) would hold the
  signal until it returns. The C-level handler also writes the signal's
  number to a pipe (`signal.set_wakeup_fd`); a thread reads it, and if the
  handler still has not run after `STOP_GRACE_S`, prints its line and exits
  with `EXIT_STOPPED` at once. What was saved stays whole: checkpoints and
  evaluation records are written by rename. While a training loop owns the
  signals (its handler, not `_stop`), the thread leaves them to it.
  """
  read_fd, write_fd = os.pipe()
  os.set_blocking(write_fd, False)
  signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)

  def watch():
    while True:
      for signum in os.read(read_fd, 64):
        if signal.getsignal(signum) is not _stop:
          continue
        if not _stopping.wait(STOP_GRACE_S):
          _stopping.set()
          _stop_line(signum)
          os._exit(EXIT_STOPPED)  # pylint: disable=protected-access

  threading.Thread(target=watch, name='signal-watch', daemon=True).start()


# Before TensorFlow is imported, which takes seconds.
for _signal in (signal.SIGINT, signal.SIGTERM):
  signal.signal(_signal, _stop)
_watch_signals()
quiet_start()
