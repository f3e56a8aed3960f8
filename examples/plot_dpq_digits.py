"""
===========================================================
Deep product quantization (DPQ): pipeline, grid search, LUT
===========================================================

:class:`~skhash.quantization.DPQQuantizer` learns product codes end to end:
``M`` parts, each assigned to one of ``K`` learned codewords, so a code takes
``M * log2(K)`` bits. This example

* puts the quantizer in a scikit-learn ``Pipeline`` and tunes ``M`` and ``K``
  with ``GridSearchCV`` and skhash's retrieval-mAP scorer (on a validation
  split of the training data: cross-validation folds, never the queries);
* compares symmetric search (query code vs database codes, ``K x K`` tables)
  with asymmetric search (the continuous query vs database codes, per-query
  tables) through :class:`~skhash.neighbors.KNeighborsRetriever`;
* shows the compression ratio ``32 * L / (M * log2 K)`` of a float32 vector
  of ``L`` values.
"""

# SPDX-License-Identifier: BSD-3-Clause

# %%
# Data
# ----
import matplotlib.pyplot as plt
import numpy as np
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skhash.datasets import cnnh_split, load_digits
from skhash.metrics import make_retrieval_scorer
from skhash.neighbors import KNeighborsRetriever
from skhash.quantization import DPQQuantizer

X, y = load_digits(return_X_y=True)
split = cnnh_split(y, n_queries_per_class=30, n_train=None, random_state=0)
X_query, y_query = X[split.query], y[split.query]
X_db, y_db = X[split.database], y[split.database]

# %%
# A pipeline, tuned by grid search
# --------------------------------
# The digits are treated as plain 64-value vectors here (an MLP backbone);
# the grid search scores each candidate by leave-one-out retrieval mAP within
# the held-out fold.
pipe = Pipeline([("scale", StandardScaler()),
                 ("q", DPQQuantizer(M=4, K=64, max_epochs=8, embedding_dim=64,
                                    part_hidden_units=(32,), random_state=0))])
grid = GridSearchCV(pipe, {"q__M": [2, 4], "q__K": [16, 64]},
                    scoring=make_retrieval_scorer("map"), cv=2)
grid.fit(X_db, y_db)
print("best parameters:", grid.best_params_, f"(cv mAP {grid.best_score_:.3f})")
best = grid.best_estimator_
print("codes of 3 queries:\n", best.transform(X_query[:3]))
print(f"classification accuracy of the codes: {np.mean(best.predict(X_query) == y_query):.3f}")

# %%
# Symmetric vs asymmetric search
# ------------------------------
# The retriever indexes the database codes once; the fitted pipeline is
# frozen so it is not refitted.
scores = {}
for asymmetric in (False, True):
    retriever = KNeighborsRetriever(FrozenEstimator(best), asymmetric=asymmetric)
    retriever.fit(X_db, y_db)
    scores["asymmetric" if asymmetric else "symmetric"] = retriever.score(X_query, y_query)
for name, value in scores.items():
    print(f"{name:>10} search: mAP over the database = {value:.4f}")

quantizer = best[-1]
L = 64  # the digits are 64 float32 values
bits = quantizer.M * np.log2(quantizer.K)
print(f"{int(bits)} bits per image; compression ratio 32 * {L} / {int(bits)} = "
      f"{32 * L / bits:.0f}x")

fig, ax = plt.subplots(figsize=(4, 3))
ax.bar(list(scores), list(scores.values()), color=["tab:blue", "tab:orange"])
ax.set_ylim(min(scores.values()) - 0.05, 1.0)
ax.set_ylabel("mAP")
ax.set_title(f"DPQ, M={quantizer.M}, K={quantizer.K}")
fig.tight_layout()
plt.show()
