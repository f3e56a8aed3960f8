"""
==========================================================
Deep quantization by a self-organizing map (DeepSOM)
==========================================================

:class:`~skhash.quantization.DeepSOMQuantizer` trains a CNN whose normalised
``fc8`` features are quantized by a self-organizing map (SOM): a 2-D grid of
unit codewords. The code of an image is the node with the largest response
``U = z C^T``; two codes are compared by the distance between their
codewords, so retrieval works when each class owns its own region of the map.

This example, on the 8x8 digits that ship with scikit-learn,

* compares DeepSOM (pre-training, SOM, then rounds of {network with the
  pairwise quantization loss, SOM}) with DeepSOM-0 (pre-training and SOM
  only), by retrieval mAP over the database and by the accuracy of the
  classification branch;
* draws the response map of one query (the paper's Fig. 2) and the majority
  digit won by each node;
* trains a model whose ``fc8`` has 2 units on a 20 x 20 map and draws the
  map in feature space with its grid links, over the features of the
  queries (the paper's Figs. 5 and 6).
"""

# SPDX-License-Identifier: BSD-3-Clause

# %%
# Data and the CNNH protocol
# --------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.frozen import FrozenEstimator

from skhash.datasets import cnnh_split, load_digits
from skhash.neighbors import KNeighborsRetriever
from skhash.plotting import plot_node_labels, plot_response_map, plot_som
from skhash.quantization import DeepSOMQuantizer

digits = load_digits()
X, y = digits.data, digits.target
split = cnnh_split(y, n_queries_per_class=30, n_train=None, random_state=0)
X_query, y_query = X[split.query], y[split.query]
X_db, y_db = X[split.database], y[split.database]

# %%
# DeepSOM vs DeepSOM-0
# --------------------
# A 10 x 10 map (100 nodes: a code takes log2(100) = 6.6 bits), 15 epochs of
# pre-training, then 5 alternation rounds for DeepSOM; ``n_alternations=0``
# stops after the first SOM (DeepSOM-0). Both start from the same
# pre-trained network (same ``random_state``).
common = dict(map_shape=(10, 10), input_shape=digits.input_shape, max_epochs=15,
              som_n_iter=3000, random_state=0)
models = {
    "DeepSOM-0": DeepSOMQuantizer(n_alternations=0, **common),
    "DeepSOM": DeepSOMQuantizer(n_alternations=5, **common),
}
results = {}
for name, model in models.items():
    model.fit(X_db, y_db)
    row = {}
    for asymmetric in (False, True):
        retriever = KNeighborsRetriever(FrozenEstimator(model), asymmetric=asymmetric)
        retriever.fit(X_db, y_db)
        row["asymmetric" if asymmetric else "symmetric"] = retriever.score(X_query, y_query)
    row["accuracy"] = np.mean(model.predict(X_query) == y_query)
    results[name] = row
    print(f"{name:>9}: mAP symmetric {row['symmetric']:.4f}, asymmetric "
          f"{row['asymmetric']:.4f}; accuracy of predict {row['accuracy']:.4f}")

fig, ax = plt.subplots(figsize=(5, 3))
width = 0.25
for j, key in enumerate(("symmetric", "asymmetric", "accuracy")):
    ax.bar(np.arange(len(results)) + (j - 1) * width, [r[key] for r in results.values()],
           width, label=key)
ax.set_xticks(np.arange(len(results)), list(results))
ax.set_ylim(0.5, 1.0)
ax.set_ylabel("mAP / accuracy")
ax.legend(fontsize="small", loc="lower right")
fig.tight_layout()

# %%
# The map of a query
# ------------------
# Left: the responses of the 100 nodes to one query, the star marks the
# winner, its code. Right: the digit most of the database images won by each
# node belong to -- each digit holds a region of the map.
model = models["DeepSOM"]
print("codes of 5 queries:", model.transform(X_query[:5]).ravel())
fig, axes = plt.subplots(1, 2, figsize=(9, 4))
plot_response_map(model, X_query[0], ax=axes[0])
axes[0].set_title(f"response map of a query (digit {y_query[0]})")
plot_node_labels(model, X_db, y_db, ax=axes[1])
fig.tight_layout()

# %%
# A 20 x 20 map on a 2-unit fc8
# -----------------------------
# With ``embedding_dim=2`` the normalised features lie on the unit circle.
# Left: the 400 codewords (black) line the circle, the grid folded along it
# (grey links join grid neighbours), over the features of the database
# images; each digit takes an arc of its own. Right: the same map seen on its
# grid.
model_2d = DeepSOMQuantizer(map_shape=(20, 20), embedding_dim=2, n_alternations=2,
                            input_shape=digits.input_shape, max_epochs=15,
                            som_n_iter=3000, random_state=0).fit(X_db, y_db)
retriever = KNeighborsRetriever(FrozenEstimator(model_2d)).fit(X_db, y_db)
print(f"2-unit fc8, 20 x 20 map: mAP {retriever.score(X_query, y_query):.4f}")
fig, axes = plt.subplots(1, 2, figsize=(11, 5))
plot_som(model_2d, X_db, y_db, ax=axes[0])
plot_node_labels(model_2d, X_db, y_db, ax=axes[1], annotate=False)
fig.tight_layout()
plt.show()
