"""A small client for a DVAE model served by TensorFlow Serving.

Request builders for the REST API (JSON, row `instances` or columnar
`inputs` format) and the gRPC API (`PredictRequest`, from the optional
`tensorflow-serving-api` package), response decoders, and the decoding of a
REST request the way the server does it (for tests that feed requests to a
loaded SavedModel without a server).

  python export/client.py --server=localhost:8501 --model_name=dvae \\
      --num_samples=4 --output=samples.npz
  python export/client.py --server=localhost:8500 --protocol=grpc ...

A request that fails (no server at the address, a timeout, an HTTP error, a
response that is too long or not a TensorFlow Serving prediction) raises
`ServingError`, whose message is one line saying what failed and where; an
address that is not host:port or an http(s) URL, or an input out of its
range, raises `ValueError` before anything is sent. From the command line
either prints `error: <message>` and exits with 1. The timeout bounds the
whole request, however slowly the server answers, and an answer longer than
`--max_response_mb` is refused as it arrives. An answer is saved only if it
is a sample: `SAMPLE_OUTPUTS` with one row per sample asked for, and output
names that are plain file names. The outputs are written to `--output`
(.npz) atomically, only once all have arrived; a folder is refused.

The signatures and their inputs are listed in the export's metadata.json and
by `saved_model_cli show --all --dir <export>/<version>`.
"""

import argparse
import http.client
import json
import math
import os
import re
import socket
import sys
import threading
import time
import urllib.parse
import zipfile

import numpy as np

REST_PORT = 8501
GRPC_PORT = 8500
DEFAULT_TIMEOUT_S = 60.
# A day: longer than any request the export's limits admit, and well inside
# what sockets and timers accept (their limit is near 9e9 s).
MAX_TIMEOUT_S = 86_400.
DEFAULT_MAX_RESPONSE_BYTES = 256 * 2**20
# Memory the client's peak may reach per byte of a REST answer, over what it
# holds before the request (measured about 8 on a sample answer: 2.1 GB at
# the default limit).
MEMORY_PER_ANSWER_BYTE = 9
# The outputs of the export's `sample` signature (dvae_tf.export.signatures;
# tests/test_export.py checks the two agree): an answer without them is not
# a sample, and is not saved as one.
SAMPLE_OUTPUTS = ('images', 'latents')
# An output name must be a plain file name to become an entry of the .npz.
_OUTPUT_NAME = re.compile(r'[A-Za-z0-9_][A-Za-z0-9_.-]*')
# gRPC's limit on a received message is a C int.
_MAX_GRPC_MESSAGE_BYTES = 2**31 - 1
_REST_SCHEMES = ('http', 'https')
_MAX_DETAIL = 300  # Characters of a server's message quoted in an error.
_SERVING_API_MISSING = (
    'gRPC requests need the TensorFlow Serving API protos: pip install '
    'tensorflow-serving-api (or pip install "dvae_tf[serving]").')


class ServingError(RuntimeError):
  """A request to the model server failed; the message says what and where."""


def _one_line(text):
  """`text` with its whitespace collapsed, cut to `_MAX_DETAIL` characters."""
  text = ' '.join(str(text).split())
  return text if len(text) <= _MAX_DETAIL else text[:_MAX_DETAIL - 3] + '...'


def check_timeout(timeout):
  """Raises ValueError unless `timeout` is a number of seconds in (0, a day]."""
  if not 0 < timeout <= MAX_TIMEOUT_S:
    raise ValueError(f'timeout must be a number of seconds in (0, '
                     f'{MAX_TIMEOUT_S:g}]; got {timeout:g}.')


def _check_model(model_name, version):
  """ValueError unless the model name is given and the version a positive
  int64 (TF Serving's version numbers)."""
  if not model_name:
    raise ValueError('model_name is empty; give the name the server serves '
                     'the model under, e.g. dvae.')
  top = int(np.iinfo(np.int64).max)
  if version is not None and not 1 <= version <= top:
    raise ValueError(f'version must be an integer in [1, {top}] (int64); got '
                     f'{version}.')


