"""Graph neural networks: graph convolution matches Kipf and Welling's formula and is
permutation-equivariant, graph-level readouts are permutation-invariant, batching then pooling
equals per-graph results, molecules become the right graphs, and bad input is refused."""

import re

import numpy as np
import pytest

from dlbook import graphs as G

keras = G.keras
ops = keras.ops


def _np(x):
    return ops.convert_to_numpy(x)


@pytest.fixture(scope="module")
def ring_with_tail():
    """Six nodes: a 4-ring 0-1-2-3 and a tail 3-4-5, random features of width 5."""
    rng = np.random.default_rng(0)
    return G.Graph(rng.normal(size=(6, 5)),
                   G.undirected([[0, 1], [1, 2], [2, 3], [3, 0], [3, 4], [4, 5]]),
                   None)


@pytest.fixture(scope="module")
def molecules():
    return G.molecules_to_graphs(["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "C", "ClC(Cl)Cl"])


# --- edges and graphs ---------------------------------------------------------------------------


def test_check_edges_accepts_pairs_and_returns_senders_and_receivers():
    assert G.check_edges([(0, 1), (2, 0), (1, 2)], 3).tolist() == [[0, 2, 1], [1, 0, 2]]
    assert G.check_edges(np.array([[0, 1], [1, 0]]), 2).dtype == np.int32


@pytest.mark.parametrize("edges, match", [
    ([[0, 5]], "edge index 5 is out of range for a graph of 3 nodes"),
    ([[-1, 0]], "edge index -1 is out of range"),
    (np.zeros((3, 3)), r"shape \(2, m\)"),
    (np.array([[0.5, 1.0], [1.0, 0.0]]), "integer node indices"),
])
def test_check_edges_refuses_bad_edges_with_the_reason(edges, match):
    with pytest.raises(ValueError, match=match):
        G.check_edges(edges, 3)


def test_graph_refuses_edge_features_that_do_not_match_the_edges():
    with pytest.raises(ValueError, match="one row per .directed. edge"):
        G.Graph(np.ones((2, 1)), [[0, 1], [1, 0]], np.ones((1, 3)))
    with pytest.raises(ValueError, match="NaN"):
        G.Graph(np.array([[np.nan]]), np.zeros((2, 0)))


def test_undirected_lists_every_edge_both_ways_once():
    edges = G.undirected([[0, 1], [1, 0], [1, 2], [2, 2]])
    assert sorted(map(tuple, edges.T.tolist())) == [(0, 1), (1, 0), (1, 2), (2, 1)]


def test_normalized_adjacency_is_symmetric_with_spectrum_in_minus_one_to_one(ring_with_tail):
    a_hat = G.normalized_adjacency(ring_with_tail.edges, 6)
    assert np.allclose(a_hat, a_hat.T)
    eig = np.linalg.eigvalsh(a_hat)
    assert eig.max() == pytest.approx(1.0) and eig.min() > -1.0


# --- layers -------------------------------------------------------------------------------------


def test_graph_conv_equals_the_dense_kipf_welling_formula(ring_with_tail):
    keras.utils.set_random_seed(0)
    conv = G.GraphConv(3)
    out = _np(conv(ring_with_tail.nodes, ring_with_tail.edges))
    dense = G.normalized_adjacency(ring_with_tail.edges, 6) @ ring_with_tail.nodes @ conv.kernel.numpy()
    assert np.allclose(out, dense + conv.bias.numpy(), atol=1e-5)


def test_graph_conv_with_edge_weights_equals_the_weighted_formula():
    edges = G.undirected([[0, 1], [1, 2]])
    weight = np.array([2.0, 2.0, 0.5, 0.5], dtype="float32")   # (0,1) (1,0) (1,2) (2,1)
    x = np.eye(3, dtype="float32")
    conv = G.GraphConv(3, use_bias=False, kernel_initializer="identity")
    out = _np(conv(x, edges, weight))
    a = np.eye(3)
    for (s, r), w in zip(edges.T, weight, strict=True):
        a[r, s] += w
    d = a.sum(axis=1)
    assert np.allclose(out, a / np.sqrt(np.outer(d, d)), atol=1e-6)


@pytest.mark.parametrize("layer", [lambda: G.GraphConv(4, "tanh"),
                                   lambda: G.MessagePassing(4, aggregation="sum"),
                                   lambda: G.MessagePassing(4, aggregation="mean"),
                                   lambda: G.MessagePassing(4, aggregation="max")],
                         ids=["gcn", "mp-sum", "mp-mean", "mp-max"])
def test_layers_are_permutation_equivariant(layer, ring_with_tail):
    keras.utils.set_random_seed(1)
    conv = layer()
    order = np.array([4, 2, 0, 5, 1, 3])
    permuted = ring_with_tail.permuted(order)
    out = _np(conv(ring_with_tail.nodes, ring_with_tail.edges))
    out_permuted = _np(conv(permuted.nodes, permuted.edges))
    assert np.allclose(out_permuted, out[order], atol=1e-5)
    assert not np.allclose(out, out[::-1], atol=1e-3)   # the test would notice a node mix-up


def test_message_passing_uses_edge_features(molecules):
    keras.utils.set_random_seed(0)
    mp = G.MessagePassing(8)
    g = molecules[2]
    with_bonds = _np(mp(g.nodes, g.edges, g.edge_features))
    other_bonds = _np(mp(g.nodes, g.edges, 1.0 - g.edge_features))
    assert not np.allclose(with_bonds, other_bonds)


def test_max_aggregation_gives_zero_to_a_node_that_receives_nothing():
    x = np.array([[1.0], [-5.0]], dtype="float32")
    out = G._aggregate(ops.convert_to_tensor(x), ops.convert_to_tensor([1, 1]), 2, "max")
    assert _np(out).ravel().tolist() == [0.0, 1.0]


@pytest.mark.parametrize("layer", [G.GraphConv, G.MessagePassing])
def test_layers_refuse_out_of_range_edges_when_called_eagerly(layer):
    with pytest.raises(ValueError, match="out of range for a graph of 3 nodes"):
        layer(2)(np.ones((3, 2), dtype="float32"), np.array([[0, 1], [1, 3]]))


def test_layers_refuse_bad_settings():
    with pytest.raises(ValueError, match="units must be a positive int"):
        G.GraphConv(0)
    with pytest.raises(ValueError, match="aggregation must be one of"):
        G.MessagePassing(4, aggregation="median")
    with pytest.raises(ValueError, match="layer must be 'mpnn'"):
        G.GraphRegressor(layer="gat")


# --- batching and readout ----------------------------------------------------------------------


def test_batching_renumbers_edges_into_a_disjoint_union(molecules):
    batch = G.batch_graphs(molecules)
    assert batch.nodes.shape[0] == sum(g.n_nodes for g in molecules) == len(batch.graph_ids)
    same_graph = batch.graph_ids[batch.edges[0]] == batch.graph_ids[batch.edges[1]]
    assert same_graph.all()
    assert batch.edge_features.shape == (batch.edges.shape[1], G.N_BOND_FEATURES)


@pytest.mark.parametrize("how", G.POOLINGS)
def test_batching_then_pooling_equals_pooling_each_graph(how, molecules):
    batch = G.batch_graphs(molecules)
    pooled = _np(G.segment_pool(batch.nodes, batch.graph_ids, batch.n_graphs, how))
    one_by_one = [_np(G.segment_pool(g.nodes, np.zeros(g.n_nodes, "int32"), 1, how))[0]
                  for g in molecules]
    assert np.allclose(pooled, np.stack(one_by_one), atol=1e-6)


@pytest.mark.parametrize("layer", ["mpnn", "gcn"])
def test_graph_regressor_predicts_the_same_batched_or_one_by_one(layer, molecules):
    keras.utils.set_random_seed(0)
    model = G.GraphRegressor(units=16, depth=2, layer=layer)
    batched = _np(model(G.batch_graphs(molecules).inputs()))
    single = [float(_np(model(G.batch_graphs([g]).inputs()))[0]) for g in molecules]
    assert np.allclose(batched, single, atol=1e-5)


def test_graph_level_readout_is_permutation_invariant(molecules):
    keras.utils.set_random_seed(0)
    model = G.GraphRegressor(units=16, depth=3)
    g = molecules[2]
    order = np.random.default_rng(0).permutation(g.n_nodes)
    before = _np(model(G.batch_graphs([g]).inputs()))
    after = _np(model(G.batch_graphs([g.permuted(order)]).inputs()))
    assert np.allclose(before, after, atol=1e-5)


def test_batch_graphs_refuses_mixed_graphs():
    with pytest.raises(ValueError, match="same number of node features"):
        G.batch_graphs([G.Graph(np.ones((1, 2)), np.zeros((2, 0))),
                        G.Graph(np.ones((1, 3)), np.zeros((2, 0)))])
    with pytest.raises(ValueError, match="at least one graph"):
        G.batch_graphs([])
    with pytest.raises(TypeError, match="Graph objects"):
        G.batch_graphs([np.ones((2, 2))])


def test_segment_pool_refuses_graph_ids_out_of_range():
    with pytest.raises(ValueError, match="graph_ids must be"):
        G.segment_pool(np.ones((2, 1)), np.array([0, 2]), 2)


def test_graph_sequence_covers_every_graph_once_per_epoch(molecules):
    seq = G.GraphSequence(molecules, np.arange(5.0), batch_size=2, shuffle=True, seed=3)
    targets = np.concatenate([seq[i][1] for i in range(len(seq))])
    assert sorted(targets.tolist()) == [0.0, 1.0, 2.0, 3.0, 4.0]
    with pytest.raises(ValueError, match="5 graphs but 4 targets"):
        G.GraphSequence(molecules, np.arange(4.0))


def test_graph_regressor_fits_a_property_it_can_count(molecules):
    """Heavy-atom count is a sum over nodes: a few epochs of fit must bring the loss down."""
    keras.utils.set_random_seed(0)
    y = np.array([g.n_nodes for g in molecules], dtype="float32") / 10
    model = G.GraphRegressor(units=16, depth=1, readout=("sum",))
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    seq = G.GraphSequence(molecules, y, batch_size=5)
    before = model.evaluate(seq, verbose=0)
    model.fit(G.GraphSequence(molecules * 8, np.tile(y, 8), batch_size=5), epochs=5, verbose=0)
    assert model.evaluate(seq, verbose=0) < 0.1 * before


# --- molecules ----------------------------------------------------------------------------------


def test_benzene_becomes_six_aromatic_atoms_and_twelve_directed_bonds():
    g = G.smiles_to_graph("c1ccccc1")
    assert (g.n_nodes, g.n_edges) == (6, 12)
    aromatic_bond = G.BOND_TYPES.index("AROMATIC")
    assert g.edge_features[:, aromatic_bond].all()
    assert g.nodes.shape[1] == G.N_ATOM_FEATURES
    assert g.nodes[:, G.ATOM_ELEMENTS.index("C")].all()


def test_atom_features_one_hot_each_group():
    g = G.smiles_to_graph("CC(=O)[O-].[Na+]")
    assert np.allclose(g.nodes[:, :len(G.ATOM_ELEMENTS) + 1].sum(axis=1), 1)  # one element slot
    assert g.nodes[:, -1].sum() == 0                                          # no ring atoms
    sodium = g.nodes[-1]
    assert sodium[len(G.ATOM_ELEMENTS)] == 1                                  # 'other' element


@pytest.mark.parametrize("bad", ["C1CC", "c1cccc1", "C(C", "Xx"])
def test_invalid_smiles_raise_a_clear_error_and_print_nothing(bad, capfd):
    with pytest.raises(G.InvalidSmilesError, match=re.escape(f"invalid SMILES {bad!r}")):
        G.smiles_to_graph(bad)
    assert capfd.readouterr().err == ""


def test_molecules_to_graphs_names_the_bad_molecule():
    with pytest.raises(G.InvalidSmilesError, match="molecule 1: invalid SMILES"):
        G.molecules_to_graphs(["CCO", "C1CC"])
    with pytest.raises(TypeError, match="molecule 0: a SMILES must be a str"):
        G.molecules_to_graphs([None])
    with pytest.raises(G.InvalidSmilesError, match="empty SMILES"):
        G.smiles_to_graph("  ")


def test_morgan_count_fingerprints_count_what_bit_fingerprints_only_flag():
    bits = G.morgan_fingerprints(["CCCCCCCC"], n_bits=256)
    counts = G.morgan_fingerprints(["CCCCCCCC"], n_bits=256, counts=True)
    assert set(np.unique(bits)) <= {0.0, 1.0}
    assert counts.max() > 1 and ((counts > 0) == (bits > 0)).all()
    with pytest.raises(G.InvalidSmilesError, match="molecule 0"):
        G.morgan_fingerprints(["C1CC"])


# --- karate club and node classification --------------------------------------------------------


def test_karate_club_is_zacharys_graph_with_two_clubs():
    club = G.karate_club()
    assert club.n_nodes == 34 and club.edges.shape == (2, 156)
    assert np.bincount(club.labels).tolist() == [17, 17]
    assert club.labels[club.instructor] == 0 and club.labels[club.administrator] == 1


def test_node_classifier_learns_the_clubs_from_two_labelled_members():
    keras.utils.set_random_seed(0)
    club = G.karate_club()
    x = np.eye(club.n_nodes, dtype="float32")
    model = G.NodeClassifier(club.edges, hidden=(8, 2))
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="sparse_categorical_crossentropy")
    recorder = G.EmbeddingRecorder(x, steps_per_epoch=20)
    model.fit_labelled(x, club.labels, [0, 33], steps=100, steps_per_epoch=20,
                       callbacks=[recorder])
    predicted = _np(model(x)).argmax(axis=1)
    assert (predicted == club.labels).mean() >= 0.85
    assert sorted(recorder.snapshots) == [0, 20, 40, 60, 80, 100]
    assert recorder.snapshots[100].shape == (34, 2)


def test_node_classifier_refuses_features_of_the_wrong_graph():
    model = G.NodeClassifier(G.undirected([[0, 1], [1, 2]]))
    with pytest.raises(ValueError, match="the graph has 3 nodes"):
        model(np.eye(4, dtype="float32"))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="labelled must list node indices"):
        model.fit_labelled(np.eye(3), np.zeros(3), [5], steps=10)


