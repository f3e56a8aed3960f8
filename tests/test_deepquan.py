"""DeepQuanHasher and ProductQuantizer: triplet loss, k-means schedule, tables, errors."""

import numpy as np
import pytest
import torch
from _retrieval import assert_retriever_matches_code_space

from skhash.datasets import cnnh_split, load_digits
from skhash.quantization import DeepQuanHasher, ProductQuantizer, _deepquan
from skhash.quantization._deepquan import DeepQuanLoss, weighted_triplet_loss
from skhash.quantization._pq import fit_codebooks


@pytest.fixture(scope="module")
def data():
    X, y = load_digits(return_X_y=True)
    s = cnnh_split(y, n_queries_per_class=20, n_train=None, random_state=0)
    return X[s.query], y[s.query], X[s.database], y[s.database]


def _fast(**kw):
    # min_stability=0: always fine-tune (the gate has its own tests)
    params = dict(M=2, K=16, hidden_units=(32,), pretrain_epochs=3, max_epochs=3,
                  batch_size=64, lr=3e-3, min_stability=0.0, random_state=0)
    params.update(kw)
    return DeepQuanHasher(**params)


@pytest.fixture(scope="module")
def fitted(data):
    return _fast().fit(data[2])


# ----------------------------------------------------------------- the loss
def test_weighted_triplet_loss_and_gradient_hand_values():
    # ||z - C+|| = 5, ||z - C-|| = 10
    z = torch.zeros(1, 2, requires_grad=True)
    pos, neg = torch.tensor([[3.0, 4.0]]), torch.tensor([[6.0, 8.0]])
    loss = weighted_triplet_loss(z, pos, neg, margin=4.0, negative_weight=0.5)
    assert loss.item() == pytest.approx(4.0 - (0.5 * 10 - 5), abs=1e-6)
    loss.sum().backward()
    # d/dz [s - negative_weight ||z - C-|| + ||z - C+||] = -negative_weight (z - C-)/10 + (z - C+)/5
    np.testing.assert_allclose(z.grad.numpy(), [[0.3 - 0.6, 0.4 - 0.8]], atol=1e-6)

    # satisfied margin: zero loss, zero gradient
    z2 = torch.zeros(1, 2, requires_grad=True)
    loss2 = weighted_triplet_loss(z2, pos, neg, margin=1.0, negative_weight=0.9)  # 1 - (9 - 5) < 0
    assert loss2.item() == 0.0
    loss2.sum().backward()
    np.testing.assert_array_equal(z2.grad.numpy(), 0.0)


def test_loss_module_terms_hand_values():
    crit = DeepQuanLoss(margin=3.0, negative_weight=0.5, eta=0.1)
    z = torch.tensor([[0.1, 0.0, 0.0, 0.0]])
    x, x_hat = torch.tensor([[1.0, 2.0]]), torch.tensor([[0.0, 0.0]])
    # before codebooks: reconstruction only (squared error per feature, D = 2)
    assert crit((z, x_hat), x).item() == pytest.approx(0.1 * 5.0 / 2)
    # M=2, K=2, d=2: nearest codewords are the zeros; the negatives are forced
    codebooks = np.array([[[0, 0], [3, 4]], [[0, 0], [0, 0]]], dtype=np.float32)
    crit.set_codebooks(codebooks)
    terms = crit.terms((z, x_hat), x)
    d_pos, d_neg = 0.1, np.hypot(2.9, 4.0)
    assert terms["triplet"].item() == pytest.approx(3.0 - (0.5 * d_neg - d_pos), rel=1e-5)
    quad = DeepQuanLoss(quantization_loss="quadratic")
    quad.set_codebooks(codebooks)
    assert quad.terms((z, x_hat), x)["quadratic"].item() == pytest.approx(0.01, rel=1e-5)


def test_negatives_are_never_the_assigned_codeword():
    torch.manual_seed(0)
    codebooks = torch.randn(3, 5, 2)
    z = torch.randn(400, 6)
    pos, neg = _deepquan._assigned_and_negative(z, codebooks)
    sub = z.reshape(-1, 3, 2)
    nearest = ((sub[:, :, None] - codebooks[None]) ** 2).sum(-1).argmin(-1)
    np.testing.assert_array_equal(
        pos.reshape(-1, 3, 2).numpy(), codebooks[torch.arange(3)[None], nearest].numpy()
    )
    assert not (neg.reshape(-1, 3, 2) == pos.reshape(-1, 3, 2)).all(-1).any()


