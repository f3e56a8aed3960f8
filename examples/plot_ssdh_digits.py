"""
=======================================================
Semantics-preserving deep hashing (SSDH) on the digits
=======================================================

This example trains :class:`~skhash.hashing.SSDHHasher` on the 8x8
handwritten digits that ship with scikit-learn, first with class labels and
then with label sets (multi-label data), and evaluates the 32-bit codes under
the CNNH protocol: every query ranks the whole database by Hamming distance,
and we report mean average precision (mAP) and the accuracy of the network's
own classifier.

SSDH puts a latent layer of ``n_bits`` sigmoid units between the features and
the classifier; bit ``k`` is 1 when unit ``k`` is above 0.5. Besides the
classification loss, two terms act on the latent activations: one pushes
each activation towards 0 or 1 (binarization), the other makes each code
about half ones (balance); a plot shows the activations and the bits.

Everything runs on the CPU in a few seconds.
"""

# SPDX-License-Identifier: BSD-3-Clause

# %%
# Data and the CNNH protocol
# --------------------------
# :func:`~skhash.datasets.cnnh_split` draws 30 queries per class; every other
# image is the database, and ``n_train=None`` trains on the whole database.
import matplotlib.pyplot as plt
import numpy as np

from skhash.datasets import cnnh_split, load_digits

digits = load_digits()
X, y = digits.data, digits.target
split = cnnh_split(y, n_queries_per_class=30, n_train=None, random_state=0)

X_query, y_query = X[split.query], y[split.query]
X_db, y_db = X[split.database], y[split.database]
X_train, y_train = X[split.train], y[split.train]
print(f"{len(split.query)} queries, {len(split.database)} database images, "
      f"{len(split.train)} training images")

# %%
# Train on class labels
# ---------------------
# ``input_shape=(1, 8, 8)`` selects the convolutional network (two 5x5
# convolutions with 32 and 64 filters, then a 512-unit fully connected
# feature layer). The loss weights keep their defaults
# ``alpha = beta = gamma = 1``; the binarization and balance terms are ramped
# in over the first ``warmup_epochs=5`` epochs. SSDH is also a classifier.
from skhash.hashing import SSDHHasher

hasher = SSDHHasher(
    n_bits=32, input_shape=digits.input_shape, max_epochs=20, random_state=0
)
hasher.fit(X_train, y_train)
print("multi-label model:", hasher.multilabel_)

accuracy = np.mean(hasher.predict(X_query) == y_query)
print(f"accuracy of predict on the queries = {accuracy:.4f}")

# %%
# Multi-label data
# ----------------
# :func:`~skhash.datasets.make_multilabel_digits` gives every image a label
# set: its digit (ten one-hot columns) plus "even" and "ge5" (digit >= 5).
from skhash.datasets import make_multilabel_digits

Y, label_names = make_multilabel_digits(y)
Y_query, Y_db, Y_train = Y[split.query], Y[split.database], Y[split.train]
print("labels:", label_names)
print("label set of the first query:", Y_query[0])

# %%
# Passing the indicator matrix as ``y`` is all it takes: with
# ``multilabel="auto"`` a 2-D ``y`` with more than one column trains SSDH's
# max-margin classification loss instead of the softmax cross-entropy.
#
# The max-margin loss learns more slowly at first than the cross-entropy.
# On these 1,497 training images, the default ``batch_size=128`` (12 steps
# per epoch) let the binarization term saturate the sigmoid units before the
# digit labels were learned: after 20 epochs every digit label was predicted
# "absent". Smaller batches give more steps per epoch, and 15 epochs suffice.
ml_params = dict(
    n_bits=32, input_shape=digits.input_shape, batch_size=32, max_epochs=15,
    random_state=0,
)
ml_hasher = SSDHHasher(**ml_params)
ml_hasher.fit(X_train, Y_train)
print("multi-label model:", ml_hasher.multilabel_)
print("classes_ (label columns):", ml_hasher.classes_)

# %%
# ``predict`` returns an indicator matrix: a label is predicted when its score
# is at least 0.5. Here is the accuracy of each label column.
Y_pred = ml_hasher.predict(X_query)
per_label = (Y_pred == Y_query).mean(axis=0)
for name, acc in zip(label_names, per_label):
    print(f"  accuracy of label {name!r:7}: {acc:.4f}")
print(f"mean per-label accuracy = {per_label.mean():.4f}")
print(f"exact label-set match   = {np.mean((Y_pred == Y_query).all(axis=1)):.4f}")

