"""What an estimate is: a value with its standard error, rows and method; the schema's bounds.

Where it sits: the base of the estimating modules (``deskfit``, ``retention``, ``hazard``,
``estimate``) and of ``write``. Time: hours internally, months of 730 h
(``schema.HOURS_PER_MONTH``) like the model. No data are read here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.params.schema import HOURS_PER_MONTH

MONTH_H = HOURS_PER_MONTH
# A cancellation dated up to 0.1 month (~3 days) past a renewal still counts as before it:
# exports often carry dates only, and customers cancel just before they are billed again.
PERIOD_SLACK = 0.1
Z95 = 1.959963984540054


def schema_bound(model: Any, name: str, attr: str) -> float:
    """A bound (``le``, ``ge``, ``gt`` or ``max_length``) of a schema field: clamps follow the schema, not copies."""
    for m in model.model_fields[name].metadata:
        if getattr(m, attr, None) is not None:
            return getattr(m, attr)
    raise KeyError(f"{model.__name__}.{name} has no {attr}")


def clamp_to_schema(value: float, model: Any, name: str, notes: list[str], label: str) -> float:
    """Clamp an estimate into the schema's range for ``model.name``, noting it when it had to move."""
    hi = schema_bound(model, name, "le")
    lo = next((getattr(m, a) for m in model.model_fields[name].metadata for a in ("ge", "gt")
               if getattr(m, a, None) is not None), -math.inf)
    out = min(max(value, lo if lo > -math.inf else value), hi)
    if out == lo and any(getattr(m, "gt", None) is not None for m in model.model_fields[name].metadata):
        out = lo + 1e-6 * max(1.0, abs(lo))
    if out != value:
        notes.append(f"{label}: estimate {value:.6g} is outside the schema range; {out:.6g} written")
    return out



# ----------------------------------------------------------------------------- estimates


@dataclass(frozen=True)
class Estimate:
    """One estimated parameter: value, standard error (None if not applicable) and where it came from."""

    value: float
    se: float | None
    rows: int
    how: str

    def ci95(self) -> tuple[float, float] | None:
        if self.se is None or not math.isfinite(self.se):
            return None
        return self.value - Z95 * self.se, self.value + Z95 * self.se

    def comment(self) -> str:
        unc = ""
        if self.se is not None:
            ci = self.ci95()
            unc = f" (SE {self.se:.3g}" + (f", 95% CI {ci[0]:.4g} to {ci[1]:.4g})" if ci else ")")
        return f"estimate {self.value:.5g}{unc} from {self.rows:,} rows: {self.how}"



def mean_se(x: np.ndarray) -> float:
    return float(np.std(x, ddof=1) / np.sqrt(len(x))) if len(x) > 1 else float("nan")