# ------------------------------------------------------- training schedule
def test_codebooks_update_every_epoch_and_loss_decreases(data, monkeypatch):
    calls = []

    def spy(Z, M, K, **kw):
        out = fit_codebooks(Z, M, K, **kw)
        calls.append((kw["init"] is not None, out[0].copy(), out[1].copy()))
        return out

    monkeypatch.setattr(_deepquan, "fit_codebooks", spy)
    # the stability measure's own k-means (tested below) left out of the count
    monkeypatch.setattr(DeepQuanHasher, "_code_stability", lambda self, Z: 1.0)
    est = _fast(pretrain_epochs=2, max_epochs=6).fit(data[2])
    # one k-means after pre-training, one per epoch, one final on all rows
    assert len(calls) == 1 + 6 + 1
    assert [warm for warm, _, _ in calls] == [False] + [True] * 7
    for (_, before, _), (_, after, _) in zip(calls[:-1], calls[1:-1]):
        assert not np.allclose(before, after)  # the codebooks move every epoch
    assert (calls[0][2] != calls[-2][2]).any()  # and assignments change
    losses = [h["train_loss"] for h in est.history_]
    assert len(losses) == 2 + 6
    assert losses[-1] < losses[2]  # the objective decreases over the triplet epochs
    np.testing.assert_array_equal(est.codebooks_, calls[-1][1])


def test_dae_pq_is_kmeans_of_the_pretrained_code(data):
    Xdb = data[2]
    dae = _fast(quantization_loss=None).fit(Xdb)
    assert len(dae.history_) == 3  # pre-training only
    Z = dae.embed(Xdb)
    codes = dae.transform(Xdb)
    brute = np.stack(
        [np.argmin(((Z[:, None, m * 16:(m + 1) * 16] - dae.codebooks_[m][None]) ** 2).sum(-1), 1)
         for m in range(2)], axis=1)
    np.testing.assert_array_equal(codes, brute)
    # training on the triplet objective moves the network away from the pre-trained one
    full = _fast().fit(Xdb)
    assert not np.allclose(full.embed(Xdb[:20]), Z[:20])


def test_code_stability_is_high_on_clusters_and_low_on_noise():
    rng = np.random.RandomState(0)
    est = _fast(M=2, K=4)
    est._M = 2
    centres = rng.randn(4, 2, 3) * 20  # 4 well-separated blobs in each subspace
    blobs = (centres[rng.randint(4, size=400)] + rng.randn(400, 2, 3)).reshape(400, 6)
    torch.manual_seed(0)
    assert est._code_stability(blobs.astype(np.float32)) == pytest.approx(1.0)
    est.K = 16  # 16 cells cut from a uniform cloud depend on the seed
    noise = rng.rand(2000, 6).astype(np.float32)
    assert est._code_stability(noise) < 0.8


def test_fine_tuning_runs_only_on_a_stable_code(data):
    Xdb = data[2]
    dae = _fast(quantization_loss=None).fit(Xdb)
    assert dae.code_stability_ is None and not dae.fine_tuned_
    tuned = _fast().fit(Xdb)
    assert tuned.fine_tuned_ and 0 < tuned.code_stability_ <= 1
    assert len(tuned.history_) == 3 + 3
    gated = _fast(min_stability=1.0).fit(Xdb)  # no code is that stable: DAE-PQ
    assert not gated.fine_tuned_ and gated.code_stability_ == tuned.code_stability_
    assert len(gated.history_) == 3
    np.testing.assert_array_equal(gated.codebooks_, dae.codebooks_)
    np.testing.assert_array_equal(gated.transform(Xdb), dae.transform(Xdb))