def check_sample_inputs(num_samples, seed):
  """Checks the inputs of the `sample` signature before they are sent.

  Args:
    num_samples: an int in [1, 2**31 - 1] (the signature's int32).
    seed: two ints in int32's range.

  Raises:
    ValueError: a value is out of range; the message names the range.
  """
  top = int(np.iinfo(np.int32).max)
  if not 1 <= num_samples <= top:
    raise ValueError(f'num_samples must be an integer in [1, {top}] (int32); '
                     f'got {num_samples}.')
  _check_fits('seed', seed, np.int32)


def _check_fits(name, value, dtype):
  """ValueError unless the integers of `value` fit in integer `dtype`."""
  info = np.iinfo(dtype)
  values = np.asarray(value, dtype=object)
  if not all(info.min <= int(v) <= info.max for v in values.ravel()):
    raise ValueError(f'{name} must hold integers in [{info.min}, {info.max}] '
                     f'({np.dtype(dtype).name}); got {values.tolist()}.')


def _as_lists(inputs):
  return {name: np.asarray(value).tolist() for name, value in inputs.items()}


def columnar_request(inputs, signature_name='serving_default'):
  """REST body in columnar format: {"inputs": {name: whole tensor}}.

  Args:
    inputs: dict input name -> array-like (any shape, scalars included).
    signature_name: the signature to call.

  Returns:
    A JSON-serializable dict.
  """
  return {'signature_name': signature_name, 'inputs': _as_lists(inputs)}


def instances_request(inputs, signature_name='serving_default'):
  """REST body in row format: {"instances": [{name: one row}, ...]}.

  The server stacks the rows along a new first axis, so every input must have
  the same first dimension (the batch): row format cannot carry a scalar such
  as `num_samples`; use `columnar_request` for those signatures.

  Args:
    inputs: dict input name -> array [B, ...].
    signature_name: the signature to call.

  Returns:
    A JSON-serializable dict.

  Raises:
    ValueError: an input is a scalar or the first dimensions differ.
  """
  arrays = {name: np.asarray(value) for name, value in inputs.items()}
  sizes = {name: (a.shape[0] if a.ndim else None)
           for name, a in arrays.items()}
  if None in sizes.values() or len(set(sizes.values())) != 1:
    raise ValueError(
        f'Row format needs inputs with one shared first dimension; got first '
        f'dimensions {sizes} (None: a scalar). Use columnar_request.')
  batch = next(iter(sizes.values()))
  rows = [{name: a[i].tolist() for name, a in arrays.items()}
          for i in range(batch)]
  return {'signature_name': signature_name, 'instances': rows}


def decode_rest_request(body, dtypes):
  """The input tensors TF Serving makes of a REST body (no server needed).

  Row format: the per-instance values are stacked along a new axis 0;
  columnar format: each input is taken whole. Values are converted to the
  signature's dtypes, as the server does.

  Args:
    body: a request dict (or its JSON text).
    dtypes: dict input name -> NumPy dtype of the signature's input.

  Returns:
    dict input name -> np.ndarray.

  Raises:
    ValueError: the body is in neither format, or names unknown inputs.
  """
  if isinstance(body, (str, bytes)):
    body = json.loads(body)
  if ('instances' in body) == ('inputs' in body):
    raise ValueError('A request has exactly one of "instances" (row format) '
                     'and "inputs" (columnar format); got keys '
                     f'{sorted(body)}.')
  if 'instances' in body:
    rows = body['instances']
    if not rows:
      raise ValueError('"instances" is empty.')
    names = list(rows[0])
    values = {name: np.stack([np.asarray(row[name]) for row in rows])
              for name in names}
  else:
    values = {name: np.asarray(v) for name, v in body['inputs'].items()}
  unknown = set(values) - set(dtypes)
  if unknown:
    raise ValueError(f'Unknown inputs {sorted(unknown)}; the signature takes '
                     f'{sorted(dtypes)}.')
  return {name: v.astype(dtypes[name]) for name, v in values.items()}


