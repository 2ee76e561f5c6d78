"""The pilot month: the experiences that set where a policy's ladder settles.

Where it sits: the model's start (``sim.engine.model``, ``satisfaction.initial_mix =
"steady_state"``) -> **pilot** -> the ladder's transitions in expectation
(``customers.expected_moves``) -> the steady state (``sim.engine.chain``). One month of a desk
of its own, with the initial customers and its own random streams (``rng.PILOT_MONTH``), gives
each group's share of tickets answered in time, late past tolerance or abandoned, and its touches
and fees; issues left unresolved are taken in expectation. Nothing of the pilot reaches the
run's records.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import simpy

from sim.engine import customers as cu
from sim.engine import hours, staffing, work
from sim.engine.desk import Desk
from sim.engine.rng import PILOT_MONTH
from sim.params.schema import HOURS_PER_MONTH

# The pilot runs two weeks of a month's work, from a Friday morning: the weekend's backlog reaches
# the first Monday as it does every week (a month from an empty Monday would miss one), and the
# desk, most of a run's time, works 46% of a month for it.
START_H = 4 * 24 + 8.0  # Friday 08:00 of the first week
PILOT_H = 2 * 168.0
SCALE = HOURS_PER_MONTH / PILOT_H  # two weeks' served touches and fees, as a month's


def transitions(run: Any, who: np.ndarray) -> np.ndarray:
    """Ladder transitions per group (group, from, to) expected in a month: a pilot of a desk of
    its own (its own random streams) with ``who`` gives the share of tickets answered in time,
    late past tolerance or abandoned per group, the touches and the fees; issues left unresolved
    are taken in expectation (``customers.expected_help``)."""
    params, pop, sup = run.params, run.pop, run.params.support
    pilot = run.streams.at(PILOT_MONTH)
    hd = cu.help_decisions(pop, who, params, pilot["issues"], pilot["help"])
    batch = work.tickets(pop, who, hd, params, START_H, pilot["tickets"])
    touch_c, touch_d = np.zeros(0, np.int64), np.zeros(0)
    if params.vip.enabled:
        # outreach on last month's alerts: each VIP flagged as often as a month's alerts flag
        v, vips = params.vip, who[pop.vip[who]]
        p_churn = cu.churn_probability(pop, vips, params)
        flagged = pilot["churn"].random(len(vips)) < (p_churn * v.alert_detection_prob
                                                      + (1.0 - p_churn) * v.alert_false_positive_rate)
        touch_c, touch_d = work.vip_touches(pop, params, 0, np.zeros(0, np.int64), vips[flagged],
                                        work.manual_vips(pop, params))
    env = simpy.Environment(initial_time=START_H)
    desk = Desk(env, sup.agents if sup.staffing == "fixed" else sup.min_agents, pop, hours=hours.desk_hours(sup))
    roster = staffing.month_roster(params, batch.priority, float(touch_d.sum()), START_H)
    desk.set_roster(START_H, roster.agents, roster.load)
    desk.begin_period(START_H + PILOT_H)
    desk.submit(batch)  # entries are scheduled one at a time: tickets after the pilot cost nothing
    desk.submit_touches(hours.open_times(sup, START_H, pilot["vip"].random(len(touch_c))), touch_d, touch_c)
    env.run(until=START_H + PILOT_H)
    desk.new_period()
    G, group = run.n_groups, run.group(who)

    def total(x: np.ndarray) -> np.ndarray:
        return np.bincount(group, weights=x, minlength=G)

    n = np.maximum(total(np.ones(len(who))), 1.0)
    outcome = np.stack([total(pop.on_time[who]), total(pop.late_down[who]), total(pop.abandoned[who])])
    answered = outcome.sum(axis=0) + total(pop.late[who] - pop.late_down[who])
    # a group's shares shrink towards the desk's (20 tickets' weight): small groups stay sane
    pooled = outcome.sum(axis=1) / max(answered.sum(), 1.0) if answered.sum() else np.array([1.0, 0.0, 0.0])
    share = (outcome + 20.0 * pooled[:, None]) / (answered + 20.0)
    raised, unresolved = cu.expected_help(params)
    seg = np.arange(G) // 2
    resent = total(-np.expm1(-params.satisfaction.resentment_per_usd * SCALE * pop.fees_usd[who])) / n
    # manual touches count when served (two weeks of them); automated messages when listed (a month's)
    touches, auto = SCALE * total(pop.touches[who]) / n, total(pop.auto_touches[who]) / n
    pop.reset_counters()
    return np.stack([cu.expected_moves(params, cu.MonthRates(
        unresolved=unresolved[seg[g]], on_time=raised[seg[g]] * share[0, g], late_down=raised[seg[g]] * share[1, g],
        abandoned=raised[seg[g]] * share[2, g], touches=touches[g], auto_touches=auto[g], resent=resent[g],
        vip=bool(g % 2))) for g in range(G)])
