"""
====================================================
Searching binary codes with KNeighborsRetriever
====================================================

:class:`~skhash.neighbors.KNeighborsRetriever` turns a skhash encoder into
a search engine with the interface of :mod:`sklearn.neighbors`: ``fit``
trains the encoder on the database and indexes the database codes;
``kneighbors`` and ``radius_neighbors`` search them exactly (Hamming
distance, ties broken by database index); ``predict`` votes among the
neighbours; ``score`` is the mAP of the queries against the database.

This example wraps a :class:`~skhash.hashing.CNNBHHasher` on the 8x8
digits, shows a few queries with what they retrieve, tunes the code length
with :class:`~sklearn.model_selection.GridSearchCV` and a retrieval scorer,
and saves and reloads the fitted retriever with :mod:`joblib`.
"""

# SPDX-License-Identifier: BSD-3-Clause

# %%
# Data: queries and database
# --------------------------
# The CNNH protocol (:func:`~skhash.datasets.cnnh_split`) draws 30 queries
# per class; every other image forms the database the retriever indexes.
import matplotlib.pyplot as plt
import numpy as np

from skhash.datasets import cnnh_split, load_digits

digits = load_digits()
X, y = digits.data, digits.target
split = cnnh_split(y, n_queries_per_class=30, n_train=None, random_state=0)
X_query, y_query = X[split.query], y[split.query]
X_db, y_db = X[split.database], y[split.database]
print(f"{len(y_query)} queries, {len(y_db)} database images")

# %%
# Fit the retriever
# -----------------
# ``fit`` clones the encoder, trains the clone on the database (``encoder_``)
# and stores the packed database codes (``codes_``). To search with an
# encoder that is already fitted, wrap it in
# :class:`sklearn.frozen.FrozenEstimator`.
from skhash.hashing import CNNBHHasher
from skhash.neighbors import KNeighborsRetriever

retriever = KNeighborsRetriever(
    CNNBHHasher(n_bits=32, input_shape=digits.input_shape, max_epochs=10, random_state=0),
    n_neighbors=8,
)
retriever.fit(X_db, y_db)
print(retriever.code_space_, "| index:", retriever.codes_.shape, retriever.codes_.dtype)

# %%
# k nearest neighbours
# --------------------
# ``kneighbors`` returns Hamming distances and database indices, nearest
# first; among items at the same distance the smaller database index comes
# first.
dist, ind = retriever.kneighbors(X_query[:3])
print("distances:\n", dist)
print("database indices:\n", ind)

# %%
# Show a few queries (left) and their top 8 results. A green title marks a
# result with the query's label, a red one a mistake.
shown = [0, 35, 70, 105, 140, 175, 210, 245]
dist, ind = retriever.kneighbors(X_query[shown])
db_images = digits.images[split.database]
query_images = digits.images[split.query]

fig, axes = plt.subplots(len(shown), 9, figsize=(9, 1.2 * len(shown)))
for row, (q, neighbours, d) in enumerate(zip(shown, ind, dist)):
    axes[row, 0].imshow(query_images[q, 0], cmap="gray_r")
    axes[row, 0].set_title(f"query {y_query[q]}", fontsize=8)
    for col, (j, dj) in enumerate(zip(neighbours, d), start=1):
        axes[row, col].imshow(db_images[j, 0], cmap="gray_r")
        colour = "tab:green" if y_db[j] == y_query[q] else "tab:red"
        axes[row, col].set_title(f"{y_db[j]} (d={dj})", fontsize=8, color=colour)
for ax in axes.ravel():
    ax.set_axis_off()
fig.suptitle("Queries and their 8 nearest codes (Hamming distance d)")
fig.tight_layout()

# %%
# Hash lookup within a Hamming radius
# -----------------------------------
# ``radius_neighbors`` returns, per query, every database item within the
# radius (here 2, the radius the hashing papers report), as object arrays
# like :meth:`sklearn.neighbors.NearestNeighbors.radius_neighbors`. Some
# buckets are empty; :func:`~skhash.metrics.precision_within_radius` counts
# an empty bucket as precision 0.
from skhash.metrics import precision_within_radius

r_dist, r_ind = retriever.radius_neighbors(X_query, radius=2)
sizes = np.array([len(found) for found in r_ind])
print(f"items within radius 2: median {np.median(sizes):.0f}, "
      f"{np.count_nonzero(sizes == 0)} empty buckets out of {len(sizes)}")
print(f"precision within radius 2 = {precision_within_radius(y_query, y_db, r_ind):.4f}")

# %%
# Predict and score
# -----------------
# ``predict`` takes a majority vote among the ``n_neighbors`` nearest
# database items. CNNBH also has its own classifier, reached through the
# fitted ``encoder_``. ``score`` ranks the whole database for every query and
# returns mAP@all.
vote_accuracy = np.mean(retriever.predict(X_query) == y_query)
net_accuracy = np.mean(retriever.encoder_.predict(X_query) == y_query)
print(f"accuracy, 8-neighbour vote: {vote_accuracy:.4f}")
print(f"accuracy, CNNBH classifier: {net_accuracy:.4f}")
print(f"mAP@all of the queries: {retriever.score(X_query, y_query):.4f}")

# %%
# Tune the code length with GridSearchCV
# --------------------------------------
# :func:`~skhash.metrics.make_retrieval_scorer` builds a scorer for
# ``GridSearchCV``. With a retriever, each validation fold is used as
# queries against the database indexed from the training folds; here the
# score is mAP over the top 50 results. The encoder's parameters are set
# through the ``encoder__`` prefix. Only the database takes part: the
# queries stay unseen until the final evaluation.
from sklearn.model_selection import GridSearchCV

from skhash.metrics import make_retrieval_scorer

search = GridSearchCV(
    KNeighborsRetriever(
        CNNBHHasher(input_shape=digits.input_shape, max_epochs=5, random_state=0)
    ),
    param_grid={"encoder__n_bits": [8, 16, 32]},
    scoring=make_retrieval_scorer("map", k=50),
    cv=2,
)
search.fit(X_db, y_db)
for n_bits, score in zip(
    search.cv_results_["param_encoder__n_bits"], search.cv_results_["mean_test_score"]
):
    print(f"n_bits={n_bits:2d}: cross-validated mAP@50 = {score:.4f}")
print("best:", search.best_params_)
print(f"queries, mAP@50 of the refitted best retriever: {search.score(X_query, y_query):.4f}")

# %%
# Save and reload
# ---------------
# A fitted retriever pickles with :mod:`joblib`, network, codes and labels
# included; the reloaded copy gives the same results. Fitted arrays are CPU
# NumPy arrays, so a model trained on a GPU loads on a CPU-only machine.
import tempfile
from pathlib import Path

import joblib

with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / "digits_retriever.joblib"
    joblib.dump(retriever, path)
    print(f"saved {path.stat().st_size / 1024:.0f} KiB")
    reloaded = joblib.load(path)

_, ind_before = retriever.kneighbors(X_query)
_, ind_after = reloaded.kneighbors(X_query)
print("same neighbours after reloading:", np.array_equal(ind_before, ind_after))
plt.show()
