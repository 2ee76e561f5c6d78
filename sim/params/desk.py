"""The support desk: agents and staffing, the promise, handle times, patience, cost, opening hours
and the arrival profile.

Where it sits: a section of the schema (``sim.params.schema``), declared with ``sim.params.fields``.
Data only.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from sim.params.fields import _Section, acts, param  # noqa: F401


class Support(_Section):
    staffing: Literal["fixed", "erlang"] = Field(
        "erlang",
        description=(
            "fixed: support.agents in every open hour; erlang: each month, each hour of the week gets the fewest "
            "agents whose Erlang C service level on that hour's offered load (this month's tickets spread by the "
            "arrival profile, tickets held while closed spread over the first open hours, VIP touch hours) meets "
            "support.staffing_service_level. Agents are paid for rostered hours plus overtime."
        ),
        json_schema_extra={"source": "[cch-erlang-c] contact centres staff to a service level with Erlang C"},
    )
    agents: int = param(3, ge=1, le=5000, unit="agents", source="assumption: a small desk; read only under fixed staffing", doc="Agents on duty in every open hour (fixed staffing).", acts_when=acts("support.staffing", "fixed"))
    min_agents: int = param(1, ge=1, le=5000, unit="agents", source="assumption: at least one agent on duty", doc="Fewest agents in an open hour (erlang staffing).", acts_when=acts("support.staffing", "erlang"))
    max_agents: int = param(200, ge=1, le=5000, unit="agents", source="assumption: a cap far above the default load, so it rarely binds", doc="Most agents in any hour (erlang staffing); binds only when the load needs more.", acts_when=acts("support.staffing", "erlang"))
    staffing_service_level: float = param(
        0.8, gt=0, le=0.999, unit="fraction", source="[cch-erlang-c][gasp-support-metrics] the 80/20 convention: 80% answered within the target",
        doc="Erlang staffing target: share of tickets answered within support.sla_target_h (80/20-style rule).", acts_when=acts("support.staffing", "erlang"),
    )
    sla_target_h: float = param(
        4.0, gt=0, le=720, unit="h", source="[gasp-support-metrics] B2B email first-response target 4-6 h",
        doc=("First-response promise to every plan under flat and metered schemes (B2B email 4-6 h); customers expect "
             "min(promise, satisfaction.market_norm_h) and the Erlang roster staffs for that."),
    )
    handle_time_mean_h: float = param(
        0.5, ge=0.001, le=100, unit="h", source="[lorikeet-cost-per-ticket] with agent cost and ~75% utilisation it gives ~$23 per resolved ticket, inside SaaS $18-35",
        doc=("Mean agent time per ticket: 0.5 h at $35/h and ~75% utilisation gives ~$23 per resolved ticket, "
             "inside the $12-35 benchmark."),
    )
    handle_time_dist: Literal["exponential", "lognormal"] = Field(
        "exponential", description="Distribution of handle times."
    , json_schema_extra={"source": "assumption: exponential as in Erlang C, so the desk can be checked against theory"})
    handle_time_cv: float = param(
        1.0, gt=0, le=5, unit="ratio", source="assumption: 1 matches the exponential default", doc="Coefficient of variation of handle time (lognormal only).", acts_when=acts("support.handle_time_dist", "lognormal"),
    )
    patience_mean_h: float = param(
        24.0, gt=0, le=1e7, unit="h", source="[garnett2002] exponential patience (Erlang A); the 24 h mean is assumed",
        doc=("Mean time a customer waits for a first response before abandoning the ticket (exponential; on "
             "support.patience_clock)."),
    )
    agent_cost_usd_per_hour: float = param(
        35.0, ge=0, le=10_000, unit="USD/h", source="[lorikeet-cost-per-ticket] fully loaded; x handle time gives ~$23 per ticket, inside SaaS $18-35", doc="Fully loaded cost of one rostered agent-hour (and of overtime)."
    )
    # Opening hours (sim/engine/hours.py). Hour 0 of the run is Monday 00:00 in the desk's time zone.
    hours: Literal["24/7", "weekly"] = Field(
        "weekly",
        description=(
            "When the desk is open: 24/7, or weekly from support.open_hour to support.close_hour on the first "
            "support.open_days days of the week (Monday first). Tickets arriving while closed wait for opening. "
            "Assumption: B2B SaaS desks typically keep business hours in one time zone."
        ),
        json_schema_extra={"source": "assumption: B2B SaaS desks typically keep business hours in one time zone"},
    )
    open_hour: int = param(9, ge=0, le=23, unit="h (local)",
                           source="assumption: a 9-to-5 business day",
        doc="Hour the desk opens (weekly hours). Assumption: a 9-to-5 business day.", acts_when=acts("support.hours", "weekly"))
    close_hour: int = param(17, ge=1, le=24, unit="h (local)",
                            source="assumption: a 9-to-5 business day",
        doc="Hour the desk closes (weekly hours). Assumption: a 9-to-5 business day.", acts_when=acts("support.hours", "weekly"))
    open_days: int = param(5, ge=1, le=7, unit="days/week",
                           source="assumption: a Monday-to-Friday desk",
        doc="Days the desk is open, from Monday (5 = Mon-Fri). Assumption: a Monday-to-Friday desk.", acts_when=acts("support.hours", "weekly"))
    vip_line: bool = Field(
        False,
        description=(
            "A VIP line with longer hours: VIP tickets are also answered from support.vip_line_open_hour to "
            "support.vip_line_close_hour on the first support.vip_line_days days, by agents rostered for them "
            "(manual VIP care runs into time zones and 24/7 coverage)."
        ),
        json_schema_extra={"source": "[article-vip-support] manual VIP care runs into time zones and 24/7 coverage",
                           "acts_when": ["vip.enabled", [True]]},
    )
    vip_line_open_hour: int = param(7, ge=0, le=23, unit="h (local)",
                                    source="assumption: a premium line extends the business day",
        doc="Hour the VIP line opens. Assumption: a premium line extends the business day.", acts_when=acts("support.vip_line", True))
    vip_line_close_hour: int = param(22, ge=1, le=24, unit="h (local)",
                                     source="assumption: a premium line extends the business day",
        doc="Hour the VIP line closes. Assumption: a premium line extends the business day.", acts_when=acts("support.vip_line", True))
    vip_line_days: int = param(7, ge=1, le=7, unit="days/week",
                               source="assumption: a premium line covers weekends",
        doc="Days the VIP line is open, from Monday. Assumption: a premium line covers weekends.", acts_when=acts("support.vip_line", True))
    sla_clock: Literal["business", "calendar"] = Field(
        "business",
        description=(
            "The clock promises (first-response targets) and customers' expectations run on: business (only the "
            "hours the ticket's line is open count; what B2B support contracts write) or calendar (every hour "
            "counts: a promise kept at night and at weekends)."
        ),
        json_schema_extra={"source": "assumption: B2B support contracts state first-response targets in business hours; calendar stays a choice"},
    )
    patience_clock: Literal["business", "calendar"] = Field(
        "business",
        description=(
            "The clock customers' patience (support.patience_mean_h) runs on: business or calendar. Assumption: "
            "customers know the desk's hours and do not give up while it is visibly closed."
        ),
        json_schema_extra={"source": "assumption: customers know the desk's hours and do not give up while it is visibly closed"},
    )
    # Arrival profile over the hours of the week (relative rates; all 1 = flat).
    arrival_day_start_hour: int = param(
        8, ge=0, le=23, unit="h (local)",
        source="assumption: customers work office hours in the desk's time zone",
        doc="Start of customers' working day (weekday peak of ticket arrivals). Assumption: customers work office "
            "hours in the desk's time zone.")
    arrival_day_end_hour: int = param(
        18, ge=1, le=24, unit="h (local)",
        source="assumption: customers work office hours in the desk's time zone",
        doc="End of customers' working day. Assumption: customers work office hours in the desk's time zone.")
    arrival_offhours_factor: float = param(
        0.15, ge=0, le=10, unit="x working-hour rate",
        source="assumption: B2B users meet issues while they work; some work late",
        doc="Ticket arrival rate on weekdays outside the working day, relative to working hours. Assumption: B2B "
            "users meet issues while they work; some work late.")
    arrival_weekend_factor: float = param(
        0.1, ge=0, le=10, unit="x working-hour rate",
        source="assumption: B2B products see little weekend use",
        doc="Ticket arrival rate on Saturday and Sunday (every hour), relative to weekday working hours. "
            "Assumption: B2B products see little weekend use.")
    arrival_monday_factor: float = param(
        1.2, ge=0, le=10, unit="x working-hour rate",
        source="assumption: issues met over the weekend reach the desk on Monday",
        doc="Ticket arrival rate in Monday's working hours, relative to other weekdays. Assumption: issues met "
            "over the weekend reach the desk on Monday.")

    @model_validator(mode="after")
    def _check_bounds(self) -> Support:
        if self.min_agents > self.max_agents:
            raise ValueError(f"min_agents ({self.min_agents}) must not exceed max_agents ({self.max_agents})")
        for a, b in (("open_hour", "close_hour"), ("vip_line_open_hour", "vip_line_close_hour"),
                     ("arrival_day_start_hour", "arrival_day_end_hour")):
            if getattr(self, a) >= getattr(self, b):
                raise ValueError(f"{a} ({getattr(self, a)}) must be before {b} ({getattr(self, b)})")
        return self
