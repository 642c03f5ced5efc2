"""export/client.py from the command line: every failure is one clear line.

The client runs as a subprocess against a closed port, against bad addresses,
and against a small local HTTP server that answers each request as a case
says (an HTTP error, a body that is not a prediction, no answer in time). Each
failure prints exactly one line, `error: ...`, saying what failed and where,
and exits with status 1.
"""

import http.server
import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLIENT = os.path.join(REPO, 'export', 'client.py')
PREDICT = '/v1/models/dvae:predict'
# What TensorFlow's C++ runtime logs on import, whatever TF_CPP_MIN_LOG_LEVEL.
_TENSORFLOW_LOG = re.compile(
    r'(WARNING: All log messages before absl::InitializeLog|[IWE]\d{4} )')


class _Handler(http.server.BaseHTTPRequestHandler):
  """Answers every POST with `status` and `body` after `delay` seconds.

  With `raw`, writes those bytes instead of an HTTP response; with
  `trickle`, announces a long body and sends a byte every `trickle` seconds.
  """
  status, body, delay, raw, trickle = 200, b'', 0., None, 0.
  requests = []

  def do_POST(self):  # pylint: disable=invalid-name
    length = int(self.headers.get('Content-Length', 0))
    self.requests.append((self.path, json.loads(self.rfile.read(length))))
    time.sleep(self.delay)
    try:
      if self.trickle:
        self.send_response(200)
        self.send_header('Content-Length', '1000')
        self.end_headers()
        for _ in range(1000):
          self.wfile.write(b' ')
          self.wfile.flush()
          time.sleep(self.trickle)
      if self.raw is not None:
        self.wfile.write(self.raw)
        return
      self.send_response(self.status)
      self.send_header('Content-Length', str(len(self.body)))
      self.end_headers()
      self.wfile.write(self.body)
    except OSError:
      pass  # The client gave up waiting (the timeout case).

  def log_message(self, *args):
    del args  # Quiet.


@pytest.fixture
def serve():
  """`serve(**answer)` starts a local server answering so; returns host:port."""
  servers = []

  def start(**answer):
    handler = type('Handler', (_Handler,), answer | {'requests': []})
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    servers.append(server)
    return f'127.0.0.1:{server.server_port}', handler.requests

  yield start
  for server in servers:
    server.shutdown()
    server.server_close()


def _closed_port():
  """host:port of a local port with nothing listening on it."""
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return f'127.0.0.1:{s.getsockname()[1]}'


def _run_client(*args, timeout=120):
  return subprocess.run([sys.executable, CLIENT, *args], capture_output=True,
                        text=True, timeout=timeout, cwd=REPO,
                        env=os.environ | {'TF_CPP_MIN_LOG_LEVEL': '3'})


def _json(value):
  return json.dumps(value).encode()


