"""supportsim in the browser: a minimal page on the default scenario (built out in issue 5)."""

from __future__ import annotations

import streamlit as st

from sim.experiment import run_scenario
from sim.metrics import KPIS
from sim.plots import Meta, deck_style, plot_cumulative_profit, plot_customers
from sim.scenario import DEFAULT_SCENARIO, load

st.set_page_config(page_title="supportsim", layout="wide")
st.title("supportsim: how should support be priced?")

scenario = load(DEFAULT_SCENARIO, ["run.replications=3"])
res = run_scenario(scenario, workers=1)
summary = res.summary()
cols = st.columns(len(res.policies))
for col, p in zip(cols, res.policies):
    col.metric(f"{p}: {KPIS['cumulative_profit']}", f"${summary[p]['cumulative_profit']['mean']:,.0f}")
with deck_style():
    st.pyplot(plot_customers(res.monthly, meta=Meta.of(res), policies=res.policies).figure)
    st.pyplot(plot_cumulative_profit(res.monthly, meta=Meta.of(res), policies=res.policies).figure)
