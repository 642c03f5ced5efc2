"""SavedModel export: the signatures in a fresh process, saved_model_cli, the
serving client's requests, and the in-graph checks of bad inputs."""

import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from dvae_tf.binaries import cli
from dvae_tf import data
from dvae_tf.evaluation import bound as evaluation
from dvae_tf import export
from dvae_tf import models
from dvae_tf import run_directory
from dvae_tf import training

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = models.ModelConfig(struct='2-layer-lin', prior='rbm', units_per_group=8,
                           num_chains=16, num_gibbs_sweeps=2)
TRAIN = training.TrainConfig(dataset='sample', num_steps=20, batch_size=20,
                             image_every=0, log_z_every=0)
NUM_UNITS = 16
NUM_IMAGES = 20
NUM_IMPORTANCE_SAMPLES = 20
EVAL_RECORD = {'nll': 123.25, 'stderr': 1.5, 'num_importance_samples': 5}


def load_client():
  """export/client.py, a script folder rather than a package."""
  spec = importlib.util.spec_from_file_location(
      'serving_client', os.path.join(REPO, 'export', 'client.py'))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


client = load_client()


@dataclasses.dataclass
class Exported:
  run_dir: str
  export_dir: str
  path: str
  metadata: dict


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
  run_dir = str(tmp_path_factory.mktemp('model'))
  training.train(MODEL, TRAIN, run_dir, verbose=False)
  with open(os.path.join(run_dir, 'eval_test.json'), 'w') as f:
    json.dump(EVAL_RECORD, f)
  export_dir = str(tmp_path_factory.mktemp('exports'))
  path = export.export(run_dir, export_dir, ais_chains=16, ais_temperatures=20)
  with open(os.path.join(path, export.METADATA_FILE)) as f:
    metadata = json.load(f)
  return Exported(run_dir, export_dir, path, metadata)


@pytest.fixture(scope='module')
def live(exported):
  model = run_directory.restore_model(exported.run_dir).model
  model.prior.refresh_log_normalizer()  # The export's log Z (exact).
  return model


@pytest.fixture(scope='module')
def loaded(exported):
  return tf.saved_model.load(exported.path)


@pytest.fixture(scope='module')
def images():
  return data.load_images('sample', 'test')[:NUM_IMAGES]


def input_dtypes(signature):
  """Input name -> NumPy dtype of a loaded signature."""
  return {name: spec.dtype.as_numpy_dtype
          for name, spec in signature.structured_input_signature[1].items()}


def call(signature, inputs):
  """Calls a loaded signature with NumPy inputs; NumPy outputs."""
  dtypes = input_dtypes(signature)
  outputs = signature(**{name: tf.constant(value, dtypes[name])
                         for name, value in inputs.items()})
  return {name: value.numpy() for name, value in outputs.items()}


# The export, loaded by a process that imports TensorFlow and nothing of ours.

FRESH_PROCESS = """
import json
import sys

import numpy as np
import tensorflow as tf

path, images_file, k, out = sys.argv[1:]
loaded = tf.saved_model.load(path)
sigs = loaded.signatures
x = tf.constant(np.load(images_file))
results = {}

def record(prefix, outputs):
  for name, value in outputs.items():
    results[prefix + '/' + name] = value.numpy()

n, seed = tf.constant(6), tf.constant([3, 4])
record('sample', sigs['sample'](num_samples=n, seed=seed))
record('sample_again', sigs['sample'](num_samples=n, seed=seed))
record('sample_other', sigs['sample'](num_samples=n, seed=tf.constant([3, 5])))
record('serving_default', sigs['serving_default'](num_samples=n, seed=seed))
record('encode', sigs['encode'](images=x))
record('reconstruct', sigs['reconstruct'](images=x))
record('log_likelihood', sigs['log_likelihood'](
    images=x, num_importance_samples=tf.constant(int(k))))
np.savez(out, **results)
with open(loaded.metadata.asset_path.numpy().decode()) as f:
  metadata = json.load(f)

# A TF1 session, as TF Serving runs the SavedModel: the checks hold there too.
with tf.Graph().as_default(), tf.compat.v1.Session() as session:
  signature = tf.compat.v1.saved_model.load(
      session, ['serve'], path).signature_def['sample']
  try:
    session.run(signature.outputs['latents'].name,
                {signature.inputs['num_samples'].name: 0,
                 signature.inputs['seed'].name: [1, 2]})
    session_error = None
  except tf.errors.InvalidArgumentError as e:
    session_error = e.message

print(json.dumps({'ours_imported': sorted(
                      m for m in sys.modules if m.startswith('dvae_tf')),
                  'signatures': sorted(sigs), 'metadata': metadata,
                  'session_error': session_error}))
"""


