"""
=====================================================
SSDH loss ablation: which terms matter on the digits
=====================================================

:class:`~skhash.hashing.SSDHHasher` minimises
``alpha * E1 - beta * E2 + gamma * E3``: E1 is the classification loss, E2
the binarization term (activations of the latent layer away from 0.5) and E3
the balance term (each code about half ones). The SSDH paper studies what
each term brings by switching them off; this example runs the same ablation
on the 8x8 digits with 32-bit codes:

* ``{1, 0, 0}``: classification only (the latent layer is still a sigmoid
  layer thresholded at 0.5);
* ``{1, 1, 0}``: classification and binarization;
* ``{1, 0, 1}``: classification and balance;
* ``{1, 1, 1}``: the full objective (the default).

Every variant uses the same split, seed and training schedule, and is judged
by mAP over the whole database (CNNH protocol). The digits are a small and
easy data set, so the differences are small; ``skhash benchmark --methods ssdh
--ablation 1,0,0 1,1,0 1,0,1 1,1,1`` runs the same comparison on MNIST.
"""

# SPDX-License-Identifier: BSD-3-Clause

# %%
# Data and the four variants
# --------------------------
import matplotlib.pyplot as plt
import numpy as np

from skhash.datasets import cnnh_split, load_digits
from skhash.hashing import SSDHHasher

digits = load_digits()
X, y = digits.data, digits.target
split = cnnh_split(y, n_queries_per_class=30, n_train=None, random_state=0)
X_query, y_query = X[split.query], y[split.query]
X_db, y_db = X[split.database], y[split.database]
X_train, y_train = X[split.train], y[split.train]

weights = [(1, 0, 0), (1, 1, 0), (1, 0, 1), (1, 1, 1)]
hashers = {}
for alpha, beta, gamma in weights:
    hasher = SSDHHasher(
        n_bits=32, alpha=alpha, beta=beta, gamma=gamma,
        input_shape=digits.input_shape, max_epochs=20, random_state=0,
    )
    hashers[(alpha, beta, gamma)] = hasher.fit(X_train, y_train)

# %%
# Retrieval mAP, binarization and balance
# ---------------------------------------
# For each variant we measure, on the database:
#
# * mAP@all of the queries over the database;
# * the share of latent activations farther than 0.05 from both 0 and 1,
#   i.e. not saturated (E2 is meant to shrink it);
# * per-bit imbalance: how far the share of codes with bit ``k`` set is from
#   one half, averaged over the bits (0 for perfectly balanced bits);
# * per-code imbalance: how far the share of ones in a code is from one half,
#   averaged over the codes (E3 is meant to shrink it).
from sklearn.frozen import FrozenEstimator

from skhash.neighbors import KNeighborsRetriever

# Encode and measure every variant first, then search (a search kernel
# changes the number of OpenMP threads, which slows later torch work on a
# busy CPU).
retrievers, results = {}, {}
for key, hasher in hashers.items():
    retrievers[key] = KNeighborsRetriever(FrozenEstimator(hasher)).fit(X_db, y_db)
    _, latent = hasher.net_.forward(X_db, training=False)
    latent = latent.numpy()
    bits = hasher.transform(X_db)
    results[key] = {
        "unsaturated": np.mean(np.abs(latent - 0.5) < 0.45),
        "bit imbalance": np.mean(np.abs(bits.mean(axis=0) - 0.5)),
        "code imbalance": np.mean(np.abs(bits.mean(axis=1) - 0.5)),
    }
for key, retriever in retrievers.items():
    results[key]["mAP@all"] = retriever.score(X_query, y_query)

print("alpha,beta,gamma | mAP@all | unsaturated | bit imbalance | code imbalance")
for (alpha, beta, gamma), row in results.items():
    print(f"{f'{alpha},{beta},{gamma}':>16} | {row['mAP@all']:7.4f} | "
          f"{row['unsaturated']:11.1%} | {row['bit imbalance']:13.3f} | "
          f"{row['code imbalance']:14.3f}")

# %%
# On these small images classification alone already drives most sigmoid
# units to 0 or 1, so the binarization term has little left to do: it lowers
# the share of unsaturated activations only slightly. In our runs (seeds 0
# to 3 of ``random_state``, same split and schedule) the variants with
# ``beta=1`` had a lower mAP than those with ``beta=0`` every time, by 0.002
# to 0.04, and less balanced bits; the balance term changed little. This is
# the digits with 20 epochs from scratch, not the paper's setting (ImageNet
# features fine-tuned on larger images), so it says nothing about whether
# the paper's ablation reproduces there.
#
# Plot
# ----
labels = [f"{{{a},{b},{g}}}" for a, b, g in results]
colors = ["tab:grey", "tab:blue", "tab:green", "tab:orange"]
maps = [row["mAP@all"] for row in results.values()]

fig, axes = plt.subplots(1, 3, figsize=(12, 3.8))
bars = axes[0].bar(labels, maps, color=colors)
axes[0].bar_label(bars, fmt="%.3f")
axes[0].set_ylim(min(maps) - 0.05, 1.0)
axes[0].set_ylabel("mAP@all")
axes[0].set_title("Retrieval, 32 bits")
for ax, name, title in [
    (axes[1], "unsaturated", "Activations in (0.05, 0.95)"),
    (axes[2], "bit imbalance", "Per-bit imbalance (lower: balanced)"),
]:
    ax.bar(labels, [row[name] for row in results.values()], color=colors)
    ax.set_title(title)
for ax in axes:
    ax.set_xlabel(r"$\{\alpha, \beta, \gamma\}$")
fig.suptitle("SSDH loss ablation on the digits")
fig.tight_layout()
plt.show()