def decode_rest_response(body):
  """Output arrays of a REST response, by output name.

  Row-format responses ("predictions": a list of per-instance dicts, or of
  values for a single output) are stacked along axis 0; columnar responses
  ("outputs": a dict, or one value for a single output) are taken whole. A
  single unnamed output is returned under the key 'output'.

  Raises:
    ServingError: the body is a server error, not JSON, holds neither
      "predictions" nor "outputs", or they are not arrays (rows with other
      keys, ragged lists, a number where rows belong).
  """
  owned = isinstance(body, (bytes, bytearray, str))
  if isinstance(body, (bytes, bytearray)):
    body = body.decode('utf-8', 'replace')
  if isinstance(body, str):
    body = _json_loads([body])
  return _decode_rest_response(body, owned)


def _decode_rest_response(body, owned):
  """`decode_rest_response` of a parsed `body`, emptied if `owned`."""
  if isinstance(body, dict) and 'error' in body:
    raise ServingError(f'server error: {_one_line(body["error"])}')
  if not isinstance(body, dict) or not {'predictions', 'outputs'} & set(body):
    found = (f'keys {sorted(body)}' if isinstance(body, dict) else
             f'a JSON {type(body).__name__}')
    raise ServingError(
        f'the response has neither "outputs" nor "predictions" ({found}); '
        'expected a TensorFlow Serving predict response')
  try:
    return _numeric(_outputs(body, owned))
  except (TypeError, ValueError, KeyError, IndexError) as e:
    raise ServingError(
        f'the response\'s outputs are not arrays ({type(e).__name__}: '
        f'{_one_line(e)}); expected a TensorFlow Serving predict response'
    ) from None


def _json_loads(holder):
  """The JSON value of the text in the one-element list `holder`, which is
  emptied once parsed so the text can be freed before the arrays are made.

  Raises:
    ServingError: the text is not JSON, or is nested too deeply.
  """
  try:
    return json.loads(holder[0])
  except ValueError:
    raise ServingError(
        f'the response is not JSON (it begins {holder[0][:60]!r}); expected a '
        'TensorFlow Serving REST API at that address') from None
  except RecursionError:
    raise ServingError('the response is JSON nested too deeply to be a '
                       'TensorFlow Serving predict response') from None
  finally:
    holder.clear()


def _outputs(body, owned):
  """{name: array} of a predict response's "predictions" or "outputs";
  `body` is emptied as it is converted if `owned` (parsed here)."""
  if 'predictions' in body:
    rows = body['predictions']
    if not isinstance(rows, list):
      raise TypeError(f'"predictions" is a JSON {type(rows).__name__}, not a '
                      'list of rows')
    if rows and isinstance(rows[0], dict):
      names = set(rows[0])
      if any(not isinstance(row, dict) or set(row) != names for row in rows):
        raise ValueError('the rows of "predictions" do not all have the keys '
                       f'{sorted(names)}')
      return {name: np.asarray([row[name] for row in rows])
              for name in rows[0]}
    return {'output': np.asarray(rows)}
  outputs = body.pop('outputs') if owned else body['outputs']
  if isinstance(outputs, dict):
    if owned:  # Each output's lists are freed once converted.
      return {name: np.asarray(outputs.pop(name)) for name in list(outputs)}
    return {name: np.asarray(v) for name, v in outputs.items()}
  return {'output': np.asarray(outputs)}


def _numeric(outputs):
  """`outputs`, checked to be at least one array of numbers (or booleans).

  Raises:
    ValueError: there are no outputs, or one holds something else (JSON
      null, strings, objects, integers past 64 bits).
  """
  if not outputs:
    raise ValueError('there are no outputs')
  for name, value in outputs.items():
    if value.dtype.kind not in 'biuf':
      raise ValueError(f'output {name!r} does not hold numbers (NumPy makes '
                       f'an array of dtype {value.dtype} of it)')
  return outputs