@pytest.fixture(scope='module')
def fresh(exported, images, tmp_path_factory):
  """Outputs of every signature, computed in a separate process."""
  tmp = tmp_path_factory.mktemp('fresh')
  np.save(tmp / 'images.npy', images)
  out = subprocess.run(
      [sys.executable, '-c', FRESH_PROCESS, exported.path,
       str(tmp / 'images.npy'), str(NUM_IMPORTANCE_SAMPLES),
       str(tmp / 'out.npz')],
      capture_output=True, text=True, timeout=300, cwd=str(tmp))
  assert out.returncode == 0, out.stderr[-3000:]
  report = json.loads(out.stdout.strip().splitlines()[-1])
  with np.load(tmp / 'out.npz') as f:
    return report, dict(f)


def test_fresh_process_loads_every_signature(fresh, exported):
  report, _ = fresh
  assert report['ours_imported'] == []
  assert report['signatures'] == sorted(export.SIGNATURES +
                                        ('serving_default',))
  assert report['metadata'] == exported.metadata
  assert 'num_samples must be a positive integer' in report['session_error']


def test_sample_shapes_ranges_and_seeds(fresh, live):
  _, out = fresh
  means, latents = out['sample/images'], out['sample/latents']
  assert means.shape == (6, 28, 28, 1) and means.dtype == np.float32
  assert latents.shape == (6, NUM_UNITS) and latents.dtype == np.float32
  assert np.all((means >= 0.) & (means <= 1.))
  assert set(np.unique(latents)) <= {0., 1.}
  np.testing.assert_array_equal(out['sample_again/images'], means)
  np.testing.assert_array_equal(out['sample_again/latents'], latents)
  np.testing.assert_array_equal(out['serving_default/latents'], latents)
  assert not np.array_equal(out['sample_other/latents'], latents)
  # The graph's block Gibbs chain is the live model's, sweep for sweep.
  live_means, live_latents = live.sample(6, tf.constant([3, 4]))
  np.testing.assert_array_equal(latents, live_latents.numpy())
  np.testing.assert_allclose(means, live_means.numpy(), atol=1e-6)


def test_the_client_knows_the_sample_signatures_outputs(loaded):
  """export/client.py refuses answers without `SAMPLE_OUTPUTS`; they are
  the outputs the export's `sample` signature has."""
  outputs = loaded.signatures['sample'].structured_outputs
  assert sorted(outputs) == sorted(client.SAMPLE_OUTPUTS)


def test_encode_and_reconstruct_match_the_live_model(fresh, live, images):
  _, out = fresh
  probabilities, code = out['encode/probabilities'], out['encode/code']
  assert probabilities.shape == code.shape == (NUM_IMAGES, NUM_UNITS)
  assert np.all((probabilities >= 0.) & (probabilities <= 1.))
  assert set(np.unique(code)) <= {0., 1.}
  posterior, _ = live.encode_binary(tf.constant(images))
  np.testing.assert_array_equal(code, tf.concat(posterior.zetas, -1).numpy())
  np.testing.assert_allclose(
      probabilities, tf.sigmoid(tf.concat(posterior.params, -1)).numpy(),
      atol=1e-6)
  # The mode path: each code bit is its probability rounded.
  np.testing.assert_array_equal(code, (probabilities > 0.5).astype(np.float32))
  reconstructions = out['reconstruct/reconstructions']
  assert reconstructions.shape == images.shape
  np.testing.assert_allclose(reconstructions, live.reconstruct(images).numpy(),
                             atol=1e-6)


