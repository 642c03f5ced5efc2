"""Graphs of Boltzmann machines: nodes, edges and a proper colouring.

A Boltzmann machine on an undirected graph G = (V, E) (Sec. 5's RBM is the
complete bipartite case) has one binary unit per node and one coupling per
edge. A proper colouring c: V -> {0, ..., C - 1} (no edge joins two nodes of
one colour) splits the units into C colour classes; each class is
conditionally independent given the others, which is what block Gibbs
sampling (`distributions.BoltzmannMachine.block_gibbs`), the exact log Z that
sums one class out, and the hierarchical posterior's groups (one or more
whole classes per group) rely on.

`Graph` holds the node labels (the units' order), the edges as index pairs
into that order and the colouring. The families are a registry
(`GRAPH_FAMILIES`): a new family is one function returning a `Graph` and one
`register_graph_family` line. Built in:

- `bipartite:N1,N2` (or `bipartite` with the unit count of the model): the
  complete bipartite graph K_{N1,N2} of the paper's RBM, colours left 0,
  right 1;
- `chimera:M[,N[,T]]`, `pegasus:M`, `zephyr:M[,T]`: D-Wave's quantum-annealer
  topologies from `dwave-graphs` (the optional `ocean` extra), with that
  package's two- and four-colourings, nodes labelled by their linear qubit
  indices;
- an edge list from a JSON file (`graph_from_file`), coloured greedily when
  no colouring is given.

Graphs from the families are laid out colour class by colour class (nodes
sorted by colour, then label), so the posterior's groups are contiguous.
`Graph.to_dict` / `graph_from_dict` are what a run directory records.
"""

import functools
import hashlib
import json

import numpy as np