def _checked_address(server, address, example):
  """`urlsplit(address)`, after checking that it has a host and a valid port.

  Args:
    server: the address as given, for the message.
    address: `server` as a URL.
    example: a valid address, for the message.

  Returns:
    The `urllib.parse.SplitResult`.

  Raises:
    ValueError: `server` is not a valid address.
  """
  expected = f'expected host:port, e.g. {example}'
  parts = urllib.parse.urlsplit(address)
  try:
    port = parts.port
  except ValueError as e:
    raise ValueError(f'server {server!r} has an invalid port ({e}); '
                     f'{expected}.') from None
  if (not parts.hostname or port == 0 or parts.query or parts.fragment or
      any(c.isspace() for c in server)):
    raise ValueError(f'server {server!r} is not a valid address; {expected}.')
  return parts


def rest_url(server, model_name, version=None):
  """The REST predict URL, e.g. http://localhost:8501/v1/models/dvae:predict.

  Args:
    server: host:port, or an http:// or https:// URL (with a path prefix, if
      the server is behind one).
    model_name: the served model's name.
    version: a model version (default: the server's choice, the latest).

  Raises:
    ValueError: `server` has another scheme, no host or an invalid port;
      `model_name` is empty or `version` not a positive int64.
  """
  _check_model(model_name, version)
  address = server if '://' in server else 'http://' + server
  scheme = address.split('://', 1)[0].lower()
  if scheme not in _REST_SCHEMES:
    raise ValueError(
        f'server {server!r} has the unsupported scheme {scheme!r}; expected '
        f'host:port or an http:// or https:// URL (gRPC: --protocol=grpc '
        f'with host:port).')
  _checked_address(server, address, f'localhost:{REST_PORT}')
  path = f'/v1/models/{urllib.parse.quote(model_name, safe="")}'
  if version is not None:
    path += f'/versions/{int(version)}'
  return f'{address.rstrip("/")}{path}:predict'


def _unreachable(url, reason):
  """The message for a server that could not be connected to."""
  if isinstance(reason, ConnectionRefusedError):
    why = 'connection refused'
  elif isinstance(reason, socket.gaierror):
    why = f'unknown host ({reason.strerror})'
  else:
    why = _one_line(getattr(reason, 'strerror', None) or reason)
  return f'cannot reach {url}: {why}; is TensorFlow Serving running there?'


def _timed_out(where, timeout):
  return (f'no answer from {where} within {timeout:g} s; the server is busy '
          'or stuck, or needs a longer timeout')


def _http_error(url, status, reason, detail):
  """The message for an HTTP error status, with the server's explanation."""
  detail = detail.decode('utf-8', 'replace')
  try:
    # TF Serving puts the error (e.g. a failed input check) in a JSON body.
    detail = json.loads(detail)['error']
  except (ValueError, KeyError, TypeError, RecursionError):
    pass
  detail = f': {_one_line(detail)}' if str(detail).strip() else ''
  hint = '; check the model name and version' if status == 404 else ''
  return f'{url}: HTTP {status} {reason}{detail}{hint}'


class _TooLarge(Exception):
  """The answer is longer than the caller allows."""