def test_log_likelihood_matches_the_library_bound(fresh, live, exported,
                                                  images):
  _, out = fresh
  exported_ll = out['log_likelihood/log_likelihood']
  assert exported_ll.shape == (NUM_IMAGES,) and np.all(exported_ll < 0.)

  def library(seed):
    return evaluation.importance_weighted_bound(
        live, images, NUM_IMPORTANCE_SAMPLES, seed=seed).numpy()

  # Same seed: the same draws.
  np.testing.assert_allclose(exported_ll, library(export.LOG_LIKELIHOOD_SEED),
                             rtol=1e-5)
  # Other draws: equal means within Monte Carlo error.
  other = library((7, 8))
  difference = exported_ll - other
  tolerance = 4. * difference.std(ddof=1) / np.sqrt(NUM_IMAGES) + 1e-3
  assert abs(difference.mean()) < tolerance


def test_metadata(exported, live):
  metadata = exported.metadata
  assert metadata['log_z_method'] == 'exact'
  assert metadata['log_z_stderr'] == 0.
  np.testing.assert_allclose(metadata['log_z'],
                             live.prior.refresh_log_normalizer().value,
                             rtol=1e-6)
  assert metadata['step'] == TRAIN.num_steps
  assert metadata['dataset'] == 'sample' and metadata['binary_pixels']
  assert metadata['max_pixel_value'] == 1.
  assert metadata['model_config'] == MODEL.to_dict()
  assert metadata['test_evaluation'] == EVAL_RECORD
  assert metadata['image_shape'] == [28, 28, 1]
  assert metadata['num_latent_units'] == NUM_UNITS
  assert metadata['sample_gibbs_sweeps'] == MODEL.num_gibbs_sweeps
  assert metadata['versions']['tensorflow'] == tf.__version__
  assert set(metadata['signatures']) == set(export.SIGNATURES)
  with open(os.path.join(exported.path, 'assets', export.METADATA_FILE)) as f:
    assert json.load(f) == metadata


def test_versions(exported, tmp_path):
  versions = [int(n) for n in os.listdir(exported.export_dir)]
  assert 1 in versions
  assert export.next_version(exported.export_dir) == max(versions) + 1
  with pytest.raises(FileExistsError, match='never overwritten'):
    export.export(exported.run_dir, exported.export_dir, version=1)
  with pytest.raises(ValueError, match='positive integer'):
    export.version_path(exported.export_dir, 0)
  for name in ('3', '.4-staging', 'notes'):
    os.makedirs(tmp_path / name)
  assert export.next_version(str(tmp_path)) == 4
  assert export.next_version(str(tmp_path / 'missing')) == 1


def test_binary_exports_the_next_version(exported, server):
  version = str(export.next_version(exported.export_dir))
  out = server.run(['export.py', f'--run_dir={exported.run_dir}',
                    f'--export_dir={exported.export_dir}'], timeout=300)
  assert out.returncode == 0, out.stderr[-3000:]
  path = os.path.join(exported.export_dir, version)
  assert path in out.stdout
  assert os.path.exists(os.path.join(path, 'saved_model.pb'))
  # Only version folders: the staging folder was renamed into place.
  assert all(n.isdigit() for n in os.listdir(exported.export_dir))


# saved_model_cli: the signatures as TF Serving reads them, run in a TF1
# session.

def _saved_model_cli(server, *args):
  # The `saved_model_cli` program of the TensorFlow this test runs with.
  return server.run(['-m', 'tensorflow.python.tools.saved_model_cli', *args],
                    timeout=300)