def test_stability_measure_leaves_the_fits_rng_alone(data, monkeypatch):
    Xdb = data[2]
    measured = _fast().fit(Xdb)
    monkeypatch.setattr(DeepQuanHasher, "_code_stability", lambda self, Z: 1.0)
    unmeasured = _fast().fit(Xdb)  # draws nothing between pre-training and fine-tuning
    np.testing.assert_array_equal(measured.codebooks_, unmeasured.codebooks_)


def test_labels_are_ignored_and_fit_repeats(fitted, data):
    Xq, yq, Xdb, ydb = data
    again = _fast().fit(Xdb, ydb)
    np.testing.assert_array_equal(again.transform(Xq), fitted.transform(Xq))
    np.testing.assert_array_equal(again.codebooks_, fitted.codebooks_)


# ------------------------------------------------------------------ search
def test_codes_shapes_and_inverse_transform(fitted, data):
    Xq = data[0]
    codes = fitted.transform(Xq)
    assert codes.shape == (len(Xq), 2) and codes.dtype == np.uint8 and codes.max() < 16
    assert fitted.embed(Xq).shape == (len(Xq), 32)
    with torch.no_grad():  # the encoder-only pass equals the network's own code output
        z = fitted.net_.forward(Xq, training=False, device="cpu")[0].numpy()
    np.testing.assert_allclose(fitted.embed(Xq), z, rtol=1e-6, atol=1e-7)
    assert fitted.codebooks_.shape == (2, 16, 16)
    assert fitted.n_bits_ == 8
    rec = fitted.inverse_transform(codes)
    assert rec.shape == Xq.shape and rec.dtype == np.float32
    with torch.no_grad():
        module = fitted.net_.module_
        ref = module.decoder(torch.as_tensor(fitted.code_space_.decode(codes)))
    # the decoder works on standardized inputs: mapped back to the input's scale
    scale = np.sqrt(fitted.input_variance_)
    np.testing.assert_allclose(rec, ref.numpy() * scale + fitted.input_mean_,
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("asymmetric", [False, True])
def test_tables_match_brute_force(fitted, data, asymmetric):
    Xq, _, Xdb, _ = data
    dc = fitted.transform(Xdb[:60])
    q = fitted.embed(Xq[:15]) if asymmetric else fitted.transform(Xq[:15])
    qv = q if asymmetric else fitted.code_space_.decode(q)
    brute = ((qv[:, None] - fitted.code_space_.decode(dc)[None]) ** 2).sum(-1)
    np.testing.assert_allclose(fitted.code_space_.pairwise(q, dc, asymmetric=asymmetric), brute,
                               rtol=1e-4, atol=1e-4)


def test_retrieval_beats_chance_symmetric_and_asymmetric(fitted, data):
    assert_retriever_matches_code_space(fitted, *data, min_map=0.3)  # chance is 0.1
    assert fitted.score(data[0], data[1]) > 0.2


# --------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "params, message",
    [
        (dict(K=2000), "K=2000 codewords per subspace need at least 2000 training samples"),
        (dict(M=3, code_dim=16), r"M \* \(L / M\) != L"),
        (dict(negative_weight=1.0), "'negative_weight' parameter"),
        (dict(negative_weight=0.0), "'negative_weight' parameter"),
        (dict(margin=-0.5), "'margin' parameter"),
        (dict(min_stability=1.5), "'min_stability' parameter"),
        (dict(n_bits=10, K=16), "n_bits=10 cannot be met with K=16"),
        (dict(n_bits=8, K=24), "K to be a power of 2"),
        (dict(hidden_units=(0,)), "hidden_units must be positive"),
    ],
)
def test_deepquan_bad_parameters(data, params, message):
    with pytest.raises(ValueError, match=message):
        _fast(**params).fit(data[2])


def test_n_bits_sets_m(data):
    est = _fast(n_bits=8, K=16, pretrain_epochs=1, max_epochs=1).fit(data[2])
    assert est.transform(data[0][:3]).shape == (3, 2) and est.n_bits_ == 8


def test_k_larger_than_training_rows_after_validation_split(data):
    with pytest.raises(ValueError, match="after the validation split"):
        _fast(K=300, validation_fraction=0.5).fit(data[2][:400])


