"""DeepSOMQuantizer and SelfOrganizingMap: SOM updates by hand, pair sampling,
the pairwise loss, codes, schedule, bad input, persistence and plots."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from _persistence import assert_same_in_fresh_process
from _retrieval import assert_retriever_matches_code_space
from sklearn.frozen import FrozenEstimator

from skhash.datasets import cnnh_split, load_digits
from skhash.neighbors import KNeighborsRetriever
from skhash.quantization import DeepSOMQuantizer, SelfOrganizingMap
from skhash.quantization._deepsom import DeepSOMLoss, pairwise_quantization_loss, sample_pairs
from skhash.quantization._som import decay_schedule, grid_coordinates, som_step

FAST = dict(map_shape=(6, 6), n_alternations=2, alternation_epochs=1, max_epochs=3,
            som_n_iter=600, input_shape=(1, 8, 8), random_state=0)


@pytest.fixture(scope="module")
def data():
    X, y = load_digits(return_X_y=True)
    s = cnnh_split(y, n_queries_per_class=20, n_train=None, random_state=0)
    return X[s.query], y[s.query], X[s.database], y[s.database]


@pytest.fixture(scope="module")
def fitted(data):
    _, _, Xdb, ydb = data
    return DeepSOMQuantizer(**FAST).fit(Xdb, ydb)


# ----------------------------------------------------------------- the SOM
def test_som_step_by_hand_gaussian():
    grid = grid_coordinates((1, 3))  # nodes at columns 0, 1, 2
    codebook = np.array([[0.0], [1.0], [3.0]])
    winner = som_step(codebook, grid, np.array([1.2]), radius=1.0, learning_rate=0.5)
    assert winner == 1
    h = np.exp(-np.array([1.0, 0.0, 1.0]) / 2.0)  # grid distances 1, 0, 1
    expected = np.array([0.0, 1.0, 3.0]) + 0.5 * h * (1.2 - np.array([0.0, 1.0, 3.0]))
    np.testing.assert_allclose(codebook[:, 0], expected)
    # the winner moves most, its neighbours less, all towards the sample
    assert codebook[1, 0] == pytest.approx(1.1)
    assert 0 < codebook[0, 0] < 1.2 and 1.2 < codebook[2, 0] < 3.0


def test_som_step_by_hand_bubble_and_cosine():
    grid = grid_coordinates((2, 2))  # (0,0) (0,1) (1,0) (1,1)
    codebook = np.eye(4)[:, :2].copy()
    codebook[2:] = [[-1.0, 0.0], [0.0, -1.0]]
    x = np.array([2.0, 0.2])  # normalised to ~[0.995, 0.0995]: winner node 0
    before = codebook.copy()
    winner = som_step(codebook, grid, x, radius=1.0, learning_rate=0.5,
                      neighborhood="bubble", metric="cosine")
    assert winner == 0
    xn = x / np.linalg.norm(x)
    for i in (0, 1, 2):  # within radius 1 of the winner: moved, then renormalised
        moved = before[i] + 0.5 * (xn - before[i])
        np.testing.assert_allclose(codebook[i], moved / np.linalg.norm(moved))
    np.testing.assert_array_equal(codebook[3], before[3])  # diagonal: distance sqrt(2) > 1
    np.testing.assert_allclose(np.linalg.norm(codebook, axis=1), 1.0)


def test_radius_and_learning_rate_shrink():
    radii = decay_schedule(10.0, 0.5, 50)
    assert radii[0] == 10.0 and radii[-1] == pytest.approx(0.5)
    assert np.all(np.diff(radii) < 0)
    np.testing.assert_allclose(radii[1:] / radii[:-1], (0.5 / 10.0) ** (1 / 49))
    assert decay_schedule(3.0, 1.0, 1).tolist() == [3.0]


def test_som_orders_a_line():
    # 1-D data on a 1 x 10 map: the codewords end up monotone along the map
    X = np.linspace(0, 1, 200)[:, None]
    som = SelfOrganizingMap((1, 10), n_iter=3000, random_state=0).fit(X)
    c = som.codebooks_[0][:, 0]
    assert np.all(np.diff(c) > 0) or np.all(np.diff(c) < 0)
    assert som.quantization_error(X) < 0.05
    assert som.topographic_error(X) == 0.0


def test_som_codes_and_search(data):
    Xq, yq, Xdb, ydb = data
    som = SelfOrganizingMap((5, 6), n_iter=2000, random_state=0).fit(Xdb)
    codes = som.transform(Xq)
    assert codes.shape == (len(Xq), 1) and codes.dtype == np.uint8
    d2 = ((Xq[:, None, :] - som.codebooks_[0][None]) ** 2).sum(-1)
    np.testing.assert_array_equal(codes[:, 0], d2.argmin(1))
    np.testing.assert_array_equal(som.inverse_transform(codes), som.codebooks_[0][codes[:, 0]])
    np.testing.assert_array_equal(som.node_positions(codes), som.grid_[codes[:, 0]])
    assert som.grid_.shape == (30, 2) and som.grid_[7].tolist() == [1, 1]
    U = som.response_map(Xq)
    assert U.shape == (len(Xq), 5, 6)
    np.testing.assert_array_equal(U.reshape(len(Xq), -1).argmax(1), codes[:, 0])
    r = KNeighborsRetriever(FrozenEstimator(som), n_neighbors=5).fit(Xdb, ydb)
    assert r.score(Xq, yq) > 0.5
    assert 0.5 < som.score(Xdb, ydb) <= 1
    # repeatable with a seed
    again = SelfOrganizingMap((5, 6), n_iter=2000, random_state=0).fit(Xdb)
    np.testing.assert_array_equal(again.codebooks_[0], som.codebooks_[0])


@pytest.mark.parametrize("scale, offset", [(1e25, 0.0), (1.0, 1e5)])
def test_som_winners_are_exact_at_any_scale_and_per_row(scale, offset):
    # issue #11: the winners were float32 matrix products (overflow above ~1e19,
    # cancellation under a large offset, a code depending on its batch)
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(300, 6)) * scale + offset).astype(np.float32)
    som = SelfOrganizingMap((3, 4), n_iter=300, random_state=0).fit(X[:200])
    X64, C64 = X.astype(np.float64), som.codebooks_[0].astype(np.float64)
    brute = ((X64[:, None, :] - C64[None]) ** 2).sum(-1).argmin(1)
    codes = som.transform(X)[:, 0]
    np.testing.assert_array_equal(codes, brute)
    alone = np.array([som.transform(X[i:i + 1])[0, 0] for i in range(0, 300, 17)])
    np.testing.assert_array_equal(alone, codes[::17])


def test_som_cosine_and_warm_start(data):
    Xdb = data[2]
    som = SelfOrganizingMap((4, 4), metric="cosine", init="pca", n_iter=500,
                            random_state=0).fit(Xdb)
    np.testing.assert_allclose(np.linalg.norm(som.codebooks_[0], axis=1), 1.0, rtol=1e-5)
    Z = som.embed(Xdb)
    np.testing.assert_array_equal(som.transform(Xdb)[:, 0], (Z @ som.codebooks_[0].T).argmax(1))
    warm = SelfOrganizingMap((4, 4), metric="cosine", init=som.codebooks_[0], n_iter=1,
                             learning_rate=1e-6, final_learning_rate=1e-6).fit(Xdb)
    np.testing.assert_allclose(warm.codebooks_[0], som.codebooks_[0], atol=1e-5)
    with pytest.raises(ValueError, match="init must have shape"):
        SelfOrganizingMap((3, 3), init=som.codebooks_[0]).fit(Xdb)


def test_som_large_map_codes_are_uint16():
    X = np.random.RandomState(0).rand(50, 3)
    som = SelfOrganizingMap((17, 16), n_iter=50, random_state=0).fit(X)
    assert som.transform(X).dtype == np.uint16


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(map_shape=(0, 5)), "map_shape"),
        (dict(map_shape=(3,)), "map_shape"),
        (dict(initial_radius=0.0), "initial_radius"),
        (dict(final_radius=-1.0), "final_radius"),
        (dict(learning_rate=1.5), "learning_rate"),
    ],
)
def test_som_bad_parameters(params, match):
    with pytest.raises(ValueError, match=match):
        SelfOrganizingMap(**params).fit(np.random.rand(10, 2))


# ------------------------------------------------------- pairs and the loss
def test_sample_pairs_balanced():
    torch.manual_seed(0)
    y = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 2, 3])
    a, b, similar = sample_pairs(y, 16)
    assert len(a) == 16 and similar.sum() == 8 and (~similar).sum() == 8
    assert torch.all(a < b)
    np.testing.assert_array_equal((y[a] == y[b]).numpy(), similar.numpy())
    pairs = set(zip(a.tolist(), b.tolist()))
    assert len(pairs) == 16  # without replacement
    # 3 + 1 + 6 = 10 similar pairs exist: asking for more caps both kinds at 10
    a, b, similar = sample_pairs(y, 100)
    assert similar.sum() == 10 and (~similar).sum() == 10
    # no similar pair in the batch: no pairs at all (never unbalanced)
    a, b, similar = sample_pairs(torch.arange(5), 8)
    assert len(a) == 0


def test_sample_pairs_is_seeded():
    y = torch.randint(0, 3, (40,), generator=torch.Generator().manual_seed(0))
    first = sample_pairs(y, 20, generator=torch.Generator().manual_seed(1))
    second = sample_pairs(y, 20, generator=torch.Generator().manual_seed(1))
    for u, v in zip(first, second):
        torch.testing.assert_close(u, v)


def test_pairwise_loss_by_hand():
    U = torch.tensor([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]], requires_grad=True)
    a = torch.tensor([0, 0, 1])
    b = torch.tensor([1, 2, 2])
    similar = torch.tensor([True, False, False])
    # ||U0 - U1||^2 / 2 = 0.25; dissimilar: ||U0 - U2||^2 / 2 = 1, ||U1 - U2||^2 / 2 = 0.25
    loss = pairwise_quantization_loss(U, a, b, similar)
    assert loss.item() == pytest.approx(0.25 - (1.0 + 0.25) / 2)
    loss.backward()
    assert U.grad is not None and U.grad.abs().sum() > 0
    # with a margin, dissimilar pairs push only while closer than the margin:
    # 0.25 + (max(0, 0.5 - 1) + max(0, 0.5 - 0.25)) / 2
    got = pairwise_quantization_loss(U.detach(), a, b, similar, margin=0.5)
    assert got.item() == pytest.approx(0.25 + 0.25 / 2)
    # margin 0: similar pairs only
    got = pairwise_quantization_loss(U.detach(), a, b, similar, margin=0.0)
    assert got.item() == pytest.approx(0.25)
    empty = torch.empty(0, dtype=torch.int64)
    assert pairwise_quantization_loss(U, empty, empty, empty.bool()).item() == 0.0


def test_loss_combines_terms_and_waits_for_the_som():
    torch.manual_seed(0)
    loss = DeepSOMLoss(quantization_weight=0.5, n_pairs=8)
    out = (torch.randn(6, 3), torch.randn(6, 4), torch.randn(6, 9))
    y = torch.tensor([0, 0, 1, 1, 2, 2])
    ce = torch.nn.functional.cross_entropy(out[0], y)
    assert loss(out, y).item() == pytest.approx(ce.item())  # pre-training: no pairs
    loss.quantization = True
    torch.manual_seed(1)
    terms = loss.terms(out, y)
    torch.manual_seed(1)
    assert loss(out, y).item() == pytest.approx(
        (terms["classification"] + 0.5 * terms["quantization"]).item())
    assert terms["quantization"].item() != 0.0


def test_label_smoothing_of_the_classification_loss():
    """label_smoothing=e: the cross-entropy against (1 - e) one-hot + e / C."""
    torch.manual_seed(0)
    logits = torch.randn(6, 3)
    y = torch.tensor([0, 0, 1, 1, 2, 2])
    target = 0.8 * torch.nn.functional.one_hot(y, 3) + 0.2 / 3
    by_hand = -(target * torch.log_softmax(logits, 1)).sum(1).mean()
    loss = DeepSOMLoss(label_smoothing=0.2)
    assert loss((logits, None, None), y).item() == pytest.approx(by_hand.item(), rel=1e-6)
    plain = DeepSOMLoss()((logits, None, None), y).item()
    assert plain == pytest.approx(torch.nn.functional.cross_entropy(logits, y).item())
    assert plain != pytest.approx(by_hand.item())


def test_colour_augmentation_resolves_and_reaches_the_network():
    """cutout_augment / label_smoothing reach the fitted network's augmentation and loss
    (used in training only); "auto": cut-out 16 and label smoothing 0.1 on colour
    photos, neither on other images."""
    rng = np.random.RandomState(0)
    X = rng.rand(20, 3 * 32 * 32).astype(np.float32)
    y = np.repeat([0, 1], 10)
    small = dict(map_shape=(2, 2), n_alternations=0, max_epochs=1, som_n_iter=20,
                 batch_size=10, input_shape=(3, 32, 32), random_state=0)
    q = DeepSOMQuantizer(**small, cutout_augment=8, label_smoothing=0.1).fit(X, y)
    assert q.net_.module_.augment.cutout == 8 and q.net_.criterion_.label_smoothing == 0.1
    assert np.array_equal(q.transform(X), q.transform(X))  # no augmentation at inference
    auto = DeepSOMQuantizer(**small).fit(X, y)
    assert auto.net_.module_.augment.cutout == 16
    assert auto.net_.criterion_.label_smoothing == 0.1
    Xg, yg = load_digits(return_X_y=True)
    grey = DeepSOMQuantizer(**{**small, "input_shape": (1, 8, 8)}).fit(Xg[:40], yg[:40])
    assert grey.net_.criterion_.label_smoothing == 0.0
    assert getattr(grey.net_.module_.augment, "cutout", 0) == 0


# ------------------------------------------------------------ the estimator
def test_codes_are_the_argmax_of_the_map(fitted, data):
    Xq = data[0]
    codes = fitted.transform(Xq)
    assert codes.shape == (len(Xq), 1) and codes.dtype == np.uint8
    U = fitted.response_map(Xq)
    assert U.shape == (len(Xq), 6, 6)
    np.testing.assert_array_equal(codes[:, 0], U.reshape(len(Xq), -1).argmax(1))
    # U is the inner product of the normalised fc8 with the unit codewords
    z = fitted.embed(Xq)
    C = fitted.codebooks_[0]
    np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(C, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(U.reshape(len(Xq), -1), z @ C.T, atol=1e-5)
    with torch.no_grad():
        out = fitted.net_.forward(Xq)
    np.testing.assert_allclose(out[2].numpy(), U.reshape(len(Xq), -1), atol=1e-6)


def test_fitted_attributes(fitted, data):
    Xq = data[0]
    assert fitted.codebooks_.shape == (1, 36, 20)  # fc8 = 2 x 10 classes
    assert fitted.codebooks_.dtype == np.float32
    np.testing.assert_array_equal(fitted.codebooks_[0], fitted.som_.codebooks_[0])
    np.testing.assert_array_equal(
        fitted.net_.module_.codewords.numpy(), fitted.codebooks_[0])
    assert fitted.map_shape_ == (6, 6) and fitted.grid_.shape == (36, 2)
    assert fitted.code_space_.M == 1 and fitted.code_space_.K == 36
    codes = fitted.transform(Xq)
    np.testing.assert_array_equal(fitted.inverse_transform(codes),
                                  fitted.codebooks_[0][codes[:, 0]])
    np.testing.assert_array_equal(fitted.node_positions(codes), fitted.grid_[codes[:, 0]])


def test_predict_is_the_classification_branch(fitted, data):
    Xq, yq, _, _ = data
    scores = fitted.decision_function(Xq)
    with torch.no_grad():
        logits = fitted.net_.forward(Xq)[0].numpy()
    np.testing.assert_allclose(scores, logits, atol=1e-6)
    np.testing.assert_array_equal(fitted.predict(Xq), fitted.classes_[logits.argmax(1)])
    np.testing.assert_allclose(fitted.predict_proba(Xq).sum(1), 1.0, rtol=1e-5)
    assert np.mean(fitted.predict(Xq) == yq) > 0.7


def test_learns_and_searches(fitted, data):
    assert_retriever_matches_code_space(fitted, *data, min_map=0.5)


def test_schedule_pretrain_then_alternations(fitted, data):
    # history: max_epochs of pre-training, then alternation_epochs per round
    assert len(fitted.history_) == 3 + 2 * 1
    assert fitted.net_.criterion_.quantization
    _, _, Xdb, ydb = data
    zero = DeepSOMQuantizer(**{**FAST, "n_alternations": 0}).fit(Xdb, ydb)
    assert len(zero.history_) == 3
    # DeepSOM-0 and DeepSOM share the pre-training (same seed)
    first = zero.net_.history[-1, "train_loss"]
    assert fitted.net_.history[2, "train_loss"] == pytest.approx(first)


def test_large_map_searches_without_a_stored_table(data):
    # 65 x 65 = 4,225 nodes: a 68 MiB table, over ProductSpace.max_table_bytes
    Xq, _, Xdb, ydb = data
    q = DeepSOMQuantizer(map_shape=(65, 65), n_alternations=0, max_epochs=1,
                         som_n_iter=20, backbone="mlp", hidden_units=(16,),
                         random_state=0).fit(Xdb[:300], ydb[:300])
    assert not q.code_space_.stores_tables
    codes = q.transform(Xq[:10])
    assert codes.dtype == np.uint16
    dist, ind = q.code_space_.kneighbors(codes, q.transform(Xdb[:300]), 3)
    C = q.codebooks_[0]
    db = q.transform(Xdb[:300])[:, 0]
    brute = ((C[codes[:, 0]][:, None] - C[db][None]) ** 2).sum(-1)
    np.testing.assert_allclose(dist, np.sort(brute, axis=1)[:, :3], rtol=1e-4, atol=1e-5)


def test_repeatable_fit(fitted, data):
    _, _, Xdb, ydb = data
    again = DeepSOMQuantizer(**FAST).fit(Xdb, ydb)
    np.testing.assert_array_equal(again.codebooks_, fitted.codebooks_)
    np.testing.assert_array_equal(again.transform(Xdb), fitted.transform(Xdb))


def test_embedding_dim_and_vectors(data):
    _, _, Xdb, ydb = data
    q = DeepSOMQuantizer(map_shape=(3, 4), embedding_dim=2, n_alternations=1, max_epochs=1,
                         som_n_iter=100, hidden_units=(16,), random_state=0)
    q.fit(Xdb[:300], ydb[:300])
    assert q.codebooks_.shape == (1, 12, 2)
    assert q.transform(Xdb[:5]).shape == (5, 1)


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(map_shape=(0, 4)), "side of map_shape must be >= 1"),
        (dict(map_shape=(4, -2)), "side of map_shape must be >= 1"),
        (dict(map_shape=(4, 4, 4)), "map_shape must be a pair"),
        (dict(initial_radius=0.0), "'initial_radius'"),
        (dict(initial_radius=-3.0), "'initial_radius'"),
        (dict(final_radius=0.0), "'final_radius'"),
        (dict(quantization_weight=-1.0), "'quantization_weight'"),
        (dict(n_alternations=-1), "'n_alternations'"),
        (dict(label_smoothing=1.0), "'label_smoothing'"),
        (dict(label_smoothing=-0.1), "'label_smoothing'"),
        (dict(cutout_augment=-1), "'cutout_augment'"),
        (dict(cutout_augment="big"), "'cutout_augment'"),
    ],
)
def test_bad_parameters(data, params, match):
    _, _, Xdb, ydb = data
    with pytest.raises(ValueError, match=match):
        DeepSOMQuantizer(**{**FAST, **params}).fit(Xdb[:100], ydb[:100])


def test_single_class_is_an_error(data):
    _, _, Xdb, _ = data
    with pytest.raises(ValueError, match="at least 2 classes"):
        DeepSOMQuantizer(**FAST).fit(Xdb[:50], np.zeros(50, dtype=int))


def test_som_response_map_in_fresh_process(data, tmp_path):
    # transform, predict, embed of every estimator: tests/test_common.py
    Xq = data[0]
    som = SelfOrganizingMap((4, 4), n_iter=300, random_state=0).fit(Xq)
    assert_same_in_fresh_process(som, Xq, tmp_path / "som", ("transform", "response_map"))


def test_fit_in_another_process_gives_the_same_codes(fitted, data, tmp_path):
    Xq = data[0]
    code = (
        "import numpy as np;"
        "from skhash.datasets import cnnh_split, load_digits;"
        "from skhash.quantization import DeepSOMQuantizer;"
        "X, y = load_digits(return_X_y=True);"
        "s = cnnh_split(y, n_queries_per_class=20, n_train=None, random_state=0);"
        f"q = DeepSOMQuantizer(**{FAST!r}).fit(X[s.database], y[s.database]);"
        f"np.save(r'{tmp_path / 'c.npy'}', q.transform(X[s.query]))"
    )
    # the same torch thread count as here: float sums in another order could
    # break a near-tie between two nodes
    env = dict(os.environ, OMP_NUM_THREADS=str(torch.get_num_threads()))
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
    np.testing.assert_array_equal(np.load(tmp_path / "c.npy"), fitted.transform(Xq))


# ------------------------------------------------------------------ plots
def test_plots_render_without_a_display(fitted, data, tmp_path):
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg")
    import matplotlib.pyplot as plt

    from skhash.plotting import plot_node_labels, plot_response_map, plot_som

    Xq, yq, _, _ = data
    fig, axes = plt.subplots(1, 3, figsize=(12, 4))
    assert plot_response_map(fitted, Xq[0], ax=axes[0]) is axes[0]
    assert plot_som(fitted, Xq, yq, ax=axes[1]) is axes[1]  # 20-D: projected
    assert plot_node_labels(fitted, Xq, yq, ax=axes[2]) is axes[2]
    fig.savefig(tmp_path / "deepsom.png")
    assert (tmp_path / "deepsom.png").stat().st_size > 0
    som = SelfOrganizingMap((4, 5), n_iter=200, random_state=0).fit(Xq[:, :2])
    ax = plot_som(som, Xq[:, :2])  # 2-D features drawn as they are; a new figure
    assert len(ax.collections) >= 3  # samples, grid links, nodes
    ax = plot_response_map(som, Xq[0, :2], colorbar=False)
    ax.figure.savefig(tmp_path / "som.png")
    plt.close("all")
    with pytest.raises(ValueError, match="one sample"):
        plot_response_map(fitted, Xq[:2])
    with pytest.raises(TypeError, match="DeepSOMQuantizer or SelfOrganizingMap"):
        plot_som(KNeighborsRetriever(fitted))


def test_plots_need_matplotlib(fitted, data, monkeypatch):
    from skhash import plotting

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        plotting.plot_response_map(fitted, data[0][0])


def test_one_cycle_schedule_spans_every_phase():
    """On colour photos the one-cycle schedule (per batch) runs once over pre-training and
    all alternation rounds, resumed at its batch count in each ``partial_fit``."""
    rng = np.random.RandomState(0)
    X = rng.rand(40, 3 * 32 * 32).astype(np.float32)
    y = np.repeat([0, 1], 20)
    q = DeepSOMQuantizer(map_shape=(3, 3), n_alternations=2, max_epochs=2, alternation_epochs=1,
                         som_n_iter=50, batch_size=10, input_shape=(3, 32, 32),
                         random_state=0).fit(X, y)
    lrs = [b["event_lr"] for epoch in q.history_ for b in epoch["batches"]]
    assert len(lrs) == 4 * 4
    peak = int(np.argmax(lrs))
    assert 0 < peak < 8  # warm-up ends in pre-training (30% of all batches)
    assert all(a >= b for a, b in zip(lrs[peak:], lrs[peak + 1:]))  # one annealing, no restart
    assert lrs[-1] < 1e-5


@pytest.mark.parametrize("shape, batches, epochs", [
    ((3, 32, 32), 40, 150),   # CIFAR-10's 5,000 CNNH training images, batches of 128
    ((3, 32, 32), 36, 150),   # the 4,500 of its validation split: capped
    ((3, 32, 32), 391, 20),   # its 50,000 training images: the default pre-training
    ((3, 32, 32), 100, 60),   # 6,000 steps
    ((1, 28, 28), 40, 20),    # grey images: the default, whatever the batches
])
def test_auto_pretraining_length(shape, batches, epochs):
    """max_epochs="auto": DeepSOM pre-trains colour photos for at least 6,000 optimizer
    steps, at most 150 epochs and never below its default 20."""
    q = DeepSOMQuantizer(map_shape=(75, 75), input_shape=shape)
    q._input_shape = shape
    assert q._resolve_max_epochs(batches) == epochs == q.max_epochs_
    assert DeepSOMQuantizer(max_epochs=7)._resolve_max_epochs(batches) == 7