# (the server's answer, or None for no server; client arguments; part of the
# message). `{server}` is the address of the local server or closed port.
FAILURES = {
    'connection refused': (
        None, [],
        'cannot reach http://{server}' + PREDICT + ': connection refused; is '
        'TensorFlow Serving running there?'),
    'port not a number': (
        None, ['--server=localhost:notaport'],
        "server 'localhost:notaport' has an invalid port"),
    'port out of range': (
        None, ['--server=localhost:99999'],
        "server 'localhost:99999' has an invalid port"),
    'no host': (
        None, ['--server=http://'], "server 'http://' is not a valid address"),
    'space in the host': (
        None, ['--server=local host:8501'],
        "server 'local host:8501' is not a valid address"),
    'unsupported scheme': (
        None, ['--server=ftp://localhost:21'],
        "server 'ftp://localhost:21' has the unsupported scheme 'ftp'"),
    'a URL for gRPC': (
        None, ['--protocol=grpc', '--server=http://localhost:8500'],
        "server 'http://localhost:8500' is a URL; gRPC takes host:port"),
    # A --max_response_mb past gRPC's C int limit raised OverflowError.
    'gRPC connection refused': (
        None, ['--protocol=grpc', '--timeout=20', '--max_response_mb=1e300'],
        'cannot reach {server}: connection refused; is TensorFlow Serving '
        'running there?'),
    'HTTP 404': (
        {'status': 404, 'body': _json(
            {'error': 'Servable not found for request: Latest(dvae)'})}, [],
        'http://{server}' + PREDICT + ': HTTP 404 Not Found: Servable not '
        'found for request: Latest(dvae); check the model name and version'),
    'HTTP 400 with a multi-line error': (
        {'status': 400, 'body': _json({'error': (
            'assertion failed: [num_samples must be a positive integer; '
            'got] [0]\n\t [[node Assert]]')})}, [],
        ': HTTP 400 Bad Request: assertion failed: [num_samples must be a '
        'positive integer; got] [0] [[node Assert]]'),
    'HTTP 500': (
        {'status': 500, 'body': b'Internal failure\nat line 2\n'}, [],
        'http://{server}' + PREDICT + ': HTTP 500 Internal Server Error: '
        'Internal failure at line 2'),
    'not JSON': (
        {'body': b'<html><body>It works!</body></html>'}, [],
        'http://{server}' + PREDICT + ": the response is not JSON (it begins "
        "'<html><body>It works!</body></html>')"),
    'JSON without outputs': (
        {'body': _json({'result': [1, 2]})}, [],
        'the response has neither "outputs" nor "predictions" (keys '
        "['result'])"),
    'JSON that is not an object': (
        {'body': _json([1, 2])}, [],
        'neither "outputs" nor "predictions" (a JSON list)'),
    'error in a 200 answer': (
        {'body': _json({'error': 'model not ready'})}, [],
        'http://{server}' + PREDICT + ': server error: model not ready'),
    'not HTTP': (
        {'raw': b'\x00\x00\x12\x04garbage\r\n\r\n'}, [],
        ': the answer is not HTTP (BadStatusLine); is this the REST port'),
    # Refused before anything is sent (past int32, a gRPC request raised
    # OverflowError and a REST one reached the server).
    'seed past int32': (
        None, ['--seed', '4294967296', '0'],
        'seed must hold integers in [-2147483648, 2147483647] (int32); got '
        '[4294967296, 0]'),
    'gRPC seed past int32': (
        None, ['--protocol=grpc', '--seed', '0', '2147483648'],
        'seed must hold integers in [-2147483648, 2147483647] (int32); got '
        '[0, 2147483648]'),
    'num_samples past int32': (
        None, ['--num_samples=2147483648'],
        'num_samples must be an integer in [1, 2147483647] (int32); got '
        '2147483648'),
    'gRPC num_samples past int32': (
        None, ['--protocol=grpc', '--num_samples=2147483648'],
        'num_samples must be an integer in [1, 2147483647] (int32); got '
        '2147483648'),
    # A REST version past int64 or below 1 was sent as is; gRPC's failed
    # after importing TensorFlow, with a message naming no flag.
    'version past int64': (
        None, ['--version=99999999999999999999'],
        'version must be an integer in [1, 9223372036854775807] (int64); got '
        '99999999999999999999'),
    'gRPC version past int64': (
        None, ['--protocol=grpc', '--version=99999999999999999999'],
        'version must be an integer in [1, 9223372036854775807] (int64); got '
        '99999999999999999999'),
    'version 0': (None, ['--version=0'], 'version must be an integer in [1, '),
    'empty model name': (None, ['--model_name='], 'model_name is empty'),
    # Malformed answers (each was a traceback).
    'predictions a number': (
        {'body': _json({'predictions': 5})}, [],
        'the response\'s outputs are not arrays (TypeError: "predictions" is '
        'a JSON int, not a list of rows)'),
    'predictions with other keys': (
        {'body': _json({'predictions': [{'images': 1}, {'latents': 2}]})}, [],
        "do not all have the keys ['images']"),
    'ragged outputs': (
        {'body': _json({'outputs': {'images': [[1], [1, 2]]}})}, [],
        "the response's outputs are not arrays (ValueError"),
    # Answers that were saved as they came (object arrays, an empty file).
    'null in an output': (
        {'body': _json({'outputs': {'images': [1, None]}})}, [],
        "output 'images' does not hold numbers (NumPy makes an array of dtype "
        "object of it)"),
    'a string output': (
        {'body': _json({'outputs': {'images': 'abc'}})}, [],
        "output 'images' does not hold numbers"),
    'an integer past 64 bits': (
        {'body': b'{"outputs": {"images": [123456789012345678901234567890]}}'},
        [], "output 'images' does not hold numbers"),
    'no outputs': (
        {'body': _json({'outputs': {}})}, [], 'there are no outputs'),
    # Said "the response is not JSON".
    'an answer cut short': (
        {'raw': b'HTTP/1.0 200 OK\r\nContent-Length: 1000\r\n\r\n{"outputs"'},
        [], 'http://{server}' + PREDICT + ': the connection closed after 10 '
        'bytes of the answer, 990 short of its announced length'),
    'a redirection': (
        {'raw': b'HTTP/1.0 302 Found\r\nLocation: http://example.com/\r\n'
                b'Content-Length: 0\r\n\r\n'}, [],
        'http://{server}' + PREDICT + ': HTTP 302 Found'),
    'JSON nested 100,000 deep': (
        {'body': b'[' * 100_000 + b']' * 100_000}, [],
        'the response is JSON nested too deeply'),
    # Answers too long: announced, or read until the connection closes.
    'a long answer': (
        {'body': b' ' * (2 * 2**20)}, ['--max_response_mb=1'],
        'http://{server}' + PREDICT + ': the answer is longer than 1 MiB'),
    'a long answer of unknown length': (
        {'raw': b'HTTP/1.0 200 OK\r\n\r\n' + b' ' * (2 * 2**20)},
        ['--max_response_mb=1'], 'the answer is longer than 1 MiB'),
    # Answers that are not a sample (each was saved, exit 0).
    'a sample answer without images and latents': (
        {'body': _json({'outputs': {'foo': [1, 2, 3, 4]}})}, [],
        ": the answer lacks the sample outputs ['images', 'latents'] (it has "
        "['foo'])"),
    'fewer samples than asked for': (
        {'body': _json({'outputs': {'images': [[0.5]], 'latents': [[1]]}})},
        ['--num_samples=3'], "have shapes [(1, 1), (1, 1)], not 3 rows each "
        "for --num_samples=3"),
    'NaN in the images': (
        {'body': b'{"outputs": {"images": [[NaN]], "latents": [[1]]}}'},
        ['--num_samples=1'], "the sample output 'images' holds NaN or "
        'infinite values'),
    'an output name that is a path': (
        {'body': _json({'outputs': {'images': [[0.5]], 'latents': [[1]],
                                    '../../x': [1]}})}, ['--num_samples=1'],
        "the answer has an output named '../../x', which is not a plain file "
        "name"),
    'timeout': (
        {'delay': 5., 'body': _json({'outputs': {}})}, ['--timeout=0.5'],
        'no answer from http://{server}' + PREDICT + ' within 0.5 s'),
}


