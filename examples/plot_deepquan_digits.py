"""
=========================================================
Unsupervised deep quantization: PQ vs DAE-PQ vs DeepQuan
=========================================================

:class:`~skhash.quantization.DeepQuanHasher` learns product codes without
labels: an autoencoder's hidden code is split into ``M`` parts, each
quantized to one of ``K`` k-means codewords, and the network is trained so
that each code lies close to its own codewords and far from other ones (a
weighted triplet loss) while still reconstructing the input. This example
compares, on the same 12-bit codes (``M=2`` parts of ``K=64`` codewords):

* **PQ** -- :class:`~skhash.quantization.ProductQuantizer`, k-means in two
  halves of the pixel space, no network;
* **DAE-PQ** -- PQ of a pre-trained denoising autoencoder's code
  (``quantization_loss=None``);
* **DeepQuan** -- the full method, always fine-tuned (``min_stability=0``;
  by default ``fit`` skips the fine-tuning when the pre-trained code's
  k-means is not stable across seeds, and prints nothing: ``code_stability_``
  and ``fine_tuned_`` say what it measured and did).

Labels are used only to judge the rankings. The last figure shows the first
two subspaces of the learned code (as in the paper's Fig. 3): each point is
an image projected on its subspace's two principal axes, coloured by digit,
with the ``K`` codewords as black crosses.
"""

# SPDX-License-Identifier: BSD-3-Clause

# %%
# Data: queries and a database, labels kept aside for judging
# -----------------------------------------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import PCA

from skhash.datasets import cnnh_split, load_digits
from skhash.neighbors import KNeighborsRetriever
from skhash.quantization import DeepQuanHasher, ProductQuantizer

X, y = load_digits(return_X_y=True)
split = cnnh_split(y, n_queries_per_class=30, n_train=None, random_state=0)
X_query, y_query = X[split.query], y[split.query]
X_db, y_db = X[split.database], y[split.database]

# %%
# Three quantizers, trained on the database without labels
# --------------------------------------------------------
# A smaller autoencoder than the paper's (the digits have 64 pixels), a
# lower learning rate (on this small set, fine-tuning at the default 1e-3
# pulls the codes into the first k-means cells too fast) and a fixed, short
# schedule (the default "auto" epochs would give this set MNIST's number of
# updates: 120 epochs and 60 rounds).
small = dict(M=2, K=64, hidden_units=(256, 256, 512), pretrain_epochs=100, max_epochs=10,
             lr=3e-4, random_state=0)
models = {
    "PQ": ProductQuantizer(M=2, K=64, random_state=0),
    "DAE-PQ": DeepQuanHasher(quantization_loss=None, **small),
    "DeepQuan": DeepQuanHasher(min_stability=0.0, **small),
}
scores = {}
for name, model in models.items():
    model.fit(X_db)  # no y: unsupervised
    retriever = KNeighborsRetriever(model).fit(X_db, y_db)
    scores[name] = retriever.score(X_query, y_query)  # mAP over the whole database
    print(f"{name:>8}: {model.code_space_.n_bits:.0f}-bit codes, mAP = {scores[name]:.4f}")

# what the default gate (min_stability=0.3) would have decided on this data
print(f"k-means stability of the pre-trained code: {models['DeepQuan'].code_stability_:.3f}")

# asymmetric search: the continuous code of the query against the database codes
asym = KNeighborsRetriever(models["DeepQuan"], asymmetric=True).fit(X_db, y_db)
print(f"DeepQuan, asymmetric search: mAP = {asym.score(X_query, y_query):.4f}")

fig, ax = plt.subplots(figsize=(4.5, 3))
ax.bar(list(scores), list(scores.values()), color=["tab:gray", "tab:blue", "tab:orange"])
ax.set_ylabel("mAP over the database")
ax.set_title("12-bit codes, no labels")
fig.tight_layout()

# %%
# The first two subspaces of DeepQuan's code
# ------------------------------------------
# ``embed`` gives the continuous code ``z``; its part ``m`` is quantized by
# the codewords ``codebooks_[m]``.
deepquan = models["DeepQuan"]
Z = deepquan.embed(X_db)
d = deepquan.codebooks_.shape[2]
fig, axes = plt.subplots(1, 2, figsize=(9, 4))
for m, ax in enumerate(axes):
    part = Z[:, m * d:(m + 1) * d]
    pca = PCA(n_components=2).fit(part)
    P = pca.transform(part)
    C = pca.transform(deepquan.codebooks_[m])
    points = ax.scatter(P[:, 0], P[:, 1], c=y_db, cmap="tab10", s=6, alpha=0.7)
    ax.scatter(C[:, 0], C[:, 1], c="black", marker="x", s=40, label="codewords")
    ax.set_title(f"subspace {m + 1}")
    ax.set_xticks([])
    ax.set_yticks([])
axes[0].legend(loc="best")
fig.colorbar(points, ax=axes, label="digit (not used in training)",
             ticks=np.arange(10))
plt.show()