def test_saved_model_cli_show_and_run(exported, server, tmp_path):
  out = _saved_model_cli(server, 'show', '--all', '--dir', exported.path)
  assert out.returncode == 0, out.stderr[-3000:]
  text = out.stdout
  for name in export.SIGNATURES + ('serving_default',):
    assert f"signature_def['{name}']" in text
  for name in ('num_samples', 'seed', 'images', 'num_importance_samples'):
    assert f"inputs['{name}'] tensor_info" in text
  for name in ('latents', 'probabilities', 'code', 'reconstructions',
               'log_likelihood'):
    assert f"outputs['{name}'] tensor_info" in text
  assert 'shape: (-1, 28, 28, 1)' in text
  assert f'shape: (-1, {NUM_UNITS})' in text
  assert 'DT_INT32' in text and 'DT_FLOAT' in text

  run = ['run', '--dir', exported.path, '--tag_set', 'serve',
         '--signature_def', 'sample', '--outdir', str(tmp_path)]
  out = _saved_model_cli(server, *run, '--input_exprs',
                         'num_samples=3;seed=[1,2]')
  assert out.returncode == 0, out.stderr[-3000:]
  means = np.load(tmp_path / 'images.npy')
  latents = np.load(tmp_path / 'latents.npy')
  assert means.shape == (3, 28, 28, 1) and latents.shape == (3, NUM_UNITS)
  assert np.all((means >= 0.) & (means <= 1.))
  assert set(np.unique(latents)) <= {0., 1.}


# The serving client's requests, decoded as TF Serving decodes them.

def request_cases(images):
  x = images[:4]
  return {
      'sample': {'num_samples': 5, 'seed': [2, 9]},
      'encode': {'images': x},
      'reconstruct': {'images': x},
      'log_likelihood': {'images': x, 'num_importance_samples': 7},
  }


@pytest.mark.parametrize('name', export.SIGNATURES)
def test_rest_columnar_requests(loaded, images, name):
  inputs = request_cases(images)[name]
  signature = loaded.signatures[name]
  body = json.dumps(client.columnar_request(inputs, name))
  decoded = client.decode_rest_request(body, input_dtypes(signature))
  assert json.loads(body)['signature_name'] == name
  via_request = call(signature, decoded)
  direct = call(signature, inputs)
  assert set(via_request) == set(direct)
  for key in direct:
    np.testing.assert_array_equal(via_request[key], direct[key])
  # A response in the server's columnar format decodes to the same arrays.
  response = json.dumps({'outputs': {k: v.tolist() for k, v in direct.items()}})
  for key, value in client.decode_rest_response(response).items():
    np.testing.assert_allclose(value, direct[key], rtol=1e-6)


@pytest.mark.parametrize('name', ['encode', 'reconstruct'])
def test_rest_row_requests(loaded, images, name):
  inputs = request_cases(images)[name]
  signature = loaded.signatures[name]
  body = json.dumps(client.instances_request(inputs, name))
  assert len(json.loads(body)['instances']) == 4
  decoded = client.decode_rest_request(body, input_dtypes(signature))
  via_request = call(signature, decoded)
  direct = call(signature, inputs)
  for key in direct:
    np.testing.assert_array_equal(via_request[key], direct[key])
  rows = [{k: v[i].tolist() for k, v in direct.items()} for i in range(4)]
  for key, value in client.decode_rest_response(
      json.dumps({'predictions': rows})).items():
    np.testing.assert_allclose(value, direct[key], rtol=1e-6)


def test_row_format_refuses_scalar_inputs(images):
  with pytest.raises(ValueError, match='columnar_request'):
    client.instances_request(request_cases(images)['sample'], 'sample')
  with pytest.raises(ValueError, match='columnar_request'):
    client.instances_request(request_cases(images)['log_likelihood'])
  with pytest.raises(ValueError, match='exactly one of'):
    client.decode_rest_request({'signature_name': 'sample'}, {})


def test_rest_url():
  assert (client.rest_url('localhost:8501', 'dvae') ==
          'http://localhost:8501/v1/models/dvae:predict')
  assert (client.rest_url('http://host:1/', 'dvae', version=3) ==
          'http://host:1/v1/models/dvae/versions/3:predict')


@pytest.mark.parametrize('name', export.SIGNATURES)
def test_grpc_requests(loaded, images, name):
  predict_pb2 = pytest.importorskip('tensorflow_serving.apis.predict_pb2')
  inputs = request_cases(images)[name]
  signature = loaded.signatures[name]
  request = client.grpc_predict_request('dvae', inputs,
                                        input_dtypes(signature), name,
                                        version=1)
  # What travels over the wire.
  request = predict_pb2.PredictRequest.FromString(request.SerializeToString())
  assert request.model_spec.name == 'dvae'
  assert request.model_spec.signature_name == name
  assert request.model_spec.version.value == 1
  decoded = {key: tf.make_ndarray(proto)
             for key, proto in request.inputs.items()}
  via_request = call(signature, decoded)
  direct = call(signature, inputs)
  for key in direct:
    np.testing.assert_array_equal(via_request[key], direct[key])