@pytest.mark.parametrize('answer, args, message', list(FAILURES.values()),
                         ids=list(FAILURES))
def test_failure_prints_one_error_line(serve, tmp_path, answer, args,
                                       message):
  server = _closed_port() if answer is None else serve(**answer)[0]
  output = tmp_path / 'samples.npz'
  result = _run_client(f'--server={server}', *args, f'--output={output}')
  lines = [line for line in result.stderr.splitlines() if line.strip()]
  if '--protocol=grpc' in args:
    # The gRPC protos import TensorFlow, whose runtime logs its start-up.
    lines = [line for line in lines if not _TENSORFLOW_LOG.match(line)]
  assert result.returncode == 1, result.stderr
  assert len(lines) == 1, result.stderr
  assert lines[0].startswith('error: ')
  assert message.format(server=server) in lines[0]
  assert not output.exists()


def _load_client():
  """export/client.py as a module (a script folder, not a package)."""
  spec = importlib.util.spec_from_file_location('serving_client', CLIENT)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def test_grpc_inputs_are_checked_without_the_serving_api(monkeypatch,
                                                         capsys):
  """Without tensorflow-serving-api, gRPC inputs out of range are still
  refused by range (before any import), not by what is missing."""
  monkeypatch.setitem(sys.modules, 'tensorflow_serving', None)
  monkeypatch.setitem(sys.modules, 'tensorflow_serving.apis', None)
  monkeypatch.setitem(sys.modules, 'grpc', None)
  client = _load_client()
  dtypes = {'num_samples': np.int32, 'seed': np.int32}
  with pytest.raises(ValueError, match=r'seed must hold integers in '
                     r'\[-2147483648, 2147483647\] \(int32\)'):
    client.grpc_predict_request('dvae', {'num_samples': 1,
                                         'seed': [0, 2**31]}, dtypes)
  with pytest.raises(ValueError, match=r'version must be an integer in \[1, '):
    client.grpc_predict_request('dvae', {'num_samples': 1, 'seed': [0, 0]},
                                dtypes, version=2**63)
  assert client.main(['--protocol=grpc', '--num_samples=2147483648']) == 1
  assert capsys.readouterr().err.strip() == (
      'error: num_samples must be an integer in [1, 2147483647] (int32); got '
      '2147483648.')
  with pytest.raises(ImportError, match='pip install tensorflow-serving-api'):
    client.grpc_predict_request('dvae', {'num_samples': 1, 'seed': [0, 0]},
                                dtypes)