# %%
# Missing labels
# --------------
# Entries of the indicator matrix equal to ``missing_label`` (-1 by default)
# mean "unknown": they add nothing to the classification loss. Here we hide
# 30% of the training entries and train again; retrieval below is still
# judged on the complete label sets.
rng = np.random.default_rng(0)
Y_partial = Y_train.copy()
Y_partial[rng.random(Y_partial.shape) < 0.3] = -1
partial_hasher = SSDHHasher(**ml_params).fit(X_train, Y_partial)

# %%
# The latent activations and the bits
# -----------------------------------
# The fitted network is ``hasher.net_`` (skorch); ``net_.forward`` runs its
# module, a :class:`~skhash.nn.LatentHashNet`, in evaluation mode and returns
# the classifier outputs and the latent activations. Almost all activations
# sit near 0 or 1, so thresholding them at 0.5 loses little. On these easy
# images the classification loss alone already saturates most units; the
# binarization term adds a little (see the ablation example,
# ``plot_ssdh_ablation.py``, for what each term does). The balance term acts
# on each code, which is about half ones. It does not balance each bit across
# the database: the codes of one class are nearly identical, so with ten
# classes the share of the database with a given bit set is close to a
# multiple of 1/10.
_, latent = hasher.net_.forward(X_db, training=False)
latent = latent.numpy()
near_threshold = np.mean(np.abs(latent - 0.5) < 0.1)
db_bits = hasher.transform(X_db)
print(f"latent activations within 0.1 of the threshold: {near_threshold:.1%}")
print(f"ones per code: {db_bits.mean(axis=1).mean():.3f} on average")
bit_share = db_bits.mean(axis=0)
print(f"share of the database with a bit set: {bit_share.min():.2f} to {bit_share.max():.2f}")

fig, (ax_hist, ax_bits) = plt.subplots(1, 2, figsize=(10, 3.8))
ax_hist.hist(latent.ravel(), bins=50, range=(0, 1), color="tab:blue")
ax_hist.axvline(0.5, color="grey", linestyle=":", label="threshold 0.5")
ax_hist.set_xlabel("latent activation $a^H$")
ax_hist.set_ylabel("count (database images x bits)")
ax_hist.set_title("Activations are pushed to 0 or 1")
ax_hist.legend(loc="upper center")

ax_bits.bar(np.arange(hasher.n_bits), bit_share, color="tab:orange")
ax_bits.axhline(0.5, color="grey", linestyle=":")
ax_bits.set_ylim(0, 1)
ax_bits.set_xlabel("bit")
ax_bits.set_ylabel("share of database codes with bit = 1")
ax_bits.set_title("Share of the database with each bit set")
fig.tight_layout()

# %%
# Retrieval mAP
# -------------
# Wrap each fitted hasher in :class:`sklearn.frozen.FrozenEstimator` so that
# the retriever's ``fit`` only encodes and indexes the database; ``score``
# then gives the mAP of the queries over the whole database (mAP@all).
#
# With class labels, an item is relevant to a query when it has the same
# label. With label sets it is relevant when it shares at least one label,
# so a 0 and a 2 are relevant (both even), and so are a 6 and a 7 (both
# >= 5). Since most pairs share a label, the multi-label mAP values are not
# comparable with the single-label one.
from sklearn.frozen import FrozenEstimator

from skhash.neighbors import KNeighborsRetriever

retriever = KNeighborsRetriever(FrozenEstimator(hasher)).fit(X_db, y_db)
ml_retriever = KNeighborsRetriever(FrozenEstimator(ml_hasher)).fit(X_db, Y_db)
partial_retriever = KNeighborsRetriever(FrozenEstimator(partial_hasher)).fit(X_db, Y_db)

map_single = retriever.score(X_query, y_query)
map_multi = ml_retriever.score(X_query, Y_query)
map_partial = partial_retriever.score(X_query, Y_query)
print(f"single-label mAP@all = {map_single:.4f}")
print(f"multi-label mAP@all = {map_multi:.4f}")
print(f"multi-label mAP@all, 30% of the training labels missing = {map_partial:.4f}")

# %%
# The same multi-label number from the metrics directly: the code space
# gives the Hamming distances between the query codes and the database codes
# that the retriever indexed (``codes_``),
# :func:`~skhash.metrics.rank_by_distance` sorts them (ties by database
# index), and :func:`~skhash.metrics.mean_average_precision` takes the
# indicator matrices.
from skhash.metrics import mean_average_precision, rank_by_distance

distances = ml_hasher.code_space_.pairwise(ml_hasher.encode(X_query), ml_retriever.codes_)
ranking = rank_by_distance(distances)
print(f"multi-label mAP@all (metrics) = "
      f"{mean_average_precision(Y_query, Y_db, ranking):.4f}")

plt.show()
