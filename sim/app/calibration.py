"""Calibrate a scenario from exports in the app: upload (or pick a bundled example), calibrate, back-test, open.

Where it sits: the two exports (uploads, or ``examples/calibration``) -> **calibration** (the same
:mod:`sim.calibrate` calls as ``supportsim calibrate --backtest``) -> an expander at the top of the
page, and the calibrated scenario as the app's source once opened (:func:`opened`, read by
:mod:`sim.app.sidebar`). :func:`calibrate_exports` is plain Python (no Streamlit) and is what the
tests call; uploads are written to a private temporary folder because the readers take regular
files only. User text (file names, messages quoting the files) reaches the page through
:func:`sim.app.kit.text` or as code and tables only.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from sim.app import kit
from sim.calibrate import calibrate, presets, read_customers, read_tickets
from sim.calibrate.backtest import backtest
from sim.output.calibration_plots import plot_backtest
from sim.output.plots import figure_png
from sim.params.scenario import ScenarioError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "calibration"
NATIVE = "supportsim columns"
BUNDLED: dict[str, tuple[str, str, str | None, str | None, float | None]] = {
    # label: (customers file, tickets file, customers preset, tickets preset, promise h)
    "Bundled: our own columns (24/7 desk)": ("customers.csv", "tickets.csv", None, None, None),
    "Bundled: Zendesk + Stripe (weekday desk)": ("presets/stripe_customers.csv", "presets/zendesk_tickets.csv",
                                                 "stripe", "zendesk", 8.0),
    "Bundled: Freshdesk + Chargebee": ("presets/chargebee_customers.csv", "presets/freshdesk_tickets.csv",
                                       "chargebee", "freshdesk", 8.0),
    "Bundled: Intercom + Stripe": ("presets/stripe_customers.csv", "presets/intercom_tickets.csv", "stripe",
                                   "intercom", 8.0),
    "Bundled: Help Scout + Chargebee": ("presets/chargebee_customers.csv", "presets/helpscout_tickets.csv",
                                       "chargebee", "helpscout", 8.0),
}
UPLOAD = "Upload my exports"
REPLICATIONS = 20  # back-test replications, as the CLI's default
OPENED = "calibrated_scenario"  # session key: (file name, scenario bytes) the app runs instead of the picker's


@dataclass(frozen=True)
class Outcome:
    """What the page shows of a calibration: the scenario, a summary, the back-test and its figure."""

    name: str
    text: str
    summary: list[str]
    coverage: dict[str, float]
    months: pd.DataFrame
    figure: bytes


def calibrate_exports(customers: Path, tickets: Path, *, customers_preset: str | None, tickets_preset: str | None,
                      sla_h: float | None, replications: int = REPLICATIONS, name: str = "calibrated") -> Outcome:
    """``supportsim calibrate --backtest`` on two files (CalibrationError, a ScenarioError, on bad input)."""
    c_preset = presets.get(customers_preset, "customers") if customers_preset else None
    t_preset = presets.get(tickets_preset, "tickets") if tickets_preset else None
    c, t = read_customers(customers, c_preset), read_tickets(tickets, t_preset)
    options = {"sla_h": sla_h}
    cal = calibrate(customers=c, tickets=t, name=name, **options)
    bt = backtest(c, t, replications=replications, **options)
    ax = plot_backtest(bt.monthly, bt.waits, split=bt.split)
    s = cal.support
    lines = [f"{cal.counts['customers']:,} customers and {cal.counts['tickets']:,} tickets, "
             f"{cal.window['observed_from']} to {cal.window['export_date']}; "
             f"{cal.counts['active_as_of']:,} active at the start"]
    if s is not None and s.hours is not None:
        lines.append(f"desk {s.hours.label()}, SLA clock {s.clock}, patience clock {s.patience_clock}")
    if s is not None and s.mechanics is not None:
        m = s.mechanics
        parts = []
        for p in m.estimated():
            _, lo, hi = m.interval(p)
            parts.append(f"{p} {m.estimate(p):.3g} ({lo:.3g} to {hi:.3g})")
        lines.append(f"support -> churn from {s.reduced.churned:,} cancellations: " + "; ".join(parts))
    return Outcome(name, cal.text, lines, bt.summary()["coverage"], bt.monthly, figure_png(ax.figure, dpi=100))


def _bundled(label: str) -> Outcome:
    c, t, cp, tp, sla = BUNDLED[label]
    return _cached(str(EXAMPLES / c), str(EXAMPLES / t), b"", b"", cp, tp, sla)


@st.cache_data(show_spinner=False, max_entries=8)
def _cached(customers: str, tickets: str, c_bytes: bytes, t_bytes: bytes, cp: str | None, tp: str | None,
            sla: float | None) -> Outcome:
    """One calibration per inputs (deterministic, so cached in the server's memory)."""
    if not c_bytes:  # bundled files
        return calibrate_exports(Path(customers), Path(tickets), customers_preset=cp, tickets_preset=tp, sla_h=sla)
    with tempfile.TemporaryDirectory(prefix="supportsim-calibrate-") as tmp:
        cpath, tpath = Path(tmp) / "customers.csv", Path(tmp) / "tickets.csv"
        cpath.write_bytes(c_bytes)
        tpath.write_bytes(t_bytes)
        out = calibrate_exports(cpath, tpath, customers_preset=cp, tickets_preset=tp, sla_h=sla)
    return out


def opened() -> tuple[str, bytes] | None:
    """The calibrated scenario the user opened in the app (file name, TOML bytes), or None."""
    return st.session_state.get(OPENED)


def panel() -> None:
    """The expander: choose exports, calibrate, see the scenario and its back-test, open it."""
    with st.expander("Calibrate a scenario from your exports", icon=":material/tune:",
                     expanded=st.session_state.get("calibrate_open", False)):
        st.markdown("Customers (or a billing tool's subscriptions) and support tickets (or a helpdesk's export): "
                    "`supportsim calibrate` estimates the scenario, what support does to churn with its "
                    "uncertainty, and back-tests it on the last third of the history (docs/calibration.md).")
        choice = st.radio("Exports", [*BUNDLED, UPLOAD], key="calibrate_choice", horizontal=False)
        outcome: Outcome | None = None
        if choice == UPLOAD:
            left, right = st.columns(2)
            c_file = left.file_uploader("Customers CSV", type=["csv"], key="calibrate_customers")
            c_preset = left.selectbox("Customers layout", [NATIVE, *presets.CUSTOMER_PRESETS], key="calibrate_cp")
            t_file = right.file_uploader("Tickets CSV", type=["csv"], key="calibrate_tickets")
            t_preset = right.selectbox("Tickets layout", [NATIVE, *presets.TICKET_PRESETS], key="calibrate_tp")
            sla = st.number_input("Promised first response (h)", min_value=0.1, max_value=720.0, value=4.0,
                                  step=0.5, key="calibrate_sla")
            if st.button("Calibrate", key="calibrate_go", disabled=c_file is None or t_file is None):
                outcome = _run(lambda: _cached(c_file.name, t_file.name, c_file.getvalue(), t_file.getvalue(),
                                               None if c_preset == NATIVE else c_preset,
                                               None if t_preset == NATIVE else t_preset, float(sla)))
        elif st.button("Calibrate", key="calibrate_go"):
            outcome = _run(lambda: _bundled(choice))
        if outcome is not None:
            st.session_state["calibrate_last"] = outcome
        outcome = st.session_state.get("calibrate_last")
        if outcome is not None:
            _show(outcome)


def _run(fn: Any) -> Outcome | None:
    st.session_state["calibrate_open"] = True
    try:
        with st.spinner("Calibrating and back-testing (a few seconds)…"):
            return fn()
    except ScenarioError as exc:
        st.error(kit.problem_list(exc.problems), icon=":material/error:")
        return None


def _show(outcome: Outcome) -> None:
    for line in outcome.summary:
        st.text(line)
    st.image(outcome.figure, width="stretch")
    cov = outcome.coverage
    st.caption(f"Back-test coverage (share of held-out months inside the simulated 95% band): retention "
               f"{cov['retention_pct']:.0%}, tickets {cov['tickets']:.0%}, "
               f"SLA attainment {cov['sla_met_pct']:.0%}; waits by 6-h block {cov['waits']:.0%}.")
    st.dataframe(outcome.months, hide_index=True, width="stretch")
    with st.expander("The calibrated scenario (TOML)", icon=":material/description:"):
        st.code(outcome.text, language="toml")
    left, right = st.columns(2)
    left.download_button("Download the scenario", outcome.text.encode("utf-8"), file_name="calibrated.toml",
                         mime="application/toml", key="calibrate_download")
    if right.button("Open it in the app", key="calibrate_open_it", type="primary"):
        st.session_state[OPENED] = ("calibrated.toml", outcome.text.encode("utf-8"))
        st.session_state["calibrate_open"] = False
        st.rerun()