def test_repeated_graph_convolution_smooths_nodes_towards_one_direction():
    club = G.karate_club()
    a_hat = G.normalized_adjacency(club.edges, club.n_nodes)
    x = np.random.default_rng(0).normal(size=(club.n_nodes, 8))
    spread = [G.mean_cosine_distance(np.linalg.matrix_power(a_hat, k) @ x) for k in (0, 2, 8, 32)]
    assert spread == sorted(spread, reverse=True)
    assert spread[0] > 0.9 and spread[-1] < 0.01


def test_draw_predictions_refuses_a_wrong_number_of_predictions():
    with pytest.raises(ValueError, match="one class per member"):
        G.draw_predictions(G.karate_club(), np.zeros(3, dtype=int))


def test_label_spreading_recovers_the_karate_split_and_refuses_bad_labels():
    club = G.karate_club()
    spread = G.label_spreading(club.edges, club.n_nodes, {0: 0, 33: 1})
    assert spread.shape == (34, 2)
    assert (spread.argmax(1) == club.labels).mean() > 0.85
    with pytest.raises(ValueError, match="at least one labelled node"):
        G.label_spreading(club.edges, club.n_nodes, {})
    with pytest.raises(ValueError, match="out of range"):
        G.label_spreading(club.edges, club.n_nodes, {34: 0})