def _post(url, data, deadline, max_bytes):
  """POSTs `data` to `url`; (status, reason, body bytearray) of the answer.

  A watchdog shuts the socket down at `deadline` (time.monotonic()), so a
  server that trickles its answer cannot hold the client past it.

  Raises:
    TimeoutError: the deadline passed.
    _TooLarge: the answer has more than `max_bytes` bytes.
    http.client.IncompleteRead: the connection closed before the announced
      length arrived.
    OSError, http.client.HTTPException: the connection failed.
  """
  parts = urllib.parse.urlsplit(url)
  connection = (http.client.HTTPSConnection if parts.scheme == 'https' else
                http.client.HTTPConnection)(
                    parts.hostname, parts.port, timeout=_left(deadline))
  watchdog = None
  try:
    connection.connect()  # Bounded by the connection's timeout.
    # The socket itself: the connection drops it once a response that
    # closes the connection has started.
    watchdog = threading.Timer(_left(deadline), _shut_down, (connection.sock,))
    watchdog.start()
    connection.request('POST', parts.path or '/', body=data,
                       headers={'Content-Type': 'application/json'})
    response = connection.getresponse()
    announced = response.length  # Content-Length; None if absent or invalid.
    if (announced or 0) > max_bytes:
      raise _TooLarge()
    answer = bytearray()  # Grown in place: no second copy to join.
    while chunk := response.read1(1 << 16):
      if len(answer) + len(chunk) > max_bytes:
        raise _TooLarge()
      answer += chunk
    if time.monotonic() >= deadline:  # Cut short by the watchdog.
      raise TimeoutError()
    if announced is not None and len(answer) < announced:
      raise http.client.IncompleteRead(bytes(answer),
                                       announced - len(answer))
    return response.status, response.reason, answer
  except (OSError, http.client.HTTPException):
    if time.monotonic() >= deadline:
      raise TimeoutError() from None
    raise
  finally:
    if watchdog:
      watchdog.cancel()
    connection.close()


def _left(deadline):
  """Seconds to `deadline`, at least a millisecond (sockets need > 0)."""
  return max(deadline - time.monotonic(), 1e-3)


def _shut_down(sock):
  """Ends a blocked read of `sock`: it raises or returns at once."""
  try:
    sock.shutdown(socket.SHUT_RDWR)
  except OSError:
    pass


def rest_predict(url, body, timeout=DEFAULT_TIMEOUT_S,
                 max_bytes=DEFAULT_MAX_RESPONSE_BYTES):
  """POSTs a request body to `url`; returns `decode_rest_response` of it.

  Args:
    url: from `rest_url`.
    body: a request dict (`columnar_request`, `instances_request`).
    timeout: seconds for the whole request, connection to last byte.
    max_bytes: the longest answer read; decoding it takes up to
      `MEMORY_PER_ANSWER_BYTE` times its length in memory (JSON's nested
      lists of Python floats; tests/test_client_errors.py measures it).

  Raises:
    ValueError: `timeout` is not in (0, `MAX_TIMEOUT_S`].
    ServingError: the server cannot be reached, does not answer within
      `timeout` seconds, answers with an HTTP error, a redirection, part of
      an answer or more than `max_bytes`, or its answer is not a prediction.
  """
  check_timeout(timeout)
  try:
    status, reason, answer = _post(url, json.dumps(body).encode(),
                                   time.monotonic() + timeout, max_bytes)
  except TimeoutError as e:
    raise ServingError(_timed_out(url, timeout)) from e
  except _TooLarge as e:
    raise ServingError(
        f'{url}: the answer is longer than {max_bytes / 2**20:g} MiB; ask '
        'for fewer samples or raise --max_response_mb') from e
  except (ConnectionRefusedError, socket.gaierror) as e:
    raise ServingError(_unreachable(url, e)) from e
  except http.client.IncompleteRead as e:
    raise ServingError(
        f'{url}: the connection closed after {len(e.partial)} bytes of the '
        f'answer, {e.expected} short of its announced length; the server '
        'stopped or restarted, try again') from e
  except http.client.HTTPException as e:
    raise ServingError(
        f'{url}: the answer is not HTTP ({type(e).__name__}); is this the '
        f'REST port ({REST_PORT}) of TensorFlow Serving?') from e
  except OSError as e:
    raise ServingError(f'{url}: the connection failed ({_one_line(e)})') from e
  if status >= 300:  # Redirections too: a predict call is not redirected.
    raise ServingError(_http_error(url, status, reason, bytes(answer)))
  # Each form of the answer (bytes, text, lists, arrays) is dropped as soon
  # as the next is made.
  answer = [answer.decode('utf-8', 'replace')]
  try:
    return _decode_rest_response(_json_loads(answer), owned=True)
  except ServingError as e:
    raise ServingError(f'{url}: {e}') from e


