"""The datasets of the DVAE++ experiments as `tf.data` pipelines.

```python
from dvae_tf import data
train = data.make_dataset('mnist_dynamic', 'train', 100, data_dir='data')
test = data.load_images('mnist_dynamic', 'test', data_dir='data')
bias = data.train_mean('mnist_dynamic', data_dir='data')   # [28, 28, 1]
```

`DATASETS` names them (see `datasets.py` for sizes and files). Each is read
from `data_dir` in the format of its public source, else downloaded; a missing
file raises `DatasetNotFoundError`, a file not in its format a one-line
`DatasetFormatError` (a `ValueError`) naming it. `sample`, a small real
binarized MNIST, ships with the package and needs neither.

Modules: `datasets` (the named datasets), `sources` (file readers),
`download`, `omniglot` (28x28 Omniglot from the 105x105 drawings),
`binarization`, `pipeline` (tf.data), `sample` (the bundled sample).
"""

from dvae_tf.data.datasets import DATASETS
from dvae_tf.data.datasets import DatasetSpec
from dvae_tf.data.datasets import get_spec
from dvae_tf.data.datasets import image_shape
from dvae_tf.data.datasets import is_binary
from dvae_tf.data.datasets import SPLITS
from dvae_tf.data.download import DatasetNotFoundError
from dvae_tf.data.pipeline import load_images
from dvae_tf.data.pipeline import make_dataset
from dvae_tf.data.pipeline import num_examples
from dvae_tf.data.pipeline import train_mean
from dvae_tf.data.sources import DatasetFormatError

__all__ = [
    'DATASETS',
    'DatasetFormatError',
    'DatasetNotFoundError',
    'DatasetSpec',
    'SPLITS',
    'get_spec',
    'image_shape',
    'is_binary',
    'load_images',
    'make_dataset',
    'num_examples',
    'train_mean',
]