def test_grpc_without_serving_api_says_what_to_install(monkeypatch):
  monkeypatch.setitem(sys.modules, 'tensorflow_serving', None)
  monkeypatch.setitem(sys.modules, 'tensorflow_serving.apis', None)
  with pytest.raises(ImportError, match='pip install tensorflow-serving-api'):
    client.grpc_predict_request('dvae', {'num_samples': 1},
                                {'num_samples': np.int32})


# Bad inputs: INVALID_ARGUMENT naming the input, from inside the graph.

IMAGE_SIGNATURES = ('encode', 'reconstruct', 'log_likelihood')


def _with_images(name, x):
  inputs = {'images': x}
  if name == 'log_likelihood':
    inputs['num_importance_samples'] = 3
  return inputs


def _bad_images(kind, images):
  x = images[:2]
  return {
      'wrong_rank': x[0],
      'wrong_size': x[:, :27],
      'out_of_range': np.where(x > 0, 1.5, 0.).astype(np.float32),
      'negative': x - 1.,
      'not_a_number': np.full_like(x, np.nan),
      'non_binary': np.full_like(x, 0.5),
  }[kind]


IMAGE_ERRORS = {
    'wrong_rank': r'images must have shape \[N, 28, 28, 1\]; got shape\] '
                  r'\[28 28 1\]',
    'wrong_size': r'images must have shape \[N, 28, 28, 1\]; got shape\] '
                  r'\[2 27 28 1\]',
    'out_of_range': r'images: pixel values must lie in \[0, 1\]',
    'negative': r'images: pixel values must lie in \[0, 1\]',
    'not_a_number': r'images: pixel values must lie in \[0, 1\]',
    'non_binary': r'images: this model takes binary pixels, 0 or 1',
}


@pytest.mark.parametrize('kind', sorted(IMAGE_ERRORS))
@pytest.mark.parametrize('name', IMAGE_SIGNATURES)
def test_bad_images_are_rejected(loaded, images, name, kind):
  inputs = _with_images(name, _bad_images(kind, images))
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match=IMAGE_ERRORS[kind]):
    call(loaded.signatures[name], inputs)


BAD_COUNTS = {
    'zero_samples': ('sample', {'num_samples': 0, 'seed': [1, 2]},
                     r'num_samples must be a positive integer; got\] \[0\]'),
    'negative_samples': ('sample', {'num_samples': -3, 'seed': [1, 2]},
                         r'num_samples must be a positive integer'),
    'zero_importance_samples': (
        'log_likelihood', {'num_importance_samples': 0},
        r'num_importance_samples must be a positive integer'),
    'vector_samples': ('sample', {'num_samples': [4], 'seed': [1, 2]},
                       r'num_samples must be a scalar; got shape\] \[1\]'),
    'vector_importance_samples': (
        'log_likelihood', {'num_importance_samples': [4, 4]},
        r'num_importance_samples must be a scalar'),
    'seed_of_three': ('sample', {'num_samples': 2, 'seed': [1, 2, 3]},
                      r'seed must be an int32 vector of shape \[2\]; got '
                      r'shape\] \[3\]'),
    'scalar_seed': ('sample', {'num_samples': 2, 'seed': 1},
                    r'seed must be an int32 vector of shape \[2\]'),
    'matrix_seed': ('sample', {'num_samples': 2, 'seed': [[1, 2]]},
                    r'seed must be an int32 vector of shape \[2\]'),
}


@pytest.mark.parametrize('case', sorted(BAD_COUNTS))
def test_bad_counts_and_seeds_are_rejected(loaded, images, case):
  name, inputs, error = BAD_COUNTS[case]
  if name == 'log_likelihood':
    inputs = dict(inputs, images=images[:2])
  with pytest.raises(tf.errors.InvalidArgumentError, match=error):
    call(loaded.signatures[name], inputs)