def _serving_apis():
  """tensorflow and the serving protos, imported only when gRPC is used."""
  # pylint: disable=g-import-not-at-top
  try:
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2
    from tensorflow_serving.apis import prediction_service_pb2_grpc
  except ImportError as e:
    raise ImportError(f'{_SERVING_API_MISSING} ({e})') from e
  return tf, predict_pb2, prediction_service_pb2_grpc


def grpc_predict_request(model_name, inputs, dtypes,
                         signature_name='serving_default', version=None):
  """A gRPC `PredictRequest` for `model_name`.

  Args:
    model_name: the served model's name.
    inputs: dict input name -> array-like (the whole tensor).
    dtypes: dict input name -> NumPy dtype of the signature's input.
    signature_name: the signature to call.
    version: a model version (default: the server's choice, the latest).

  Returns:
    A `tensorflow_serving.apis.predict_pb2.PredictRequest`.

  Raises:
    ValueError: an integer input does not fit in its dtype, `model_name` is
      empty or `version` is not a positive int64.
  """
  _check_model(model_name, version)
  for name, value in inputs.items():
    if np.issubdtype(np.dtype(dtypes[name]), np.integer):
      _check_fits(name, value, dtypes[name])
  tf, predict_pb2, _ = _serving_apis()
  request = predict_pb2.PredictRequest()
  request.model_spec.name = model_name
  request.model_spec.signature_name = signature_name
  if version is not None:
    request.model_spec.version.value = int(version)
  for name, value in inputs.items():
    request.inputs[name].CopyFrom(tf.make_tensor_proto(
        np.asarray(value, dtype=dtypes[name])))
  return request


def decode_grpc_response(response):
  """Output arrays of a `PredictResponse`, by output name."""
  tf, _, _ = _serving_apis()
  return {name: tf.make_ndarray(proto)
          for name, proto in response.outputs.items()}


def grpc_target(server):
  """`server` as a gRPC target, after checking that it is host:port.

  Raises:
    ValueError: `server` is a URL, or has no host or an invalid port.
  """
  example = f'localhost:{GRPC_PORT}'
  if '://' in server:
    raise ValueError(f'server {server!r} is a URL; gRPC takes host:port, e.g. '
                     f'{example}.')
  parts = _checked_address(server, '//' + server, example)
  if parts.port is None or parts.path:
    raise ValueError(f'server {server!r} is not host:port; expected host:port, '
                     f'e.g. {example}.')
  return server


def grpc_predict(target, request, timeout=DEFAULT_TIMEOUT_S,
                 max_bytes=DEFAULT_MAX_RESPONSE_BYTES):
  """Sends a `PredictRequest` to `target` (host:port); returns its outputs.

  Raises:
    ValueError: `target` is not host:port, or `timeout` not in (0,
      `MAX_TIMEOUT_S`].
    ServingError: the call fails: the server cannot be reached, does not
      answer within `timeout` seconds (the whole call), answers with more
      than `max_bytes`, or returns an error status.
  """
  grpc_target(target)
  check_timeout(timeout)
  _, _, service = _serving_apis()
  import grpc  # pylint: disable=g-import-not-at-top
  options = [('grpc.max_receive_message_length',
              min(int(max_bytes), _MAX_GRPC_MESSAGE_BYTES))]
  with grpc.insecure_channel(target, options=options) as channel:
    stub = service.PredictionServiceStub(channel)
    try:
      response = stub.Predict(request, timeout=timeout)
    except grpc.RpcError as e:
      if e.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
        raise ServingError(_timed_out(target, timeout)) from e
      if e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
        raise ServingError(
            f'{target}: the answer is longer than {max_bytes / 2**20:g} MiB '
            f'({_one_line(e.details())}); ask for fewer samples or raise '
            '--max_response_mb') from e
      if e.code() == grpc.StatusCode.UNAVAILABLE:
        refused = 'connection refused' in (e.details() or '').lower()
        raise ServingError(_unreachable(
            target, ConnectionRefusedError() if refused else e.details())) from e
      raise ServingError(f'{target}: gRPC {e.code().name}: '
                         f'{_one_line(e.details())}') from e
  return decode_grpc_response(response)


