"""Graph neural networks from scratch in ``keras.ops``: graphs as edge lists, graph convolution
and message passing as gather -> transform -> scatter-add, many small graphs batched into one.

A graph here is ``n`` nodes with a feature matrix ``nodes`` of shape ``(n, f)`` and an edge list
``edges`` of shape ``(2, m)``: column ``k`` is a directed edge from ``edges[0, k]`` (the sender)
to ``edges[1, k]`` (the receiver). An undirected graph lists each edge in both directions
(:func:`undirected`). Every layer works on that pair, so it never builds an ``n x n`` matrix.

- :class:`Graph` — one graph (nodes, edges, optional edge features), validated on creation;
  :func:`check_edges`, :func:`undirected`, :func:`normalized_adjacency` (the dense matrix, for
  reading and checking, not for training).
- :class:`GraphConv` — the graph convolution of Kipf and Welling (2017),
  ``H' = act(D^-1/2 (A + I) D^-1/2 H W + b)``, computed edge by edge.
- :class:`MessagePassing` — a message-passing layer in the style of Gilmer et al. (2017): a
  message per edge from the two end nodes (and the edge's features), summed (or averaged, or
  maxed) at the receiver, then an update of each node from its state and its messages.
- :func:`batch_graphs`, :class:`GraphBatch`, :func:`segment_pool`, :class:`GraphSequence` —
  many small graphs as one disjoint-union graph, pooled per graph (the readout), and a
  ``keras.utils.PyDataset`` that feeds such batches to ``fit``.
- :class:`NodeClassifier`, :class:`GraphRegressor` — the two models of the chapter: GCN layers
  over one fixed graph (semi-supervised node classification), and message passing + pooling over
  batches of molecules (graph-level regression).
- :func:`smiles_to_graph`, :func:`molecules_to_graphs`, :func:`morgan_fingerprints` — molecules
  (SMILES) to graphs of atoms and bonds with RDKit, and the fingerprint baseline's features.
- :func:`karate_club` — Zachary's karate club (networkx) with the two clubs as labels;
  :func:`label_spreading` is the classical baseline;
  :func:`mean_cosine_distance` measures over-smoothing; :class:`EmbeddingRecorder` keeps node
  embeddings during training; :func:`draw_predictions` draws a graph coloured by prediction.

>>> graph = Graph(np.eye(3, dtype="float32"), undirected([[0, 1], [1, 2]]))
>>> graph.edges.tolist()
[[0, 1, 1, 2], [1, 0, 2, 1]]
>>> conv = GraphConv(4)
>>> tuple(conv(graph.nodes, graph.edges).shape)
(3, 4)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dlbook.config import import_keras

keras = import_keras()
ops = keras.ops

__all__ = [
    "ATOM_ELEMENTS", "BOND_TYPES", "N_ATOM_FEATURES", "N_BOND_FEATURES", "POOLINGS",
    "EmbeddingRecorder", "Graph", "GraphBatch", "GraphConv", "GraphRegressor", "GraphSequence",
    "InvalidSmilesError", "KarateClub", "MessagePassing", "NodeClassifier", "batch_graphs",
    "check_edges", "draw_predictions", "karate_club", "label_spreading", "mean_cosine_distance",
    "molecules_to_graphs", "morgan_fingerprints", "normalized_adjacency", "segment_pool",
    "smiles_to_graph", "undirected",
]

POOLINGS = ("sum", "mean", "max")


# --- graphs as edge lists -----------------------------------------------------------------------


def check_edges(edges: Any, n_nodes: int) -> np.ndarray:
    """``edges`` as an ``int32`` array of shape ``(2, m)`` whose entries index ``n_nodes`` nodes;
    a clear error otherwise. A list of ``(sender, receiver)`` pairs is accepted too.

    >>> check_edges([[0, 1], [1, 2]], 3).tolist()    # two pairs -> (2, m)
    [[0, 1], [1, 2]]
    >>> check_edges(np.zeros((2, 0)), 1).shape       # no edges at all is fine
    (2, 0)
    >>> check_edges([[0, 3]], 3)
    Traceback (most recent call last):
    ...
    ValueError: edge index 3 is out of range for a graph of 3 nodes (valid: 0 to 2); edge 0 is (0, 3)
    """
    if isinstance(n_nodes, bool) or not isinstance(n_nodes, (int, np.integer)) or n_nodes < 0:
        raise ValueError(f"n_nodes must be a non-negative int, got {n_nodes!r}")
    array = np.asarray(edges)
    if array.size == 0:
        return np.zeros((2, 0), dtype="int32")
    if array.ndim == 2 and array.shape[1] == 2 and array.shape[0] != 2:
        array = array.T                      # a list of (sender, receiver) pairs
    if array.ndim != 2 or array.shape[0] != 2:
        raise ValueError(f"edges must have shape (2, m) (senders, receivers) or (m, 2) (pairs), "
                         f"got shape {array.shape}")
    if not (np.issubdtype(array.dtype, np.integer)
            or (np.issubdtype(array.dtype, np.floating) and np.all(array == np.round(array)))):
        raise ValueError(f"edges must hold integer node indices, got dtype {array.dtype}")
    bad = np.flatnonzero(((array < 0) | (array >= n_nodes)).any(axis=0))
    if bad.size:
        k = int(bad[0])
        index = next(int(v) for v in array[:, k] if v < 0 or v >= n_nodes)
        raise ValueError(
            f"edge index {index} is out of range for a graph of {n_nodes} nodes "
            f"(valid: 0 to {n_nodes - 1}); edge {k} is ({int(array[0, k])}, {int(array[1, k])})")
    return array.astype("int32")


def undirected(edges: Any) -> np.ndarray:
    """Each edge in both directions, self-loops and duplicates dropped, sorted by sender.

    >>> undirected([[0, 1], [1, 0], [2, 2]]).tolist()
    [[0, 1], [1, 0]]
    """
    array = np.asarray(edges)
    if array.size == 0:
        return np.zeros((2, 0), dtype="int32")
    n_nodes = int(array.max()) + 1 if array.min() >= 0 else 0
    array = check_edges(array, max(n_nodes, 1))
    both = np.concatenate([array, array[::-1]], axis=1)
    both = both[:, both[0] != both[1]]
    pairs = np.unique(both.T, axis=0)
    return pairs.T.astype("int32").reshape(2, -1)


def normalized_adjacency(edges: Any, n_nodes: int, *, self_loops: bool = True) -> np.ndarray:
    """The dense matrix ``D^-1/2 (A + I) D^-1/2`` of Kipf and Welling (``A`` alone when
    ``self_loops`` is False). For reading and checking; the layers never build it.

    >>> normalized_adjacency(undirected([[0, 1]]), 2).round(2).tolist()
    [[0.5, 0.5], [0.5, 0.5]]
    """
    array = check_edges(edges, n_nodes)
    adjacency = np.zeros((n_nodes, n_nodes))
    np.add.at(adjacency, (array[1], array[0]), 1.0)   # row = receiver, column = sender
    if self_loops:
        adjacency += np.eye(n_nodes)
    degree = adjacency.sum(axis=1)
    scale = np.where(degree > 0, 1 / np.sqrt(np.maximum(degree, 1e-12)), 0.0)
    return scale[:, None] * adjacency * scale[None, :]


def _features(values: Any, what: str) -> np.ndarray:
    array = np.asarray(values, dtype="float32")
    if array.ndim != 2:
        raise ValueError(f"{what} must have shape (count, features), got shape {array.shape}; "
                         "a graph with featureless nodes can use np.eye(n) or np.ones((n, 1))")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{what} hold NaN or infinite values")
    return array


@dataclass(frozen=True)
class Graph:
    """One graph: node features ``(n, f)``, edges ``(2, m)``, optional edge features ``(m, g)``.

    >>> g = Graph(np.ones((2, 3)), [[0, 1], [1, 0]])
    >>> g.n_nodes, g.n_edges, g.nodes.dtype, g.edges.dtype
    (2, 2, dtype('float32'), dtype('int32'))
    >>> Graph(np.ones((2, 3)), [[0, 2]])
    Traceback (most recent call last):
    ...
    ValueError: edge index 2 is out of range for a graph of 2 nodes (valid: 0 to 1); edge 0 is (0, 2)
    """

    nodes: np.ndarray
    edges: np.ndarray
    edge_features: np.ndarray | None = None

    def __post_init__(self) -> None:
        nodes = _features(self.nodes, "node features")
        object.__setattr__(self, "nodes", nodes)
        edges = check_edges(self.edges, len(nodes))
        object.__setattr__(self, "edges", edges)
        if self.edge_features is not None:
            feats = _features(self.edge_features, "edge features")
            if len(feats) != edges.shape[1]:
                raise ValueError(f"edge features have {len(feats)} rows but the graph has "
                                 f"{edges.shape[1]} edges; give one row per (directed) edge")
            object.__setattr__(self, "edge_features", feats)

    @property
    def n_nodes(self) -> int:
        return int(self.nodes.shape[0])

    @property
    def n_edges(self) -> int:
        return int(self.edges.shape[1])

    def permuted(self, order: Sequence[int]) -> Graph:
        """The same graph with its nodes renumbered: new node ``i`` is old node ``order[i]``.

        >>> g = Graph(np.arange(3.0)[:, None], [[0], [1]])
        >>> p = g.permuted([2, 0, 1])
        >>> p.nodes[:, 0].tolist(), p.edges.tolist()
        ([2.0, 0.0, 1.0], [[1], [2]])
        """
        order = np.asarray(order)
        if sorted(order.tolist()) != list(range(self.n_nodes)):
            raise ValueError(f"order must be a permutation of 0..{self.n_nodes - 1}")
        new_index = np.empty(self.n_nodes, dtype="int32")
        new_index[order] = np.arange(self.n_nodes)
        return Graph(self.nodes[order], new_index[self.edges], self.edge_features)


# --- layers ------------------------------------------------------------------------------------


def _concrete(x: Any) -> np.ndarray | None:
    """``x`` as a NumPy array when its values are known now (eager), else None (traced)."""
    if isinstance(x, (np.ndarray, list, tuple)):
        return np.asarray(x)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        if tf.executing_eagerly() and hasattr(x, "numpy"):
            return x.numpy()
    return None


def _split_edges(edges: Any, n_nodes: Any):
    known = _concrete(edges)
    if known is not None and isinstance(n_nodes, (int, np.integer)):
        known = check_edges(known, int(n_nodes))
        return ops.convert_to_tensor(known[0]), ops.convert_to_tensor(known[1])
    edges = ops.cast(edges, "int32")
    return edges[0], edges[1]


def _n_nodes(x) -> Any:
    n = x.shape[0]
    return n if n is not None else ops.shape(x)[0]


class GraphConv(keras.layers.Layer):
    """Graph convolution (Kipf and Welling, 2017): ``act(D^-1/2 (A + I) D^-1/2 X W + b)``.

    Each node averages its own and its neighbours' transformed features, each neighbour ``j``
    of node ``i`` weighted ``1 / sqrt(d_i d_j)`` with degrees counted after adding self-loops.
    Computed edge by edge: transform (``X W``), gather at the senders, scale, scatter-add at the
    receivers. Call it as ``conv(x, edges)`` or ``conv(x, edges, edge_weight)``.

    >>> conv = GraphConv(2, use_bias=False, kernel_initializer="ones")
    >>> x = np.array([[1.0], [0.0]], dtype="float32")          # a two-node path
    >>> ops.convert_to_numpy(conv(x, undirected([[0, 1]]))).round(3).tolist()
    [[0.5, 0.5], [0.5, 0.5]]
    """

    def __init__(self, units: int, activation: Any = None, *, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", **kwargs) -> None:
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units < 1:
            raise ValueError(f"units must be a positive int, got {units!r}")
        self.units = int(units)
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, x_shape) -> None:
        self.kernel = self.add_weight(shape=(int(x_shape[-1]), self.units), name="kernel",
                                      initializer=self.kernel_initializer)
        self.bias = (self.add_weight(shape=(self.units,), name="bias", initializer="zeros")
                     if self.use_bias else None)

    def call(self, x, edges, edge_weight=None):
        n = _n_nodes(x)
        senders, receivers = _split_edges(edges, n)
        weight = (ops.ones_like(senders, dtype=self.compute_dtype) if edge_weight is None
                  else ops.cast(edge_weight, self.compute_dtype))
        degree = 1.0 + ops.segment_sum(weight, receivers, num_segments=n)   # + the self-loop
        scale = ops.rsqrt(degree)
        norm = weight * ops.take(scale, senders) * ops.take(scale, receivers)
        h = ops.matmul(x, self.kernel)
        out = ops.segment_sum(ops.take(h, senders, axis=0) * norm[:, None], receivers,
                              num_segments=n)
        out = out + h / degree[:, None]                                    # the self-loop
        if self.bias is not None:
            out = out + self.bias
        return self.activation(out)

    def compute_output_shape(self, x_shape, *args, **kwargs):
        return (*x_shape[:-1], self.units)

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units, "use_bias": self.use_bias,
                "activation": keras.activations.serialize(self.activation),
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer)}


def _aggregate(messages, receivers, n, how: str):
    if how == "sum":
        return ops.segment_sum(messages, receivers, num_segments=n)
    if how == "mean":
        total = ops.segment_sum(messages, receivers, num_segments=n)
        count = ops.segment_sum(ops.ones_like(messages[:, :1]), receivers, num_segments=n)
        return total / ops.maximum(count, 1.0)
    # max: nodes that receive nothing get 0, not the dtype's lowest value
    biggest = ops.segment_max(messages, receivers, num_segments=n)
    count = ops.segment_sum(ops.ones_like(messages[:, :1]), receivers, num_segments=n)
    return ops.where(count > 0, biggest, ops.zeros_like(biggest))


def _check_pooling(how: str, what: str = "aggregation") -> str:
    if how not in POOLINGS:
        raise ValueError(f"{what} must be one of {POOLINGS}, got {how!r}")
    return how


class MessagePassing(keras.layers.Layer):
    """One round of message passing (Gilmer et al., 2017).

    For every edge ``j -> i`` a message ``m_ij = act(W_m [h_i, h_j, e_ij] + b_m)``; each node
    aggregates its incoming messages (``"sum"``, ``"mean"`` or ``"max"``) and updates its state
    ``h_i' = act(W_u [h_i, sum_j m_ij] + b_u)``. Call it as ``mp(x, edges)`` or
    ``mp(x, edges, edge_features)``.

    >>> mp = MessagePassing(8)
    >>> x = np.ones((3, 5), dtype="float32")
    >>> bonds = np.ones((4, 2), dtype="float32")               # one row per directed edge
    >>> tuple(mp(x, undirected([[0, 1], [1, 2]]), bonds).shape)
    (3, 8)
    """

    def __init__(self, units: int, activation: Any = "relu", *, aggregation: str = "sum",
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units < 1:
            raise ValueError(f"units must be a positive int, got {units!r}")
        self.units = int(units)
        self.aggregation = _check_pooling(aggregation)
        self.activation = keras.activations.get(activation)
        self.message = keras.layers.Dense(self.units, activation=self.activation, name="message")
        self.update = keras.layers.Dense(self.units, activation=self.activation, name="update")

    def call(self, x, edges, edge_features=None):
        n = _n_nodes(x)
        senders, receivers = _split_edges(edges, n)
        parts = [ops.take(x, receivers, axis=0), ops.take(x, senders, axis=0)]
        if edge_features is not None:
            parts.append(ops.cast(edge_features, x.dtype))
        messages = self.message(ops.concatenate(parts, axis=-1))
        incoming = _aggregate(messages, receivers, n, self.aggregation)
        return self.update(ops.concatenate([x, incoming], axis=-1))

    def compute_output_shape(self, x_shape, *args, **kwargs):
        return (*x_shape[:-1], self.units)

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units, "aggregation": self.aggregation,
                "activation": keras.activations.serialize(self.activation)}


# --- many small graphs as one ------------------------------------------------------------------


@dataclass(frozen=True)
class GraphBatch:
    """Many graphs as one disjoint-union graph: nodes stacked, edges renumbered, and
    ``graph_ids[i]`` telling which graph node ``i`` belongs to."""

    nodes: np.ndarray
    edges: np.ndarray
    graph_ids: np.ndarray
    n_graphs: int
    edge_features: np.ndarray | None = None

    def inputs(self) -> dict[str, np.ndarray]:
        """The batch as the dict :class:`GraphRegressor` reads."""
        out = {"nodes": self.nodes, "edges": self.edges, "graph_ids": self.graph_ids}
        if self.edge_features is not None:
            out["edge_features"] = self.edge_features
        return out


def batch_graphs(graphs: Sequence[Graph]) -> GraphBatch:
    """Stack graphs into one disjoint-union graph (no edge joins two of them).

    >>> a = Graph(np.ones((2, 1)), [[0, 1], [1, 0]])
    >>> b = Graph(np.ones((3, 1)), [[0, 1], [2, 2]])
    >>> batch = batch_graphs([a, b])
    >>> batch.edges.tolist(), batch.graph_ids.tolist(), batch.n_graphs
    ([[0, 1, 2, 3], [1, 0, 4, 4]], [0, 0, 1, 1, 1], 2)
    """
    graphs = list(graphs)
    if not graphs:
        raise ValueError("batch_graphs needs at least one graph")
    if not all(isinstance(g, Graph) for g in graphs):
        raise TypeError("batch_graphs takes dlbook.graphs.Graph objects (see smiles_to_graph)")
    widths = {g.nodes.shape[1] for g in graphs}
    if len(widths) > 1:
        raise ValueError(f"all graphs need the same number of node features, got {sorted(widths)}")
    if any(g.n_nodes == 0 for g in graphs):
        raise ValueError("every graph needs at least one node (graph-level pooling divides by it)")
    has_edge_features = {g.edge_features is not None for g in graphs}
    if len(has_edge_features) > 1:
        raise ValueError("either every graph has edge features or none has")
    offsets = np.cumsum([0] + [g.n_nodes for g in graphs[:-1]])
    edges = np.concatenate([g.edges + off for g, off in zip(graphs, offsets, strict=True)], axis=1)
    edge_features = None
    if has_edge_features == {True}:
        edge_features = np.concatenate([g.edge_features for g in graphs]).astype("float32")
    return GraphBatch(
        nodes=np.concatenate([g.nodes for g in graphs]).astype("float32"),
        edges=edges.astype("int32").reshape(2, -1),
        graph_ids=np.repeat(np.arange(len(graphs)), [g.n_nodes for g in graphs]).astype("int32"),
        n_graphs=len(graphs), edge_features=edge_features)


def segment_pool(x, graph_ids, n_graphs, how: str = "mean"):
    """Pool node states per graph (the readout): ``"sum"``, ``"mean"`` or ``"max"`` over the
    nodes with each graph id. The result does not depend on the order of a graph's nodes.

    >>> x = np.array([[1.0], [3.0], [10.0]], dtype="float32")
    >>> ops.convert_to_numpy(segment_pool(x, np.array([0, 0, 1]), 2, "mean")).ravel().tolist()
    [2.0, 10.0]
    """
    _check_pooling(how, "how")
    ids = _concrete(graph_ids)
    if ids is not None:
        ids = np.asarray(ids)
        if ids.ndim != 1 or (ids.size and (ids.min() < 0 or (isinstance(n_graphs, int)
                                                            and ids.max() >= n_graphs))):
            raise ValueError(f"graph_ids must be a 1-D array of ints in [0, {n_graphs}); "
                             f"got values from {ids.min()} to {ids.max()}")
        graph_ids = ids.astype("int32")
    x = ops.convert_to_tensor(x)
    return _aggregate(x, graph_ids, n_graphs, how)


class GraphSequence(keras.utils.PyDataset):
    """Batches of graphs (and targets) for ``Model.fit``: each item is
    ``(batch.inputs(), y_batch)``, reshuffled every epoch when ``shuffle``.

    >>> graphs = [Graph(np.ones((k, 2)), np.zeros((2, 0))) for k in (1, 2, 3)]
    >>> seq = GraphSequence(graphs, np.array([0.0, 1.0, 2.0]), batch_size=2)
    >>> len(seq), seq[0][0]["graph_ids"].tolist(), seq[1][1].tolist()
    (2, [0, 1, 1], [2.0])
    """

    def __init__(self, graphs: Sequence[Graph], y: Any = None, *, batch_size: int = 32,
                 shuffle: bool = False, seed: int = 0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.graphs = list(graphs)
        if y is not None and len(y) != len(self.graphs):
            raise ValueError(f"{len(self.graphs)} graphs but {len(y)} targets")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        self.y = None if y is None else np.asarray(y, dtype="float32")
        self.batch_size, self.shuffle = batch_size, shuffle
        self._rng = np.random.default_rng(seed)
        self._order = np.arange(len(self.graphs))
        if shuffle:
            self._rng.shuffle(self._order)

    def __len__(self) -> int:
        return -(-len(self.graphs) // self.batch_size)

    def __getitem__(self, index: int):
        take = self._order[index * self.batch_size:(index + 1) * self.batch_size]
        inputs = batch_graphs([self.graphs[i] for i in take]).inputs()
        return (inputs,) if self.y is None else (inputs, self.y[take])

    def on_epoch_end(self) -> None:
        if self.shuffle:
            self._rng.shuffle(self._order)


# --- models -------------------------------------------------------------------------------------


class NodeClassifier(keras.Model):
    """GCN layers over one fixed graph, then a softmax per node: ``model(x)`` gives class
    probabilities for every node, :meth:`embed` the last GCN layer's output. Train it on all
    nodes at once (``batch_size = n_nodes``) with ``sample_weight`` 1 on the labelled nodes and
    0 elsewhere: that is semi-supervised node classification.

    >>> model = NodeClassifier(undirected([[0, 1], [1, 2]]), hidden=(4, 2), n_classes=2)
    >>> tuple(model(np.eye(3)).shape), tuple(model.embed(np.eye(3)).shape)
    ((3, 2), (3, 2))
    """

    def __init__(self, edges: Any, hidden: Sequence[int] = (4, 4, 2), n_classes: int = 2, *,
                 activation: str = "tanh", n_nodes: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        array = np.asarray(edges)
        n = int(n_nodes if n_nodes is not None else (array.max() + 1 if array.size else 0))
        self.edges = check_edges(array, n)
        self.n_nodes = n
        if not hidden or any(isinstance(h, bool) or not isinstance(h, int) or h < 1 for h in hidden):
            raise ValueError(f"hidden must be a non-empty sequence of positive ints, got {hidden!r}")
        self.convs = [GraphConv(h, activation) for h in hidden]
        self.classify = keras.layers.Dense(n_classes, activation="softmax")

    def embed(self, x):
        if x.shape[0] is not None and x.shape[0] != self.n_nodes:
            raise ValueError(f"x has {x.shape[0]} rows but the graph has {self.n_nodes} nodes; "
                             "pass the features of all nodes at once (batch_size = n_nodes)")
        h = ops.convert_to_tensor(x, dtype=self.compute_dtype)
        edges = ops.convert_to_tensor(self.edges)
        for conv in self.convs:
            h = conv(h, edges)
        return h

    def call(self, x):
        return self.classify(self.embed(x))

    def fit_labelled(self, x: Any, y: Any, labelled: Sequence[int], *, steps: int,
                     steps_per_epoch: int = 10, callbacks: Sequence | None = None):
        """``steps`` full-graph gradient steps on the labelled nodes only; the loss of the
        other nodes gets weight 0. Keras counts ``steps_per_epoch`` steps as one epoch (the
        graph is repeated that many times per epoch, so callbacks run less often than steps).
        Compile the model first; returns the ``History``."""
        x, y = np.asarray(x, dtype="float32"), np.asarray(y)
        labelled = np.asarray(labelled, dtype="int64").ravel()
        if len(x) != self.n_nodes or len(y) != self.n_nodes:
            raise ValueError(f"x and y need one row per node ({self.n_nodes}), got "
                             f"{len(x)} and {len(y)}; unlabelled nodes need some y (it is ignored)")
        if labelled.size == 0 or labelled.min() < 0 or labelled.max() >= self.n_nodes:
            raise ValueError(f"labelled must list node indices in 0..{self.n_nodes - 1}")
        if steps % steps_per_epoch:
            raise ValueError(f"steps ({steps}) must be a multiple of steps_per_epoch "
                             f"({steps_per_epoch})")
        weight = np.zeros(self.n_nodes, dtype="float32")
        weight[labelled] = 1.0
        k = steps_per_epoch
        return self.fit(np.tile(x, (k, 1)), np.tile(y, k), sample_weight=np.tile(weight, k),
                        batch_size=self.n_nodes, epochs=steps // k, shuffle=False, verbose=0,
                        callbacks=list(callbacks or []))


class GraphRegressor(keras.Model):
    """Graph-level regression: an input projection, ``depth`` message-passing (or GCN) layers
    with residual connections, pooling per graph, and an MLP head with one output per graph.
    Its input is :meth:`GraphBatch.inputs` (``GraphSequence`` feeds it to ``fit``).

    >>> graphs = molecules_to_graphs(["CCO", "c1ccccc1"])
    >>> model = GraphRegressor(units=16, depth=2)
    >>> tuple(model(batch_graphs(graphs).inputs()).shape)
    (2,)
    """

    def __init__(self, units: int = 64, depth: int = 3, *, layer: str = "mpnn",
                 readout: Sequence[str] = ("sum", "mean", "max"), head: Sequence[int] = (64,),
                 dropout: float = 0.0, **kwargs) -> None:
        super().__init__(**kwargs)
        if layer not in ("mpnn", "gcn"):
            raise ValueError(f"layer must be 'mpnn' (message passing with bond features) or "
                             f"'gcn' (GraphConv), got {layer!r}")
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 0:
            raise ValueError(f"depth must be a non-negative int, got {depth!r}")
        self.readout = tuple(_check_pooling(how, "readout") for how in readout)
        if not self.readout:
            raise ValueError(f"readout needs at least one of {POOLINGS}")
        self.layer_kind = layer
        self.project = keras.layers.Dense(units, activation="relu")
        self.convs = [MessagePassing(units) if layer == "mpnn" else GraphConv(units, "relu")
                      for _ in range(depth)]
        self.head = [keras.layers.Dense(h, activation="relu") for h in head]
        self.dropout = keras.layers.Dropout(dropout)
        self.out = keras.layers.Dense(1)

    def node_states(self, inputs):
        """The node states after the last layer, ``(total nodes, units)``."""
        h = self.project(inputs["nodes"])
        edges = inputs["edges"]
        for conv in self.convs:
            extra = inputs.get("edge_features") if self.layer_kind == "mpnn" else None
            h = h + (conv(h, edges, extra) if extra is not None else conv(h, edges))
        return h

    def call(self, inputs, training=False):
        h = self.node_states(inputs)
        ids = ops.cast(inputs["graph_ids"], "int32")
        n_graphs = ops.max(ids) + 1          # every graph has at least one node
        pooled = ops.concatenate([segment_pool(h, ids, n_graphs, how) for how in self.readout], -1)
        for dense in self.head:
            pooled = self.dropout(dense(pooled), training=training)
        return self.out(pooled)[:, 0]


# --- molecules ----------------------------------------------------------------------------------

ATOM_ELEMENTS = ("C", "N", "O", "F", "P", "S", "Cl", "Br", "I")
"""Elements with their own one-hot slot; anything else shares an 'other' slot."""
BOND_TYPES = ("SINGLE", "DOUBLE", "TRIPLE", "AROMATIC")
_DEGREES, _HYDROGENS, _CHARGES = (0, 1, 2, 3, 4), (0, 1, 2, 3), (-1, 0, 1)
_HYBRIDISATIONS = ("SP", "SP2", "SP3")
N_ATOM_FEATURES = (len(ATOM_ELEMENTS) + 1 + len(_DEGREES) + len(_HYDROGENS) + len(_CHARGES)
                   + len(_HYBRIDISATIONS) + 1 + 2)
"""Element (+ other), heavy-atom degree, attached hydrogens, formal charge, hybridisation
(+ other), aromatic, in a ring: 28 numbers per atom."""
N_BOND_FEATURES = len(BOND_TYPES) + 2
"""Bond type, conjugated, in a ring: 6 numbers per bond (the same in both directions)."""


class InvalidSmilesError(ValueError):
    """RDKit could not read a SMILES string."""


def _one_hot(value, choices, other: bool = False) -> list[float]:
    hot = [float(value == c) for c in choices]
    if other:
        hot.append(float(value not in choices))
    elif value not in choices:                 # clip to the last slot (e.g. degree 4 or more)
        hot[-1] = 1.0
    return hot


def _atom_features(atom) -> list[float]:
    return (_one_hot(atom.GetSymbol(), ATOM_ELEMENTS, other=True)
            + _one_hot(min(atom.GetDegree(), 4), _DEGREES)
            + _one_hot(min(atom.GetTotalNumHs(), 3), _HYDROGENS)
            + _one_hot(max(-1, min(atom.GetFormalCharge(), 1)), _CHARGES)
            + _one_hot(str(atom.GetHybridization()), _HYBRIDISATIONS, other=True)
            + [float(atom.GetIsAromatic()), float(atom.IsInRing())])


def _bond_features(bond) -> list[float]:
    kind = str(bond.GetBondType())
    return ([float(kind == t) for t in BOND_TYPES]
            + [float(bond.GetIsConjugated()), float(bond.IsInRing())])


def _parse(smiles: Any):
    from rdkit import Chem, rdBase

    if not isinstance(smiles, str):
        raise TypeError(f"a SMILES must be a str, got {type(smiles).__name__}")
    if not smiles.strip():
        raise InvalidSmilesError("empty SMILES string; give a molecule such as 'CCO' (ethanol)")
    with rdBase.BlockLogs():                 # RDKit would print the parse error to stderr
        mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise InvalidSmilesError(
            f"invalid SMILES {smiles!r}: RDKit cannot parse it (check brackets, ring-closure "
            "digits and valences; Chem.MolFromSmiles shows the parser's message)")
    if mol.GetNumAtoms() == 0:
        raise InvalidSmilesError(f"SMILES {smiles!r} has no atoms")
    return mol


def smiles_to_graph(smiles: str) -> Graph:
    """A molecule as a graph: heavy atoms are nodes (:data:`N_ATOM_FEATURES` features each),
    bonds are edges in both directions (:data:`N_BOND_FEATURES` features each).

    >>> g = smiles_to_graph("CCO")                       # ethanol: C-C-O
    >>> g.nodes.shape, g.edges.tolist(), g.edge_features.shape
    ((3, 28), [[0, 1, 1, 2], [1, 0, 2, 1]], (4, 6))
    >>> smiles_to_graph("C1CC")
    Traceback (most recent call last):
    ...
    dlbook.graphs.InvalidSmilesError: invalid SMILES 'C1CC': RDKit cannot parse it (check brackets, ring-closure digits and valences; Chem.MolFromSmiles shows the parser's message)
    """
    mol = _parse(smiles)
    nodes = np.array([_atom_features(a) for a in mol.GetAtoms()], dtype="float32")
    pairs, feats = [], []
    for bond in mol.GetBonds():
        i, j, f = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx(), _bond_features(bond)
        pairs += [(i, j), (j, i)]
        feats += [f, f]
    edges = np.array(pairs, dtype="int32").T.reshape(2, -1)
    edge_features = np.array(feats, dtype="float32").reshape(-1, N_BOND_FEATURES)
    return Graph(nodes, edges, edge_features)


def molecules_to_graphs(smiles: Iterable[str]) -> list[Graph]:
    """:func:`smiles_to_graph` for many molecules; an error names the position of a bad one.

    >>> [g.n_nodes for g in molecules_to_graphs(["C", "CC(=O)O"])]
    [1, 4]
    """
    graphs = []
    for k, s in enumerate(smiles):
        try:
            graphs.append(smiles_to_graph(s))
        except (InvalidSmilesError, TypeError) as why:
            raise type(why)(f"molecule {k}: {why}") from None
    return graphs


def morgan_fingerprints(smiles: Iterable[str], *, radius: int = 2, n_bits: int = 2048,
                        counts: bool = False) -> np.ndarray:
    """Morgan (ECFP-like) fingerprints, ``(n, n_bits)`` float32: which circular substructures
    of up to ``radius`` bonds occur (``counts``: how often), hashed into ``n_bits`` slots.

    >>> fp = morgan_fingerprints(["CCO", "CCO", "c1ccccc1"], n_bits=64)
    >>> fp.shape, bool((fp[0] == fp[1]).all()), bool((fp[0] == fp[2]).all())
    ((3, 64), True, False)
    """
    from rdkit.Chem import rdFingerprintGenerator

    generator = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)
    fingerprint = (generator.GetCountFingerprintAsNumPy if counts
                   else generator.GetFingerprintAsNumPy)
    rows = []
    for k, s in enumerate(smiles):
        try:
            rows.append(fingerprint(_parse(s)))
        except (InvalidSmilesError, TypeError) as why:
            raise type(why)(f"molecule {k}: {why}") from None
    return np.array(rows, dtype="float32").reshape(-1, n_bits)


# --- karate club, over-smoothing, pictures -----------------------------------------------------


@dataclass(frozen=True)
class KarateClub:
    """Zachary's karate club: 34 members, 78 friendships, and the club each member joined when
    the club split (0 = Mr. Hi's, the instructor; 1 = the Officer's, the administrator)."""

    graph: Any = field(repr=False)            # the networkx.Graph
    edges: np.ndarray = field(repr=False)     # (2, 156): each friendship in both directions
    labels: np.ndarray = field(repr=False)    # (34,) int64
    class_names: tuple[str, ...] = ("Mr. Hi", "Officer")
    instructor: int = 0
    administrator: int = 33

    @property
    def n_nodes(self) -> int:
        return int(len(self.labels))


def karate_club() -> KarateClub:
    """Load Zachary's (1977) karate club from networkx (no download).

    >>> club = karate_club()
    >>> club.n_nodes, club.edges.shape, np.bincount(club.labels).tolist()
    (34, (2, 156), [17, 17])
    >>> club.labels[[club.instructor, club.administrator]].tolist()
    [0, 1]
    """
    import networkx as nx

    graph = nx.karate_club_graph()
    names = KarateClub.class_names
    clubs = [graph.nodes[i]["club"] for i in range(graph.number_of_nodes())]
    unknown = set(clubs) - set(names)
    if unknown:
        raise ValueError(f"networkx's karate club has unexpected club names {sorted(unknown)}")
    labels = np.array([names.index(c) for c in clubs], dtype="int64")
    edges = undirected(np.array(list(graph.edges()), dtype="int64").T)
    return KarateClub(graph=graph, edges=edges, labels=labels)


def label_spreading(edges: Any, n_nodes: int, labels: dict[int, int], *, alpha: float = 0.99,
                    n_classes: int | None = None) -> np.ndarray:
    """Label spreading (Zhou et al., 2004), the classical baseline: the fixed point
    ``F = (1 - alpha) (I - alpha S)^-1 Y`` of ``F <- alpha S F + (1 - alpha) Y``, with
    ``S = D^-1/2 A D^-1/2`` and ``Y`` one-hot on the labelled nodes (``labels``: node -> class).
    Returns ``F``, ``(n_nodes, n_classes)``: take ``argmax(1)`` for the predicted class.

    >>> path = undirected([[0, 1], [1, 2], [2, 3]])
    >>> label_spreading(path, 4, {0: 0, 3: 1}).argmax(1).tolist()
    [0, 0, 1, 1]
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    if not labels:
        raise ValueError("label_spreading needs at least one labelled node, e.g. {0: 0, 33: 1}")
    nodes = np.array(list(labels), dtype="int64")
    classes = np.array(list(labels.values()), dtype="int64")
    if nodes.min() < 0 or nodes.max() >= n_nodes:
        raise ValueError(f"labelled node {int(nodes.max())} is out of range for {n_nodes} nodes")
    k = int(n_classes if n_classes is not None else classes.max() + 1)
    if classes.min() < 0 or classes.max() >= k:
        raise ValueError(f"classes must lie in 0..{k - 1}, got {sorted(set(classes.tolist()))}")
    y = np.zeros((n_nodes, k))
    y[nodes, classes] = 1.0
    s = normalized_adjacency(edges, n_nodes, self_loops=False)
    return (1 - alpha) * np.linalg.solve(np.eye(n_nodes) - alpha * s, y)


def mean_cosine_distance(h: Any) -> float:
    """Mean cosine distance between all pairs of node representations (MAD, Chen et al. 2020):
    near 0 when every node looks the same (over-smoothing). Zero rows are left out.

    >>> mean_cosine_distance(np.array([[1.0, 0.0], [0.0, 1.0]]))   # orthogonal
    1.0
    >>> mean_cosine_distance(np.ones((4, 3)))
    0.0
    """
    h = np.asarray(h, dtype="float64")
    if h.ndim != 2:
        raise ValueError(f"h must have shape (nodes, features), got {h.shape}")
    norms = np.linalg.norm(h, axis=1)
    h = h[norms > 1e-12] / norms[norms > 1e-12, None]
    if len(h) < 2:
        return 0.0
    distance = 1.0 - h @ h.T
    n = len(h)
    return float(max(0.0, (distance.sum() - np.trace(distance)) / (n * (n - 1))))


class EmbeddingRecorder(keras.callbacks.Callback):
    """Keeps ``model.embed(x)`` (a NumPy array) in ``self.snapshots``, a dict training step ->
    embedding: before training (step 0) and after every epoch of ``steps_per_epoch`` steps."""

    def __init__(self, x: Any, steps_per_epoch: int = 1) -> None:
        super().__init__()
        self.x, self.steps_per_epoch = np.asarray(x, dtype="float32"), int(steps_per_epoch)
        self.snapshots: dict[int, np.ndarray] = {}

    def _keep(self, step: int) -> None:
        self.snapshots[step] = ops.convert_to_numpy(self.model.embed(self.x))

    def on_train_begin(self, logs=None) -> None:
        self._keep(0)

    def on_epoch_end(self, epoch, logs=None) -> None:
        self._keep((epoch + 1) * self.steps_per_epoch)


def draw_predictions(club: KarateClub, predicted: Any, *, ax=None, title: str = "",
                     labelled: Sequence[int] = ()):
    """Draw the club with each member coloured by ``predicted`` class; members whose true club
    differs get a red ring, labelled members a black square. Returns the figure."""
    import matplotlib.pyplot as plt
    import networkx as nx

    predicted = np.asarray(predicted)
    if predicted.shape != club.labels.shape:
        raise ValueError(f"predicted must have one class per member, shape {club.labels.shape}")
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6.4, 5.2))
    pos = nx.spring_layout(club.graph, seed=3)
    colours = np.array(["tab:blue", "tab:orange"])
    nx.draw_networkx_edges(club.graph, pos, ax=ax, alpha=0.3)
    wrong = predicted != club.labels
    nx.draw_networkx_nodes(club.graph, pos, ax=ax, node_color=colours[predicted].tolist(),
                           edgecolors=np.where(wrong, "red", "white").tolist(),
                           linewidths=np.where(wrong, 3.0, 1.0).tolist(), node_size=260)
    if len(labelled):
        nx.draw_networkx_nodes(club.graph, pos, nodelist=list(labelled), ax=ax, node_shape="s",
                               node_color=colours[predicted[list(labelled)]].tolist(),
                               edgecolors="black", linewidths=2.0, node_size=300)
    nx.draw_networkx_labels(club.graph, pos, ax=ax, font_size=7)
    handles = [plt.Line2D([], [], ls="", marker="o", color=c, label=f"predicted {n}")
               for c, n in zip(colours, club.class_names, strict=True)]
    handles.append(plt.Line2D([], [], ls="", marker="o", mfc="white", mec="red", mew=2,
                              label="true club differs"))
    ax.legend(handles=handles, loc="lower left", fontsize=8)
    ax.set_title(title)
    ax.axis("off")
    return fig