def test_good_inputs_after_bad_ones_still_work(loaded, images):
  with pytest.raises(tf.errors.InvalidArgumentError):
    call(loaded.signatures['encode'], {'images': images[:2] * 0.5})
  out = call(loaded.signatures['encode'], {'images': images[:2]})
  assert out['code'].shape == (2, NUM_UNITS)


# A directed (factorial) prior: ancestral sampling, no log Z.

@pytest.fixture(scope='module')
def factorial_model():
  config = models.ModelConfig(struct='2-layer-lin', prior='factorial',
                              units_per_group=4)
  model = models.build_model(config, np.full([28, 28, 1], 0.3, np.float32))
  model.build()
  rng = np.random.default_rng(7)
  for v in model.trainable_variables:
    v.assign(rng.normal(0, 0.1, v.shape).astype(np.float32))
  return model


def test_factorial_prior_model_exports(tmp_path, factorial_model, images):
  model = factorial_model
  log_normalizer = model.prior.refresh_log_normalizer()
  metadata = export.build_metadata(model, log_normalizer)
  # Metadata as an older export wrote it still exports (default limits).
  del metadata['limits']['max_importance_weights']
  path = export.write_saved_model(model, str(tmp_path), metadata)
  assert path == os.path.join(str(tmp_path), '1')
  assert metadata['sample_gibbs_sweeps'] is None
  assert metadata['log_z_method'] == 'none (normalized prior)'
  loaded = tf.saved_model.load(path)
  out = call(loaded.signatures['sample'], {'num_samples': 3, 'seed': [5, 6]})
  means, latents = model.sample(3, tf.constant([5, 6]))
  np.testing.assert_array_equal(out['latents'], latents.numpy())
  np.testing.assert_allclose(out['images'], means.numpy(), atol=1e-6)
  ll = call(loaded.signatures['log_likelihood'],
            {'images': images[:3], 'num_importance_samples': 4})
  np.testing.assert_allclose(
      ll['log_likelihood'],
      evaluation.importance_weighted_bound(
          model, images[:3], 4, seed=export.LOG_LIKELIHOOD_SEED).numpy(),
      rtol=1e-5)


def test_grey_level_pixels(factorial_model, images):
  """A model of 8-bit images takes 0..255 and any value between."""
  pixels = export.PixelFormat.of_dataset('cifar10')
  assert pixels == export.PixelFormat(binary=False, max_value=255.)
  assert export.PixelFormat.of_dataset('mnist_dynamic').binary
  module = export.ServingModule(factorial_model, pixels=pixels)
  grey = images[:2] * 127.5
  assert module.reconstruct(grey)['reconstructions'].shape == grey.shape
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match=r'pixel values must lie in \[0, 255\]; got '
                           r'values from\] \[0\] \[to\] \[300\]'):
    module.reconstruct(images[:2] * 300.)


