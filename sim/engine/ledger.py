"""The money of a month, declared once: every money column, its sign in profit and its names.

Where it sits: the lowest layer that books money (the model's monthly record computes profit
from it) -> ``sim.runs.economics`` (the parts of value and the bridge), ``sim.runs.metrics``
(margins, revenue, KPIs) -> the output layers (bridge charts, tables, sentences, report, deck,
app). A new money column is one entry here; nothing else lists the columns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Money:
    """One money column of the monthly records (USD).

    ``sign``: +1 revenue, -1 cost, in profit. ``part``: its part of value (``pv_<part>`` in the
    bridge). ``label``: how a table names the column; ``part_label``: how a table names its part
    of value; ``chart_label``: how the bridge chart names it (two short lines). ``in_margin``: a
    customer's contribution margin counts it (acquisition is the price of a new customer, not a
    cost of keeping one). ``gain`` / ``loss``: how a sentence states a change of ``{d}`` dollars
    that adds or takes value."""

    column: str
    label: str
    sign: Literal[1, -1]
    part: str
    part_label: str
    chart_label: str
    gain: str
    loss: str
    in_margin: bool = True


MONEY: tuple[Money, ...] = (
    Money("subscription_revenue", "Subscription revenue", 1, "subscription_revenue", "Subscription revenue",
          "Subscription\nrevenue", "earns {d} more subscription revenue", "earns {d} less subscription revenue"),
    Money("support_revenue", "Support revenue", 1, "support_fees", "Support fees", "Support\nfees",
          "earns {d} more in support fees", "earns {d} less in support fees"),
    Money("support_cost", "Support cost", -1, "support_cost", "Support cost", "Support\ncost",
          "spends {d} less on support", "spends {d} more on support"),
    Money("acquisition_cost", "Acquisition cost", -1, "acquisition", "Acquisition", "Acquisition\ncost",
          "spends {d} less on acquisition", "spends {d} more on acquisition", in_margin=False),
    Money("vip_cost", "VIP cost", -1, "vip", "VIP programme", "VIP\ncost",
          "spends {d} less on VIP service", "spends {d} more on VIP service"),
    Money("loyalty_cost", "Loyalty cost", -1, "loyalty", "Loyalty programme", "Loyalty\ncost",
          "spends {d} less on loyalty rewards", "spends {d} more on loyalty rewards"),
)
COLUMNS = tuple(m.column for m in MONEY)

# The last part of value: the customers still paying at the horizon (not a monthly cash column).
TERMINAL = Money("terminal_value_usd", "Terminal value", 1, "terminal_value", "Terminal value",
                 "Customers still\npaying at the end", "keeps {d} more value in customers still paying at the end",
                 "keeps {d} less value in customers still paying at the end")


def profit(row: Mapping[str, float]) -> float:
    """A month's profit: revenues less costs over :data:`MONEY`."""
    return sum(m.sign * row[m.column] for m in MONEY)