def _number(text):
  try:
    return float(text)
  except ValueError:
    raise argparse.ArgumentTypeError(f'not a number: {text}') from None


def _positive_number(text):
  """A finite number > 0."""
  value = _number(text)
  if not (value > 0 and math.isfinite(value)):
    raise argparse.ArgumentTypeError(f'must be positive, got {text}')
  return value


def _timeout(text):
  """Seconds in (0, `MAX_TIMEOUT_S`] (sockets and timers overflow past)."""
  try:
    check_timeout(value := _number(text))
  except ValueError as e:
    raise argparse.ArgumentTypeError(str(e)) from None
  return value


def output_path(output):
  """The .npz file written for `output`: .npz is added when missing.

  A folder is refused rather than written into, so that the path given is
  the path written (with .npz added).

  Raises:
    ValueError: `output` is empty or a folder, or its folder does not exist.
  """
  if not output:
    raise ValueError('--output is empty; give the .npz file to write, e.g. '
                     '--output=samples.npz')
  path = output if output.endswith('.npz') else output + '.npz'
  if os.path.isdir(output) or output.endswith(os.sep):
    raise ValueError(f'--output={output} names a folder; give the .npz file '
                     'to write, e.g. --output=samples.npz')
  folder = os.path.dirname(path) or os.curdir
  if not os.path.isdir(folder):
    raise ValueError(f'cannot write {path}: the folder {folder} does not '
                     'exist')
  return path


def check_sample_outputs(outputs, num_samples):
  """Raises `ServingError` unless `outputs` (name -> array) is an answer of
  the `sample` signature to a request for `num_samples`: `SAMPLE_OUTPUTS`
  present, finite, with `num_samples` rows each, and every name a plain
  file name (it becomes an .npz entry)."""
  missing = [name for name in SAMPLE_OUTPUTS if name not in outputs]
  if missing:
    raise ServingError(
        f'the answer lacks the sample outputs {missing} (it has '
        f'{sorted(outputs)[:10]}); is --model_name a dvae_tf export?')
  for name in outputs:
    if not _OUTPUT_NAME.fullmatch(name):
      raise ServingError(f'the answer has an output named {name[:60]!r}, '
                         'which is not a plain file name; nothing was written')
  for name in SAMPLE_OUTPUTS:
    if outputs[name].dtype.kind == 'f' and not np.all(
        np.isfinite(outputs[name])):
      raise ServingError(f'the sample output {name!r} holds NaN or infinite '
                         'values; nothing was written')
  shapes = [outputs[name].shape for name in SAMPLE_OUTPUTS]
  if any(shape[:1] != (num_samples,) for shape in shapes):
    raise ServingError(
        f'the sample outputs {list(SAMPLE_OUTPUTS)} have shapes {shapes}, not '
        f'{num_samples} rows each for --num_samples={num_samples}')