def test_oversized_requests_are_rejected(tmp_path, factorial_model, images):
  """Requests over the export's limits fail with INVALID_ARGUMENT, and the
  server goes on answering; the limits are in the metadata."""
  limits = export.ServingLimits(max_samples=5, max_images=4,
                                max_importance_samples=7,
                                max_importance_weights=20)
  metadata = export.build_metadata(
      factorial_model, factorial_model.prior.refresh_log_normalizer(),
      limits=limits)
  assert metadata['limits'] == {'max_samples': 5, 'max_images': 4,
                                'max_importance_samples': 7,
                                'max_importance_weights': 20}
  signatures = tf.saved_model.load(export.write_saved_model(
      factorial_model, str(tmp_path), metadata)).signatures
  oversized = [
      ('sample', {'num_samples': 6, 'seed': [0, 1]},
       r'num_samples must be at most 5'),
      ('sample', {'num_samples': 10**9, 'seed': [0, 1]},
       r'num_samples must be at most 5'),
      ('encode', {'images': images[:5]}, r'images: at most 4 per call'),
      ('reconstruct', {'images': images[:5]}, r'images: at most 4 per call'),
      ('log_likelihood', {'images': images[:5], 'num_importance_samples': 2},
       r'images: at most 4 per call'),
      ('log_likelihood', {'images': images[:2],
                          'num_importance_samples': 10**9},
       r'num_importance_samples must be at most 7'),
      # Each count within its limit, their product (the time) past its own.
      ('log_likelihood', {'images': images[:3], 'num_importance_samples': 7},
       r'images x num_importance_samples must be at most 20 '
       r'\(max_importance_weights, the limit this model was exported with\); '
       r'got\] \[3\] \[x\] \[7\] \[=\] \[21\]'),
  ]
  for name, inputs, message in oversized:
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
      call(signatures[name], inputs)
  assert call(signatures['sample'], {'num_samples': 5, 'seed': [0, 1]})[
      'images'].shape == (5, 28, 28, 1)
  for n, k in (4, 5), (2, 7):  # At the limit of weights.
    assert call(signatures['log_likelihood'], {
        'images': images[:n], 'num_importance_samples': k})[
            'log_likelihood'].shape == (n,)
  with pytest.raises(ValueError, match='max_images must be a positive'):
    export.ServingLimits(max_images=0)
  with pytest.raises(ValueError, match='max_importance_weights must be a '
                     'positive integer and at most 9223372036854775807'):
    export.ServingLimits(max_importance_weights=2**63)
  # Past int32, as a product of int32 counts may be.
  assert export.ServingLimits(
      max_importance_weights=2**40).max_importance_weights == 2**40


def test_default_limits_refuse_hours_of_work(loaded, exported, images):
  """At the default limits, images x importance samples is bounded too: 20
  images at k = 100,000 (each count within its own limit) are refused."""
  assert exported.metadata['limits']['max_importance_weights'] == 1_000_000
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match=r'images x num_importance_samples must be at most '
                           r'1000000 \(max_importance_weights'):
    call(loaded.signatures['log_likelihood'],
         {'images': images, 'num_importance_samples': 100_000})


def test_metadata_of_older_exports_gives_their_limits():
  """Limits an older export's metadata does not record take the defaults."""
  old = {'max_samples': 5, 'max_images': 4, 'max_importance_samples': 7}
  assert export.ServingLimits.of_metadata({'limits': old}) == (
      export.ServingLimits(**old))
  assert export.ServingLimits.of_metadata({}) == export.ServingLimits()
  assert 'max_importance_weights' in cli.field_docs(export.ServingLimits)


def test_default_work_bound_is_about_a_minute(images):
  """The default `max_importance_weights` costs the default model about a
  minute: the time of 10,000 weights, scaled, is under 3 minutes (loose, as
  the cores may be shared)."""
  model = models.build_model(models.ModelConfig(),
                             np.full([28, 28, 1], .3, np.float32))
  module = export.ServingModule(model)
  n, k = 4, tf.constant(2500)
  times = []
  for _ in range(3):  # The first call traces the graph and warms it up.
    start = time.perf_counter()
    module.log_likelihood(images[:n], k)
    times.append(time.perf_counter() - start)
  per_weight = min(times[1:]) / (n * int(k))
  assert per_weight * export.ServingLimits().max_importance_weights < 180.


def test_abandoned_staging_folders_are_removed(tmp_path, factorial_model):
  """A killed export leaves a hidden staging folder; the next export of that
  directory removes it (its process is gone), and keeps a live one's."""
  dead = tmp_path / '.1-999999999-abcd'
  dead.mkdir()
  (dead / 'saved_model.pb').write_text('partial')
  alive = tmp_path / f'.1-{os.getpid()}-efgh'
  alive.mkdir()
  metadata = export.build_metadata(
      factorial_model, factorial_model.prior.refresh_log_normalizer())
  export.write_saved_model(factorial_model, str(tmp_path), metadata)
  assert not dead.exists() and alive.exists()


def test_grpc_request_refuses_integers_past_their_dtype():
  pytest.importorskip('tensorflow_serving.apis')
  with pytest.raises(ValueError, match=r'num_samples must hold integers in '
                     r'\[-2147483648, 2147483647\] \(int32\); got 2147483648'):
    client.grpc_predict_request('dvae', {'num_samples': 2**31, 'seed': [0, 0]},
                                {'num_samples': np.int32, 'seed': np.int32},
                                'sample')
