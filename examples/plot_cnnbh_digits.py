"""
=================================================
CNN-based binary hashing (CNNBH) on the digits
=================================================

This example trains :class:`~skhash.hashing.CNNBHHasher` on the 8x8
handwritten digits that ship with scikit-learn and evaluates the 32-bit
codes the way the deep-hashing papers do: the CNNH protocol splits the data
into queries and a database, every query ranks the whole database by Hamming
distance, and we report mean average precision (mAP), precision-recall
curves and the accuracy of the network's own classifier.

CNNBH trains a small CNN for classification only. The layer just before the
classifier (the "knob" layer, ``n_bits`` linear units) gives the hash: bit
``i`` is 1 when unit ``i`` is positive.

Everything runs on the CPU in a few seconds.
"""

# SPDX-License-Identifier: BSD-3-Clause

# %%
# Data and the CNNH protocol
# --------------------------
# :func:`~skhash.datasets.load_digits` returns 1,797 images scaled to
# ``[0, 1]``, flattened to 64 features (``digits.images`` holds the same
# pixels as ``(1, 8, 8)`` images). :func:`~skhash.datasets.cnnh_split` draws
# ``n_queries_per_class`` queries from each class; every other image is the
# database. ``n_train=None`` trains on the whole database (the papers draw
# 5,000 training images from the database of a larger dataset).
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
# Train the hasher
# ----------------
# ``input_shape`` tells the estimator to view each 64-feature row as a
# ``(1, 8, 8)`` image, which selects the convolutional backbone. With an
# integer ``random_state``, training on the CPU is repeatable.
from skhash.hashing import CNNBHHasher

hasher = CNNBHHasher(
    n_bits=32, input_shape=digits.input_shape, max_epochs=15, random_state=0
)
hasher.fit(X_train, y_train)

# The skorch training history is available as ``history_``.
train_loss = hasher.history_[:, "train_loss"]
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(np.arange(1, len(train_loss) + 1), train_loss, marker="o")
ax.set_xlabel("epoch")
ax.set_ylabel("training loss (cross-entropy)")
ax.set_title("CNNBH training on digits")
fig.tight_layout()

# %%
# Encode the database and the queries
# -----------------------------------
# ``transform`` gives the bits as a ``(n, n_bits)`` array of 0/1;
# ``encode`` packs them into ``ceil(n_bits / 8)`` bytes per image, the form
# that is stored and searched.
db_codes = hasher.encode(X_db)
query_codes = hasher.encode(X_query)
print("bits of the first query:", hasher.transform(X_query[:1])[0])
print("packed codes:", db_codes.shape, db_codes.dtype)

# Share of the database with each bit set: well-used bits are near 0.5.
bit_balance = hasher.code_space_.unpack(db_codes).mean(axis=0)
print(f"bits set to 1: between {bit_balance.min():.0%} and {bit_balance.max():.0%} "
      "of the database")

# %%
# Mean average precision over the whole database
# ----------------------------------------------
# The fitted hasher's ``code_space_`` knows how codes compare. Its
# ``pairwise`` gives the full Hamming distance matrix; ``rank_by_distance``
# sorts every row, breaking ties (frequent with Hamming distances) by
# database index, so the result is reproducible. An item is relevant to a
# query when it has the same label.
from skhash.metrics import (
    mean_average_precision,
    precision_at_k,
    rank_by_distance,
)

distances = hasher.code_space_.pairwise(query_codes, db_codes)
ranking = rank_by_distance(distances)

map_all = mean_average_precision(y_query, y_db, ranking)
map_100 = mean_average_precision(y_query, y_db, ranking, k=100)
p_100 = precision_at_k(y_query, y_db, ranking, k=100)
print(f"mAP@all = {map_all:.4f}")
print(f"mAP@100 = {map_100:.4f}  (normalised by the relevant items in the top 100)")
print(f"P@100   = {p_100:.4f}")

# %%
# The same number comes out of a retriever: wrap the fitted hasher in
# :class:`sklearn.frozen.FrozenEstimator` so that ``fit`` only indexes the
# database codes, then ``score`` the queries (mAP@all).
from sklearn.frozen import FrozenEstimator

from skhash.neighbors import KNeighborsRetriever

retriever = KNeighborsRetriever(FrozenEstimator(hasher)).fit(X_db, y_db)
print(f"KNeighborsRetriever.score = {retriever.score(X_query, y_query):.4f}")

# %%
# Classification accuracy
# -----------------------
# CNNBH is trained as a classifier, so it also predicts labels.
accuracy = np.mean(hasher.predict(X_query) == y_query)
print(f"accuracy of predict on the queries = {accuracy:.4f}")

# %%
# Precision-recall curves
# -----------------------
# Two ways to turn Hamming distances into retrieved sets:
#
# * **Hamming ranking**: return the ``k`` nearest items;
#   :class:`~skhash.metrics.RetrievalPrecisionRecallDisplay` draws precision@k
#   against recall@k for many cut-offs ``k``
#   (:func:`~skhash.metrics.precision_recall_curve_at_k`).
# * **Hash lookup**: return every item within Hamming radius ``r``; the same
#   display with ``distances=`` draws precision and recall for every radius
#   (:func:`~skhash.metrics.precision_recall_by_radius`). A query whose Hamming
#   ball is empty has precision 0, which is why precision drops at the
#   smallest radii.
from skhash.metrics import RetrievalPrecisionRecallDisplay

ks = np.unique(np.geomspace(1, len(y_db), 60).astype(np.int64))
fig, (ax_pr, ax_r) = plt.subplots(1, 2, figsize=(10, 4))
RetrievalPrecisionRecallDisplay.from_predictions(
    y_query, y_db, ranking=ranking, cutoffs=ks, name="Hamming ranking (top k)", ax=ax_pr)
by_radius = RetrievalPrecisionRecallDisplay.from_predictions(
    y_query, y_db, distances=distances, name="Hamming radius r", ax=ax_pr,
    linestyle="--", markersize=4)
precision_r, recall_r, radii = by_radius.precision, by_radius.recall, by_radius.cutoffs
print(f"precision within Hamming radius 2 = {precision_r[radii == 2][0]:.4f}")
ax_pr.set_xlim(0, 1.02)
ax_pr.set_ylim(0, 1.02)
ax_pr.set_title(f"CNNBH, 32 bits (mAP@all = {map_all:.3f})")
ax_pr.legend(loc="lower left")

ax_r.plot(radii, precision_r, "o-", label="precision")
ax_r.plot(radii, recall_r, "s-", label="recall")
ax_r.axvline(2, color="grey", linestyle=":", label="r = 2")
ax_r.set_xlabel("Hamming radius r")
ax_r.set_ylabel("mean over queries")
ax_r.set_title("Hash lookup within radius r")
ax_r.legend(loc="center right")
fig.tight_layout()
plt.show()
