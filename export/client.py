"""A small client for a DVAE model served by TensorFlow Serving.

Request builders for the REST API (JSON, row `instances` or columnar
`inputs` format) and the gRPC API (`PredictRequest`, from the optional
`tensorflow-serving-api` package), response decoders, and the decoding of a
REST request the way the server does it (for tests that feed requests to a
loaded SavedModel without a server).

  python export/client.py --server=localhost:8501 --model_name=dvae \\
      --num_samples=4 --output=samples.npz
  python export/client.py --server=localhost:8500 --protocol=grpc ...

The signatures and their inputs are listed in the export's metadata.json and
by `saved_model_cli show --all --dir <export>/<version>`.
"""

import argparse
import json
import urllib.error
import urllib.request

import numpy as np

REST_PORT = 8501
GRPC_PORT = 8500
_SERVING_API_MISSING = (
    'gRPC requests need the TensorFlow Serving API protos: pip install '
    'tensorflow-serving-api (or pip install "dvae_tf[serving]").')


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
  """
  if isinstance(body, (str, bytes)):
    body = json.loads(body)
  if 'error' in body:
    raise RuntimeError(f'Server error: {body["error"]}')
  if 'predictions' in body:
    rows = body['predictions']
    if rows and isinstance(rows[0], dict):
      return {name: np.asarray([row[name] for row in rows])
              for name in rows[0]}
    return {'output': np.asarray(rows)}
  outputs = body['outputs']
  if isinstance(outputs, dict):
    return {name: np.asarray(v) for name, v in outputs.items()}
  return {'output': np.asarray(outputs)}


def rest_url(server, model_name, version=None):
  """The REST predict URL, e.g. http://localhost:8501/v1/models/dvae:predict."""
  if '://' not in server:
    server = 'http://' + server
  path = f'/v1/models/{model_name}'
  if version is not None:
    path += f'/versions/{int(version)}'
  return f'{server.rstrip("/")}{path}:predict'


def rest_predict(url, body, timeout=60.):
  """POSTs a request body to `url`; returns `decode_rest_response` of it."""
  request = urllib.request.Request(
      url, data=json.dumps(body).encode(),
      headers={'Content-Type': 'application/json'})
  try:
    with urllib.request.urlopen(request, timeout=timeout) as response:
      return decode_rest_response(response.read())
  except urllib.error.HTTPError as e:
    # TF Serving puts the error (e.g. a failed input check) in the body.
    raise RuntimeError(f'{url}: HTTP {e.code}: {e.read().decode()}') from e


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
  """
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


def grpc_predict(target, request, timeout=60.):
  """Sends a `PredictRequest` to `target` (host:port); returns its outputs."""
  _, _, service = _serving_apis()
  import grpc  # pylint: disable=g-import-not-at-top
  with grpc.insecure_channel(target) as channel:
    stub = service.PredictionServiceStub(channel)
    return decode_grpc_response(stub.Predict(request, timeout=timeout))


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--server', default=f'localhost:{REST_PORT}',
                      help='host:port of the REST (8501) or gRPC (8500) API')
  parser.add_argument('--protocol', choices=('rest', 'grpc'), default='rest')
  parser.add_argument('--model_name', default='dvae')
  parser.add_argument('--version', type=int, default=None)
  parser.add_argument('--num_samples', type=int, default=4)
  parser.add_argument('--seed', type=int, nargs=2, default=(0, 0))
  parser.add_argument('--output', default='samples.npz',
                      help='where the `sample` outputs go (.npz)')
  args = parser.parse_args()
  inputs = {'num_samples': args.num_samples, 'seed': list(args.seed)}
  if args.protocol == 'rest':
    outputs = rest_predict(rest_url(args.server, args.model_name,
                                    args.version),
                           columnar_request(inputs, 'sample'))
  else:
    request = grpc_predict_request(
        args.model_name, inputs, {'num_samples': np.int32, 'seed': np.int32},
        'sample', args.version)
    outputs = grpc_predict(args.server, request)
  np.savez(args.output, **outputs)
  print({name: value.shape for name, value in outputs.items()},
        f'-> {args.output}')


if __name__ == '__main__':
  main()