def test_nan_input_is_rejected(data):
    X = data[2].copy()
    X[3, 5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        _fast().fit(X)


# ----------------------------------------------------- product quantization
def test_product_quantizer_codes_are_nearest_codewords(data):
    Xq, yq, Xdb, ydb = data
    pq = ProductQuantizer(M=4, K=16, random_state=0).fit(Xdb)
    codes = pq.transform(Xq)
    assert codes.shape == (len(Xq), 4) and pq.codebooks_.shape == (4, 16, 16)
    sub = Xq.reshape(len(Xq), 4, 16)
    brute = ((sub[:, :, None] - pq.codebooks_[None]) ** 2).sum(-1).argmin(-1)
    np.testing.assert_array_equal(codes, brute)
    np.testing.assert_allclose(pq.inverse_transform(codes),
                               pq.codebooks_[np.arange(4)[None], codes].reshape(len(Xq), 64))
    # codebooks are k-means centroids: each is the mean of its members on the training set
    train_codes = pq.transform(Xdb)
    members = Xdb[train_codes[:, 0] == train_codes[0, 0], :16]
    np.testing.assert_allclose(pq.codebooks_[0, train_codes[0, 0]], members.mean(0), atol=1e-3)
    assert pq.score(Xq, yq) > 0.5
    again = ProductQuantizer(M=4, K=16, random_state=0).fit(Xdb, ydb)
    np.testing.assert_array_equal(again.codebooks_, pq.codebooks_)


def test_product_quantizer_uneven_subspaces_are_the_array_split(data):
    # M=5 on 64 features: widths 13, 13, 13, 13, 12 (numpy's array_split), the
    # narrow subspace padded with a zero column that changes no distance
    Xq, yq, Xdb, ydb = data
    pq = ProductQuantizer(M=5, K=8, random_state=0).fit(Xdb)
    assert pq.codebooks_.shape == (5, 8, 13)
    np.testing.assert_array_equal(pq.codebooks_[4, :, 12], 0.0)
    parts = np.array_split(np.arange(64), 5)
    codes = pq.transform(Xq)
    for m, cols in enumerate(parts):
        words = pq.codebooks_[m, :, :len(cols)]
        brute = ((Xq[:, cols][:, None] - words[None]) ** 2).sum(-1).argmin(-1)
        np.testing.assert_array_equal(codes[:, m], brute)
    recon = pq.inverse_transform(codes)
    assert recon.shape == Xq.shape
    expected = np.concatenate(
        [pq.codebooks_[m, codes[:, m], :len(c)] for m, c in enumerate(parts)], 1)
    np.testing.assert_allclose(recon, expected)
    # asymmetric distances are those to the reconstructions, in the original 64 columns
    table = pq.code_space_.pairwise(pq.embed(Xq[:3]), pq.transform(Xdb[:7]), asymmetric=True)
    brute = ((Xq[:3, None] - pq.inverse_transform(pq.transform(Xdb[:7]))[None]) ** 2).sum(-1)
    np.testing.assert_allclose(table, brute, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize(
    "params, message",
    [
        (dict(M=65), r"M=65 subspaces need at least one feature each, got n_features=64"),
        (dict(K=5000), "K=5000 codewords per subspace need at least 5000"),
        (dict(n_bits=10, K=16), "n_bits=10 cannot be met"),
    ],
)
def test_product_quantizer_bad_parameters(data, params, message):
    with pytest.raises(ValueError, match=message):
        ProductQuantizer(**params).fit(data[2])


def test_validation_fraction_monitors_valid_loss(data):
    est = _fast(validation_fraction=0.2, pretrain_epochs=2, max_epochs=2).fit(data[2])
    assert len(est.history_) == 4
    assert all(np.isfinite(h["valid_loss"]) for h in est.history_)


# ------------------------------------------------- defaults derived from the data
def test_reconstruction_term_is_relative_to_the_inputs_variance():
    crit = DeepQuanLoss(eta=0.5, input_variance=0.25)
    x, x_hat = torch.tensor([[1.0, 2.0]]), torch.tensor([[0.0, 0.0]])
    z = torch.zeros(1, 4)
    assert crit.terms((z, x_hat), x)["reconstruction"].item() == pytest.approx(2.5 / 0.25)
    assert crit((z, x_hat), x).item() == pytest.approx(0.5 * 2.5 / 0.25)


@pytest.mark.parametrize("scale", [1.0, 255.0])
def test_fit_measures_the_inputs_variance_at_any_scale(data, scale):
    X = data[2] * scale
    est = _fast(pretrain_epochs=1, max_epochs=1).fit(X)
    assert est.input_variance_ == pytest.approx(np.var(X.astype(np.float64), axis=0).mean())
    assert est.net_.criterion_.input_variance == est.input_variance_
    # the first epoch's loss is a relative error at both scales (an absolute one
    # would be about input_variance_ times larger: ~4,800 times on 0-255 values)
    first = est.net_.history[0, "train_loss"] / est.eta
    assert 0.05 < first < 10.0 and est.input_variance_ > 1000 * (scale > 1) * 1.0


def test_standardized_inputs_make_the_fit_scale_free(data):
    X = data[2]
    est = _fast(pretrain_epochs=1, max_epochs=1).fit(X)
    module = est.net_.module_
    np.testing.assert_allclose(module.shift.numpy(), X.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(est.input_mean_, X.mean(0), rtol=1e-5, atol=1e-6)
    assert module.scale.item() == pytest.approx(np.sqrt(est.input_variance_))
    # the network sees (x - mean) / std: four times the inputs (an exact scaling
    # in float32) train the same network to the same codes
    scaled = _fast(pretrain_epochs=1, max_epochs=1).fit(X * 4)
    np.testing.assert_array_equal(scaled.transform(X[:50] * 4), est.transform(X[:50]))
    np.testing.assert_allclose(scaled.inverse_transform(est.transform(X[:5])),
                               4 * est.inverse_transform(est.transform(X[:5])),
                               rtol=1e-4, atol=1e-4)
    # without it the raw inputs go in: the identity buffers
    raw = _fast(pretrain_epochs=1, max_epochs=1, standardize=False).fit(X)
    assert not raw.net_.module_.shift.any() and raw.net_.module_.scale.item() == 1.0
    assert not np.array_equal(raw.transform(X[:50]), est.transform(X[:50]))


def test_mean_variance_chunked_and_constant_inputs():
    X = np.random.RandomState(0).rand(1000, 5).astype(np.float32) * 4 + 3
    mean, variance = _deepquan._mean_variance(X, chunk=77)
    np.testing.assert_allclose(mean, X.astype(np.float64).mean(0), rtol=1e-12)
    assert variance == pytest.approx(np.var(X.astype(np.float64), axis=0).mean())
    est = DeepQuanHasher(M=1, K=2)
    est._check_params_vs_input(np.ones((10, 3), dtype=np.float32), 10)
    assert est._input_variance == 1.0  # nothing to scale by
    np.testing.assert_array_equal(est._input_mean, np.ones(3))


@pytest.mark.parametrize("n, pretrain, rounds", [(9000, 20, 10), (59000, 20, 10),
                                                 (1497, 120, 60), (256, 720, 360)])
def test_auto_epochs_keep_mnists_number_of_updates(n, pretrain, rounds):
    est = DeepQuanHasher()
    assert est.pretrain_epochs == est.max_epochs == "auto"
    batches = n // 256 + (n % 256 > 1)  # as fit counts them
    assert est._resolve_max_epochs(batches) == rounds == est.max_epochs_
    assert est.pretrain_epochs_ == pretrain
    fixed = DeepQuanHasher(pretrain_epochs=3, max_epochs=4)
    assert fixed._resolve_max_epochs(batches) == 4 and fixed.pretrain_epochs_ == 3


def test_auto_epochs_are_what_fit_trains(data):
    est = _fast(pretrain_epochs="auto", max_epochs="auto", batch_size=512,
                hidden_units=(8,)).fit(data[2])
    n = len(data[2])  # 1,597 rows in batches of 512: 4 an epoch -> 180 epochs, 90 rounds
    assert n // 512 + (n % 512 > 1) == 4
    assert (est.pretrain_epochs_, est.max_epochs_) == (180, 90)
    assert len(est.net_.history) == 180 + 90
    with pytest.raises(ValueError, match="pretrain_epochs"):
        _fast(pretrain_epochs="long").fit(data[2])