def save_outputs(path, outputs):
  """Writes `outputs` to the .npz file `path`, as `np.savez` would.

  Any output name is kept (`np.savez` takes them as keyword arguments, so
  'file' would clash with its own). The file is written beside `path` and
  renamed into place, so `path` is whole or untouched.

  Args:
    path: the file to write (from `output_path`).
    outputs: dict name -> array of numbers.

  Raises:
    OSError: `path` cannot be written.
  """
  staging = f'{path}.{os.getpid()}.tmp'
  try:
    with zipfile.ZipFile(staging, 'w', allowZip64=True) as archive:
      for name, value in outputs.items():
        with archive.open(f'{name}.npy', 'w', force_zip64=True) as entry:
          np.lib.format.write_array(entry, np.asanyarray(value),
                                    allow_pickle=False)
    os.replace(staging, path)
  except BaseException:
    if os.path.exists(staging):
      os.remove(staging)
    raise


class _OneLineParser(argparse.ArgumentParser):
  """Usage errors as one `error: ...` line (exit 2), like every other
  failure, not argparse's usage block."""

  def error(self, message):
    print(f'error: {message.rstrip(".")}; see --help', file=sys.stderr)
    sys.exit(2)


def main(argv=None):
  """Requests samples and saves them; returns the exit status.

  Args:
    argv: the command-line arguments (default: `sys.argv[1:]`).

  Returns:
    0; 1 after printing `error: ...` for a failed request; 130 after
    printing that Ctrl-C interrupted it.
  """
  parser = _OneLineParser(description=__doc__.split('\n')[0])
  parser.add_argument('--server', default=f'localhost:{REST_PORT}',
                      help='host:port of the REST (8501) or gRPC (8500) API')
  parser.add_argument('--protocol', choices=('rest', 'grpc'), default='rest')
  parser.add_argument('--model_name', default='dvae')
  parser.add_argument('--version', type=int, default=None)
  parser.add_argument('--num_samples', type=int, default=4)
  parser.add_argument('--seed', type=int, nargs=2, default=(0, 0))
  parser.add_argument('--timeout', type=_timeout,
                      default=DEFAULT_TIMEOUT_S,
                      help='seconds for the whole request, at most '
                      f'{MAX_TIMEOUT_S:g}')
  parser.add_argument('--max_response_mb', type=_positive_number,
                      default=DEFAULT_MAX_RESPONSE_BYTES / 2**20,
                      help='the longest answer accepted, in MiB; decoding '
                      f'takes up to {MEMORY_PER_ANSWER_BYTE} times as much '
                      'memory')
  parser.add_argument('--output', default='samples.npz',
                      help='the .npz file the `sample` outputs go to (the '
                      'extension is added when missing; a folder is '
                      'refused)')
  args = parser.parse_args(argv)
  inputs = {'num_samples': args.num_samples, 'seed': list(args.seed)}
  max_bytes = max(int(args.max_response_mb * 2**20), 1)
  try:
    return _request_and_save(args, inputs, max_bytes)
  except KeyboardInterrupt:
    print('error: interrupted; nothing was written', file=sys.stderr)
    return 130


def _request_and_save(args, inputs, max_bytes):
  """`main` after parsing: the request, then the file; the exit status."""
  try:
    check_sample_inputs(args.num_samples, args.seed)
    path = output_path(args.output)
    if args.protocol == 'rest':
      outputs = rest_predict(rest_url(args.server, args.model_name,
                                      args.version),
                             columnar_request(inputs, 'sample'), args.timeout,
                             max_bytes)
    else:
      target = grpc_target(args.server)  # Before importing TensorFlow.
      request = grpc_predict_request(
          args.model_name, inputs, {'num_samples': np.int32, 'seed': np.int32},
          'sample', args.version)
      outputs = grpc_predict(target, request, args.timeout, max_bytes)
  except (ServingError, ValueError, ImportError) as e:
    print(f'error: {e}', file=sys.stderr)
    return 1
  try:
    check_sample_outputs(outputs, args.num_samples)
  except ServingError as e:
    print(f'error: {args.server}: {e}', file=sys.stderr)
    return 1
  try:
    save_outputs(path, outputs)
  except OSError as e:
    print(f'error: cannot write {path}: {e.strerror or e}', file=sys.stderr)
    return 1
  print({name: value.shape for name, value in outputs.items()}, f'-> {path}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
