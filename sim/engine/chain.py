"""The satisfaction ladder as a Markov chain: transitions, steady state, discounted value.

Where it sits: the model (``sim.engine.model``) counts the ladder moves its customers make each
month and asks this module two questions (Pfeifer & Carraway 2000, docs/sources.md#pfeifer2000):

- **Where does a customer base settle?** :func:`stationary_mix`: the mix of paying customers at
  the start of a month when each month they move by ``T``, churn at their new level and
  churners are replaced by new customers entering at ``inflow`` (full replacement, as at the
  defaults). The model starts its customers there, so a run does not drift from its start.
- **What is a customer at level l worth?** :func:`discounted_months`: the expected discounted
  number of months it still pays, ``a = (I - d T S)^-1 d 1`` with ``S = diag(1 - churn)``:
  next month it pays (discounted ``d``), moves by ``T``, churns at its new level or stays.
  With ``T = I`` (a frozen ladder) this is ``d / (1 - d (1 - churn))``, the value of earlier
  versions; with the transitions the policy actually produced it is the terminal value of
  docs/value.md, "Value".

Arrays carry a leading group axis (segment x VIP); pure numpy, no randomness.
"""

from __future__ import annotations

import numpy as np


def transition_matrix(counts: np.ndarray, prior: float = 1.0) -> np.ndarray:
    """Row-stochastic transitions from move counts ``counts[..., from, to]``, with ``prior``
    pseudo-moves to the same level (a level never left has T = I, a frozen ladder)."""
    k = counts.shape[-1]
    c = counts.astype(float) + prior * np.eye(k)
    return c / c.sum(axis=-1, keepdims=True)


def stationary_mix(T: np.ndarray, churn: np.ndarray, inflow: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Stationary level mix at the start of a month (per group): the chain
    ``M = T (diag(1 - churn) + churn inflow^T)`` (move, churn at the new level, churners replaced
    at ``inflow``) is stochastic; the mix is ``start M^n`` for n = 2^14 months, which is its
    stationary distribution when the chain has one, and where ``start`` settles when it has
    several (a ladder nobody moves on keeps its start)."""
    k = T.shape[-1]
    replace = np.eye(k)[None] * (1.0 - churn)[..., None, :] + churn[..., :, None] * inflow[..., None, :]
    M = T @ replace
    for _ in range(14):  # M^(2^14) by squaring
        M = M @ M
        M = M / M.sum(axis=-1, keepdims=True)
    pi = np.broadcast_to(start, M.shape[:-1]) [..., None, :] @ M
    pi = np.clip(pi[..., 0, :], 0.0, None)
    return pi / pi.sum(axis=-1, keepdims=True)


def discounted_months(T: np.ndarray, churn: np.ndarray, d: float, months: int | None = None) -> np.ndarray:
    """Expected discounted months still paid by a customer at each level after a month's end
    (per group): ``a = d (1 + T S a)``, S = diag(1 - churn). ``months``: only the next ``months``
    months (for comparing with a finite re-simulation); None: forever."""
    k = T.shape[-1]
    TS = T * (1.0 - churn)[..., None, :]
    if months is None:
        return np.linalg.solve(np.eye(k) - d * TS, np.full(T.shape[:-1], d)[..., None])[..., 0]
    a = np.zeros(T.shape[:-1])
    for _ in range(months):
        a = d * (1.0 + (TS @ a[..., None])[..., 0])
    return a


def slot_value(T: np.ndarray, churn: np.ndarray, inflow: np.ndarray, d: float, margin: np.ndarray,
               replace_usd: np.ndarray) -> np.ndarray:
    """Value of a customer slot kept filled, per group and level: the customer pays ``margin`` each
    month, moves by ``T``, churns at its new level and is replaced at once by a new customer (at
    ``inflow``) bought for ``replace_usd`` (like-for-like replacement, the default acquisition).
    ``W = d (margin - replace_usd (T churn)) + d T (S + churn inflow^T) W``. The difference between
    two levels is what moving a customer between them is worth to the business."""
    k = T.shape[-1]
    replace = np.eye(k)[None] * (1.0 - churn)[..., None, :] + churn[..., :, None] * inflow[..., None, :]
    rhs = d * (margin[..., None] - replace_usd[..., None] * (T @ churn[..., :, None])[..., 0])
    return np.linalg.solve(np.eye(k) - d * (T @ replace), rhs[..., None])[..., 0]