@pytest.mark.parametrize('value, shown', [
    ('0', '0'), ('inf', 'inf'), ('nan', 'nan'), ('1e300', '1e+300')])
def test_bad_timeout_is_a_usage_error(value, shown):
  """One line, not argparse's usage block before it (that was 6 lines); 1e300
  is finite, but sockets overflow on it: that was a traceback."""
  result = _run_client(f'--timeout={value}')
  assert result.returncode == 2
  assert result.stderr.strip() == (
      'error: argument --timeout: timeout must be a number of seconds in (0, '
      f'86400]; got {shown}; see --help')


def test_any_usage_error_is_one_line():
  for args in (['--max_response_mb=-1'], ['--num_samples=x'], ['--bogus']):
    result = _run_client(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: '), result.stderr


def test_the_timeout_bounds_the_whole_answer(serve, tmp_path):
  """A server that trickles a byte every 0.2 s cannot hold the client past
  its timeout, although no single read waits that long."""
  server, _ = serve(trickle=0.2)
  start = time.monotonic()
  result = _run_client(f'--server={server}', '--timeout=2',
                       f'--output={tmp_path / "samples.npz"}')
  assert result.returncode == 1, result.stderr
  assert result.stderr.strip() == (
      f'error: no answer from http://{server}{PREDICT} within 2 s; the server '
      'is busy or stuck, or needs a longer timeout')
  assert time.monotonic() - start < 10


def test_output_path_is_the_file_written(serve, tmp_path):
  server, _ = serve(body=_json({'outputs': {'images': [[0.5]] * 4,
                                            'latents': [[1]] * 4}}))
  result = _run_client(f'--server={server}', f'--output={tmp_path / "out"}')
  assert result.returncode == 0, result.stderr
  assert result.stdout.strip().endswith(f'-> {tmp_path / "out.npz"}')
  assert os.path.exists(tmp_path / 'out.npz')
  result = _run_client(f'--server={server}', f'--output={tmp_path}')
  assert result.returncode == 1
  assert result.stderr.strip() == (
      f'error: --output={tmp_path} names a folder; give the .npz file to '
      'write, e.g. --output=samples.npz')
  assert not os.path.exists(f'{tmp_path}.npz')


def test_samples_are_saved(serve, tmp_path):
  images = np.zeros((2, 28, 28, 1))
  server, requests = serve(body=_json(
      {'outputs': {'images': images.tolist(), 'latents': [[0, 1], [1, 1]]}}))
  output = tmp_path / 'samples.npz'
  result = _run_client(f'--server={server}', '--num_samples=2',
                       f'--output={output}')
  assert result.returncode == 0, result.stderr
  assert requests == [(PREDICT, {'signature_name': 'sample', 'inputs': {
      'num_samples': 2, 'seed': [0, 0]}})]
  with np.load(output) as saved:
    np.testing.assert_array_equal(saved['images'], images)
    assert saved['latents'].shape == (2, 2)


def test_unwritable_output_is_one_line(serve, tmp_path):
  """A missing folder is found before the request is sent."""
  server, requests = serve(body=_json({'outputs': {'images': [[0.5]]}}))
  output = tmp_path / 'missing' / 'samples.npz'
  result = _run_client(f'--server={server}', f'--output={output}')
  assert result.returncode == 1
  assert result.stderr.strip() == (
      f'error: cannot write {output}: the folder {output.parent} does not '
      'exist')
  assert not requests
  result = _run_client(f'--server={server}', '--output=')
  assert result.returncode == 1
  assert result.stderr.strip() == (
      'error: --output is empty; give the .npz file to write, e.g. '
      '--output=samples.npz')


def test_any_output_name_is_saved(serve, tmp_path):
  """Names np.savez takes for its own arguments ('file' was a traceback,
  'allow_pickle' an empty file), read to the end when the length header is
  not a number; the model name is quoted in the URL."""
  body = _json({'outputs': {'file': [1, 2], 'allow_pickle': [[0.5]],
                            'images': [[0.5]] * 4, 'latents': [[1]] * 4}})
  server, requests = serve(raw=b'HTTP/1.0 200 OK\r\nContent-Length: abc\r\n'
                           b'\r\n' + body)
  output = tmp_path / 'samples.npz'
  result = _run_client(f'--server={server}', '--model_name=my model/v2',
                       f'--output={output}')
  assert result.returncode == 0, result.stderr
  assert requests[0][0] == '/v1/models/my%20model%2Fv2:predict'
  with np.load(output) as saved:
    np.testing.assert_array_equal(saved['file'], [1, 2])
    np.testing.assert_array_equal(saved['allow_pickle'], [[0.5]])
  assert os.listdir(tmp_path) == ['samples.npz']  # Nothing staged is left.


def test_interrupt_is_one_line(serve, tmp_path):
  """Ctrl-C while waiting for the answer: one line, exit 130, no file."""
  server, requests = serve(delay=5., body=_json({'outputs': {'a': [1]}}))
  output = tmp_path / 'samples.npz'
  process = subprocess.Popen(
      [sys.executable, CLIENT, f'--server={server}', f'--output={output}'],
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
  deadline = time.monotonic() + 30
  while not requests and time.monotonic() < deadline:
    time.sleep(0.05)
  process.send_signal(signal.SIGINT)
  _, stderr = process.communicate(timeout=30)
  assert process.returncode == 130
  assert stderr.strip() == 'error: interrupted; nothing was written'
  assert not output.exists()


def _peak_of_client(server, tmp_path, *args):
  """The client's peak resident memory (bytes) for one request."""
  code = (f'import resource, subprocess, sys; subprocess.run([sys.executable, '
          f'{CLIENT!r}, "--server={server}", "--output={tmp_path / "s.npz"}", '
          f'*{list(args)!r}], check=True, capture_output=True); print(resource.'
          'getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)')
  result = subprocess.run([sys.executable, '-c', code], capture_output=True,
                          text=True, check=True, timeout=300)
  return int(result.stdout)


def test_decoding_memory_is_within_the_stated_factor(serve, tmp_path):
  """A sample answer of ~40 MB (float32 pixels written in full, latents):
  the client's peak above its peak on a tiny answer is at most
  MEMORY_PER_ANSWER_BYTE times the answer (the README's figure)."""
  client = _load_client()
  rng = np.random.default_rng(0)
  n = 2000
  body = _json({'outputs': {
      'images': rng.random((n, 28, 28, 1), dtype=np.float32).tolist(),
      'latents': (rng.random((n, 400)) < 0.5).astype(np.float32).tolist()}})
  server, _ = serve(body=body)
  peak = _peak_of_client(server, tmp_path, f'--num_samples={n}')
  tiny, _ = serve(body=_json({'outputs': {'images': [[0.5]],
                                          'latents': [[1.]]}}))
  base = _peak_of_client(tiny, tmp_path, '--num_samples=1')
  factor = (peak - base) / len(body)
  assert 4 < factor <= client.MEMORY_PER_ANSWER_BYTE, factor
