"""The value of a run, its parts, and the bridge between two policies.

Where it sits: model records (monthly table) -> **economics** -> metrics (KPIs), results
files. Works on pandas tables only; never runs the model.

``value_usd`` (docs/value.md, "Value"): the net present value of monthly profit at
``finance.discount_rate_annual`` plus the discounted expected remaining margin of the
customers still paying at the horizon::

    value_usd = sum_m d^(m+1) x profit_m + d^H x terminal_value_usd_(H-1)

where ``d^(m+1)`` is the record's ``discount_factor`` and ``terminal_value_usd`` the value,
at the month's end, of the customers still paying (their current churn probability and
price). The sum splits exactly into the :data:`PARTS` below, so a difference in value
between two policies splits into the same parts (the ``bridge``, paired by replication in
``sim.runs.metrics.value_bridge``). Imports only the money registry (``sim.engine.ledger``): metrics imports it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.engine import ledger

# Parts of value_usd: name -> (monthly column, sign), from the money registry (sim.engine.ledger).
PARTS: dict[str, tuple[str, int]] = {m.part: (m.column, m.sign) for m in ledger.MONEY}
TERMINAL = ledger.TERMINAL.part
BRIDGE_COLUMNS = [f"pv_{name}" for name in [*PARTS, TERMINAL]]


def value_parts(monthly: pd.DataFrame) -> dict[str, float]:
    """Present value (USD) of each part of one run's value (``pv_<part>``, signed so they add up)."""
    m = monthly.sort_values("month")
    df = m["discount_factor"].to_numpy(dtype=float)
    out = {f"pv_{name}": float(sign * np.dot(df, m[col].to_numpy(dtype=float)))
           for name, (col, sign) in PARTS.items()}
    out[f"pv_{TERMINAL}"] = float(df[-1] * m["terminal_value_usd"].iloc[-1]) if len(m) else 0.0
    return out


def run_economics(monthly: pd.DataFrame) -> dict[str, float]:
    """``value_usd``, ``cac_realised_usd`` and the value parts of one run."""
    parts = value_parts(monthly)
    paid = float(monthly["acquired_paid"].sum())
    spend = float(monthly["acquisition_cost"].sum())
    return {
        "value_usd": float(sum(parts.values())),
        # realised cost per paying customer won through paid acquisition (free conversions excluded)
        "cac_realised_usd": spend / paid if paid else float("nan"),
        **parts,
    }