class Graph(str):
  """An undirected simple graph with node labels and a proper colouring.

  As a value it is the string 'NAME#DIGEST' (the digest of labels, edges
  and colours), so that a distribution on it passes through `tf.function`
  and composite-tensor type specs, which compare and hash only plain Python
  values; equal strings are equal graphs. The graph itself is in the
  attributes.

  Attributes:
    labels: tuple of node labels (ints or strings); unit k is node
      labels[k].
    edges: int32 [E, 2] pairs (i, j), i < j, indices into `labels`, sorted.
    colours: int32 [n] colour of each unit, a proper colouring with colours
      0..C-1 all used.
    name: a short description ('chimera:3', 'bipartite:100,100', ...).
  """

  def __new__(cls, labels, edges, colours=None, name='graph'):
    """Checks and stores the graph; colours it greedily if `colours` is None.


    Raises:
      ValueError: duplicate labels, an edge naming an unknown node, a
        self-loop, or a colouring that is not proper.
    """
    labels = tuple(labels)
    n = len(labels)
    if n == 0:
      raise ValueError(f'graph {name!r}: it has no nodes.')
    if len(set(labels)) != n:
      raise ValueError(f'graph {name!r}: node labels must be unique.')
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    if edges.size and (edges.min() < 0 or edges.max() >= n):
      raise ValueError(f'graph {name!r}: an edge names a node outside '
                       f'0..{n - 1}.')
    if np.any(edges[:, 0] == edges[:, 1]):
      raise ValueError(f'graph {name!r}: self-loops are not edges of a '
                       'Boltzmann machine; put that term in the bias.')
    edges = np.sort(edges, axis=1)
    edges = np.unique(edges, axis=0) if edges.size else edges
    edges = edges.astype(np.int32)
    if colours is None:
      colours = greedy_colouring(n, edges)
    colours = np.asarray(colours, dtype=np.int64).reshape(-1)
    if colours.shape != (n,):
      raise ValueError(f'graph {name!r}: the colouring has {colours.size} '
                       f'entries for {n} nodes.')
    if colours.min() < 0:
      raise ValueError(f'graph {name!r}: colours must be 0, 1, 2, ...')
    # Renumber the colours used to 0..C-1 in order of first use of each value.
    _, colours = np.unique(colours, return_inverse=True)
    clash = colours[edges[:, 0]] == colours[edges[:, 1]]
    if np.any(clash):
      i, j = edges[np.argmax(clash)]
      raise ValueError(
          f'graph {name!r}: the colouring is not proper: nodes '
          f'{labels[i]!r} and {labels[j]!r} share an edge and a colour. Give '
          'a proper colouring, or none to colour the graph greedily.')
    colours = colours.astype(np.int32)
    digest = hashlib.sha256()
    digest.update(repr(labels).encode())
    digest.update(edges.tobytes())
    digest.update(colours.tobytes())
    self = super().__new__(cls, f'{name}#{digest.hexdigest()}')
    self.labels = labels
    self.edges = edges
    self.name = name
    self.colours = colours
    return self

  def __getnewargs__(self):
    return (self.labels, self.edges, self.colours, self.name)

  @property
  def num_nodes(self):
    return len(self.labels)

  @property
  def num_edges(self):
    return len(self.edges)

  @property
  def num_colours(self):
    return int(self.colours.max()) + 1

  @functools.cached_property
  def colour_classes(self):
    """Per colour, the int32 indices of its units, ascending."""
    return tuple(np.flatnonzero(self.colours == c).astype(np.int32)
                 for c in range(self.num_colours))

  @property
  def key(self):
    """A digest of labels, edges and colours: equal graphs, equal keys."""
    return self.partition('#')[2]

  def __eq__(self, other):
    return isinstance(other, Graph) and self.key == other.key

  def __ne__(self, other):
    return not self == other

  def __hash__(self):
    return hash(self.key)

  def __repr__(self):
    return (f'Graph({self.name!r}, {self.num_nodes} nodes, {self.num_edges} '
            f'edges, {self.num_colours} colours)')

  @property
  def max_degree(self):
    if not self.num_edges:
      return 0
    return int(np.bincount(self.edges.ravel(), minlength=self.num_nodes).max())

  def is_colour_sorted(self):
    """Whether the units run colour class by colour class (0s, then 1s...)."""
    return bool(np.all(np.diff(self.colours) >= 0))

  def group_sizes(self, num_groups):
    """Units per posterior group when `num_groups` groups follow the classes.

    With C colour classes in order: if num_groups divides C, each group is a
    run of C / num_groups consecutive classes (one group: every unit; C
    groups: one class each), as the paper's two groups are the RBM's two
    halves; if C divides num_groups, each class is cut into
    num_groups / C equal groups (the RBM with 4 groups). Groups must be
    contiguous, so the units must be laid out class by class.

    Raises:
      ValueError: if the units are not laid out class by class, or the
        classes cannot form `num_groups` such groups.
    """
    num_colours = self.num_colours
    if not self.is_colour_sorted():
      raise ValueError(
          f'graph {self.name!r}: its units are not laid out colour class by '
          'colour class, so its classes cannot be contiguous posterior '
          'groups; build it with `Graph.sorted_by_colour()`.')
    sizes = [len(c) for c in self.colour_classes]
    if num_groups >= 1 and num_colours % num_groups == 0:
      per_group = num_colours // num_groups
      return [sum(sizes[g * per_group:(g + 1) * per_group])
              for g in range(num_groups)]
    parts = num_groups // num_colours
    if (num_groups >= 1 and num_groups % num_colours == 0 and
        all(s % parts == 0 for s in sizes)):
      return [s // parts for s in sizes for _ in range(parts)]
    raise ValueError(
        f'graph {self.name!r} has {num_colours} colour classes of '
        f'{sizes} units, which cannot form {num_groups} posterior groups: '
        'the group count must divide the class count, or be a multiple of '
        'it that cuts every class evenly. Use a structure with 1 group, or '
        'a graph whose colouring fits.')

  def induced(self, units, name=None):
    """The subgraph on `units` (indices, in that order), colours kept."""
    units = np.asarray(units, dtype=np.int64)
    position = np.full(self.num_nodes, -1)
    position[units] = np.arange(len(units))
    inside = np.all(position[self.edges] >= 0, axis=1)
    return Graph([self.labels[k] for k in units],
                 position[self.edges[inside]], self.colours[units],
                 name=name or f'{self.name}[{len(units)} units]')

  def sorted_by_colour(self):
    """The same graph with units ordered by (colour, position)."""
    order = np.argsort(self.colours, kind='stable')
    position = np.empty_like(order)
    position[order] = np.arange(len(order))
    return Graph([self.labels[k] for k in order], position[self.edges],
                 self.colours[order], name=self.name)

  def to_dict(self):
    """A JSON-able record: name, labels (the units' order), edges as pairs of
    labels, colours in label order (`graph_from_dict` reads it back)."""
    labels = [_plain(x) for x in self.labels]
    return dict(name=self.name, labels=labels,
                edges=[[labels[i], labels[j]] for i, j in self.edges.tolist()],
                colours=self.colours.tolist())


def as_graph(value, num_units=None):
  """A `Graph` from a Graph, a spec (`parse_graph`) or a record
  (`graph_from_dict`)."""
  if isinstance(value, Graph):
    return value
  if isinstance(value, dict):
    return graph_from_dict(value)
  return parse_graph(value, num_units)


def _plain(label):
  """A label as a JSON value: ints stay ints, tuples become lists."""
  if isinstance(label, (np.integer,)):
    return int(label)
  if isinstance(label, tuple):
    return [_plain(x) for x in label]
  return label


def graph_from_dict(d):
  """The `Graph` of a `to_dict` record, or of a user's JSON edge list.

  Accepted keys: 'edges' (required; pairs of node labels), 'labels'
  (optional: the units' order; default the labels of the edges, sorted),
  'colours' (optional: a list in label order, or a {label: colour}
  mapping; default a greedy colouring), 'name'.

  Raises:
    ValueError: a malformed record.
  """
  if not isinstance(d, dict) or 'edges' not in d:
    raise ValueError('a graph record must be a JSON object with an "edges" '
                     'list of node pairs (and optionally "labels" and '
                     '"colours").')
  name = str(d.get('name', 'graph'))
  edges = d['edges']
  if not isinstance(edges, list) or not all(
      isinstance(e, (list, tuple)) and len(e) == 2 for e in edges):
    raise ValueError(f'graph {name!r}: "edges" must be a list of node pairs.')
  labels = d.get('labels')
  if labels is None:
    labels = sorted({_hashable(x) for e in edges for x in e}, key=repr)
  labels = [_hashable(x) for x in labels]
  index = {label: k for k, label in enumerate(labels)}
  try:
    pairs = [(index[_hashable(a)], index[_hashable(b)]) for a, b in edges]
  except KeyError as e:
    raise ValueError(f'graph {name!r}: an edge names node {e.args[0]!r}, '
                     'which is not in "labels".') from None
  colours = d.get('colours')
  if isinstance(colours, dict):
    colours = [colours.get(str(x), colours.get(x)) for x in labels]
    if any(c is None for c in colours):
      raise ValueError(f'graph {name!r}: "colours" must give every node a '
                       'colour.')
  return Graph(labels, pairs, colours, name=name)


def _hashable(x):
  return tuple(_hashable(y) for y in x) if isinstance(x, list) else x


def greedy_colouring(num_nodes, edges):
  """A proper colouring, largest degree first (Welsh-Powell), int32 [n]."""
  neighbours = [[] for _ in range(num_nodes)]
  for i, j in edges:
    neighbours[i].append(j)
    neighbours[j].append(i)
  colours = np.full(num_nodes, -1, dtype=np.int32)
  for node in sorted(range(num_nodes), key=lambda k: -len(neighbours[k])):
    used = {colours[k] for k in neighbours[node]}
    colour = 0
    while colour in used:
      colour += 1
    colours[node] = colour
  return colours


# The families.

@functools.lru_cache(maxsize=16)
def complete_bipartite(num_left, num_right):
  """K_{n1, n2}: units 0..n1-1 (colour 0) each joined to n1..n1+n2-1 (1).

  Edge (i, n1 + j) is edge number i * n2 + j, the row-major order of the
  RBM's coupling matrix W [n1, n2].
  """
  left = np.repeat(np.arange(num_left), num_right)
  right = num_left + np.tile(np.arange(num_right), num_left)
  return Graph(range(num_left + num_right), np.stack([left, right], 1),
               [0] * num_left + [1] * num_right,
               name=f'bipartite:{num_left},{num_right}')


def _dwave_graphs(family):
  try:
    import dwave.graphs  # pylint: disable=import-outside-toplevel
  except ImportError:
    raise ValueError(
        f'graph family {family!r} comes from dwave-graphs, which is not '
        'installed: pip install "dvae_tf[ocean]".') from None
  return dwave.graphs


def _from_topology(name, nx_graph, to_coordinates, colour):
  """A `Graph` of a D-Wave topology with linear labels and the package's
  colouring of each node's coordinates, laid out class by class."""
  labels = sorted(nx_graph.nodes)
  index = {q: k for k, q in enumerate(labels)}
  edges = [(index[a], index[b]) for a, b in nx_graph.edges]
  colours = [colour(to_coordinates(q)) for q in labels]
  return Graph(labels, edges, colours, name=name).sorted_by_colour()


def chimera(m, n=None, t=4):
  """Chimera C(m, n, t): an m x n grid of K_{t,t} unit cells (2 colours)."""
  g = _dwave_graphs('chimera')
  n = m if n is None else n
  coords = g.chimera_coordinates(m, n, t)
  return _from_topology(f'chimera:{m},{n},{t}', g.chimera_graph(m, n, t),
                        coords.linear_to_chimera, g.chimera_two_color)


def pegasus(m):
  """Pegasus P(m), the fabric of Advantage QPUs (4 colours)."""
  g = _dwave_graphs('pegasus')
  return _from_topology(f'pegasus:{m}', g.pegasus_graph(m),
                        g.pegasus_coordinates(m).linear_to_pegasus,
                        g.pegasus_four_color)


def zephyr(m, t=4):
  """Zephyr Z(m, t), the fabric of Advantage2 QPUs (4 colours)."""
  g = _dwave_graphs('zephyr')
  return _from_topology(f'zephyr:{m},{t}', g.zephyr_graph(m, t),
                        g.zephyr_coordinates(m, t).linear_to_zephyr,
                        g.zephyr_four_color)


def bipartite(num_left, num_right=None):
  """The paper's RBM graph K_{n1, n2} (n2 = n1 if not given)."""
  return complete_bipartite(num_left,
                            num_left if num_right is None else num_right)


GRAPH_FAMILIES = {
    'bipartite': bipartite,
    'chimera': chimera,
    'pegasus': pegasus,
    'zephyr': zephyr,
}

# The spec of the paper's graph: K_{n/2, n/2} over the model's n units.
DEFAULT_GRAPH = 'bipartite'


def register_graph_family(name, build):
  """Makes `build(*int_args) -> Graph` available as the spec 'name:args'."""
  if not callable(build):
    raise TypeError(f'register_graph_family: {build!r} is not callable.')
  GRAPH_FAMILIES[name] = build
  return build


def graph_from_file(path):
  """The graph of a JSON file (see `graph_from_dict`), laid out by colour."""
  try:
    with open(path, encoding='utf-8') as f:
      record = json.load(f)
  except OSError as e:
    raise ValueError(f'cannot read graph file {path!r}: {e.strerror}.') from None
  except json.JSONDecodeError as e:
    raise ValueError(f'graph file {path!r} is not JSON: {e}.') from None
  return graph_from_dict(record).sorted_by_colour()


# The most couplings of a graph named by a family and sizes: enumerating one
# takes about 100 bytes a coupling (`models.size.EDGE_BYTES`), so 10^7 is
# about 1 GB, and 250 times the largest quantum annealer's fabric.
MAX_COUPLINGS = 10**7


def couplings_at_most(family, values):
  """An upper bound on the couplings of `family` at `values`, before it is
  built: K_{a, b} has a b; Chimera C(m, n, t) m n t (t + 2); Pegasus P(m)
  (24 m (m - 1) nodes) and Zephyr Z(m, t) (4 t m (2 m + 1) nodes) at most
  half their degree (15, 20) per node. Other families: 0 (not bounded)."""
  if family == 'bipartite':
    return values[0] * (values[1] if len(values) > 1 else values[0])
  if family == 'chimera':
    m, n, t = (list(values) + [values[0], 4][len(values) - 1:])[:3]
    return m * n * t * (t + 2)
  if family == 'pegasus':
    return 15 * 24 * values[0] * max(values[0] - 1, 1) // 2
  if family == 'zephyr':
    t = values[1] if len(values) > 1 else 4
    return 20 * 4 * t * values[0] * (2 * values[0] + 1) // 2
  return 0


def parse_graph(spec, num_units=None):
  """The `Graph` a spec names: 'family:a,b', 'bipartite' or 'FILE.json'.

  Args:
    spec: 'FAMILY[:INT[,INT...]]' with FAMILY a key of `GRAPH_FAMILIES`, or
      a path ending in '.json'.
    num_units: the model's unit count, for a family named without
      arguments (bipartite: K_{n/2, n/2}).

  Raises:
    ValueError: an unknown family, arguments that are not integers, a
      family the arguments do not fit, or more than `MAX_COUPLINGS`.
  """
  spec = str(spec).strip()
  if spec.endswith('.json'):
    return graph_from_file(spec)
  family, _, args = spec.partition(':')
  if family not in GRAPH_FAMILIES:
    raise ValueError(
        f'graph={spec!r}: unknown graph family {family!r}; use one of '
        f'{sorted(GRAPH_FAMILIES)} (as FAMILY:SIZE, e.g. chimera:3) or a '
        'FILE.json edge list.')
  try:
    values = [int(a) for a in args.split(',')] if args else []
  except ValueError:
    raise ValueError(f'graph={spec!r}: the sizes after {family!r}: must be '
                     'integers separated by commas.') from None
  if not values:
    if family != DEFAULT_GRAPH or not num_units:
      raise ValueError(f'graph={spec!r}: give the size, e.g. {family}:4.')
    if num_units % 2:
      raise ValueError(f'graph={spec!r} over {num_units} units: the complete '
                       'bipartite graph needs an even number of units.')
    values = [num_units // 2]
  if any(v < 1 for v in values):
    raise ValueError(f'graph={spec!r}: sizes must be positive.')
  couplings = couplings_at_most(family, values) if args else 0
  if couplings > MAX_COUPLINGS:  # The default graph is sized by the model.
    raise ValueError(
        f'graph={spec!r} has up to {couplings:.3g} couplings, more than the '
        f'{MAX_COUPLINGS:.0e} a Boltzmann prior here is built with (pegasus:16, '
        "an Advantage QPU's fabric, has about 40,000); choose a smaller "
        'size.')
  try:
    return GRAPH_FAMILIES[family](*values)
  except TypeError:
    raise ValueError(f'graph={spec!r}: family {family!r} does not take '
                     f'{len(values)} sizes.') from None
