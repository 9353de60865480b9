"""The linear head (head.Fit) against scikit-learn's LogisticRegression on the same features and C.

Random, non-separable features for two and four classes, each normalisation of the head (none,
L2 per row as sklearn.preprocessing.normalize, standardised as StandardScaler), a few values of
C and per-row weights: coefficients agree within 1e-3 relative to the largest coefficient,
probabilities within 1e-4.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler, normalize

COEF_RTOL = 1e-3
PROB_ATOL = 1e-4


def make_data(seed: int, n: int, d: int, classes: int):
    """Gaussian features with labels drawn from a noisy linear model, so no class separates."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, d))
    x = z + rng.normal(size=d)  # an offset for the intercepts to absorb
    w = rng.normal(size=(d, classes)) * 0.4
    logits = z @ w
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    y = np.array([rng.choice(classes, p=row) for row in p])
    return x.astype(np.float32), y


def sklearn_fit(x, y, c, norm, weights):
    x = x.astype(np.float64)
    if norm == "l2":
        x = normalize(x)
    elif norm == "standardize":
        x = StandardScaler().fit(x, sample_weight=weights).transform(x)
    model = LogisticRegression(C=c, tol=1e-12, max_iter=100_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x, y, sample_weight=weights)
    return model, model.predict_proba(x)


@pytest.mark.parametrize("classes", [2, 4])
@pytest.mark.parametrize("norm", ["none", "l2", "standardize"])
@pytest.mark.parametrize("c", [0.05, 1.0, 20.0])
@pytest.mark.parametrize("weighted", [False, True])
def test_linear_head_matches_sklearn(go_run, classes, norm, c, weighted):
    x, y = make_data(7 * classes + int(c * 10), 240, 24, classes)
    weights = None
    if weighted:
        weights = np.random.default_rng(3).uniform(0.2, 2.0, size=len(y))
    payload = {"x": x.tolist(), "labels": y.tolist(), "classes": classes, "c": c, "normalization": norm}
    if weights is not None:
        payload["weights"] = weights.tolist()
    got = go_run("internal/pycheck/logreg", payload)
    assert got["converged"], got["iterations"]

    ref, ref_prob = sklearn_fit(x, y, c, norm, weights)
    coef = np.asarray(got["w"]).T  # sklearn's layout: outputs x features
    intercept = np.asarray(got["b"])
    assert coef.shape == ref.coef_.shape
    scale = np.abs(ref.coef_).max()
    coef_err = np.abs(coef - ref.coef_).max() / scale
    intercept_err = np.abs(intercept - ref.intercept_).max() / max(scale, np.abs(ref.intercept_).max())
    prob_err = np.abs(np.asarray(got["probabilities"]) - ref_prob).max()
    print(f"classes={classes} norm={norm} C={c} weighted={weighted}: coef rel {coef_err:.2e}, "
          f"intercept rel {intercept_err:.2e}, prob {prob_err:.2e}")
    assert coef_err <= COEF_RTOL
    assert intercept_err <= COEF_RTOL
    assert prob_err <= PROB_ATOL
    if norm == "standardize":
        scaler = StandardScaler().fit(x.astype(np.float64), sample_weight=weights)
        np.testing.assert_allclose(got["mean"], scaler.mean_, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(got["scale"], scaler.scale_, rtol=1e-9)
