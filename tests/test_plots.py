"""Deck plots: what each figure says and draws (titles, labels with units, series, data), not pixels."""

from __future__ import annotations

import math
import re
import struct

import matplotlib
import matplotlib.pyplot
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.colors import to_hex
from matplotlib.text import Text

from sim.output import figures, study_plots, time_plots
from sim.output import plots as P
from sim.runs import metrics


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    matplotlib.pyplot.close("all")


@pytest.fixture(scope="module")
def res(smoke_results):
    return smoke_results


@pytest.fixture(scope="module")
def meta(res):
    return P.Meta.of(res)


# ---------------------------------------------------------------- synthetic experiment tables
# Shapes agreed with the experiments issue (tornado, break-even, sweep).


def tornado_table(kpi: str = "cumulative_profit") -> pd.DataFrame:
    rng = np.random.default_rng(3)
    params = [("support.agents", "Agents on duty", 2, 6), ("acquisition.cac_multiple", "CAC multiple", 6, 7),
              ("pricing.per_ticket_fee_usd", "Fee per ticket", 5, 30),
              ("churn.switching_ease", "Switching ease", 0.5, 2)]
    base = -40_000.0
    rows = []
    for path, label, lo, hi in params:
        low_mean, high_mean = base + rng.normal(0, 60_000), base + rng.normal(0, 60_000)
        rows.append({"parameter": path, "label": label, "low_value": lo, "high_value": hi, "base_mean": base,
                     "low_mean": low_mean, "low_ci_low": low_mean - 8_000, "low_ci_high": low_mean + 8_000,
                     "high_mean": high_mean, "high_ci_low": high_mean - 9_000, "high_ci_high": high_mean + 9_000,
                     "swing": abs(high_mean - low_mean)})
    t = pd.DataFrame(rows).sort_values("swing", ascending=False, ignore_index=True)
    t.attrs = {"kpi": kpi, "policy_a": "flat", "policy_b": "per_ticket"}
    return t


def breakeven_table(breakeven: float | None = 20.0) -> pd.DataFrame:
    value = np.linspace(0, 40, 9)
    mean = 50_000 - 2_500 * value if breakeven is not None else 50_000 + 100 * value
    t = pd.DataFrame({"value": value, "mean": mean, "ci_low": mean - 6_000, "ci_high": mean + 6_000})
    t.attrs = {"param": "pricing.per_ticket_fee_usd", "kpi": "cumulative_profit", "policy_a": "flat",
               "policy_b": "per_ticket", "breakeven": breakeven,
               "breakeven_ci": [17.6, 22.4] if breakeven is not None else None}
    return t


def sweep_table(params: dict[str, list[float]], policies=("flat", "per_ticket"),
                kpis=("cumulative_profit", "avg_retention_rate_pct")) -> pd.DataFrame:
    grid = pd.MultiIndex.from_product(list(params.values()), names=list(params)).to_frame(index=False)
    rows = []
    for p_i, policy in enumerate(policies):
        for kpi in kpis:
            for _, g in grid.iterrows():
                mean = float(1_000 * (p_i + 1) + sum((k + 1) * 100 * v for k, v in enumerate(g)))
                rows.append({**g.to_dict(), "policy": policy, "kpi": kpi, "mean": mean, "ci_low": mean - 50,
                             "ci_high": mean + 50, "n": 5})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- helpers


def title_of(ax) -> str:
    sup = ax.figure.get_suptitle()
    return sup or ax.get_title()


def texts(fig) -> list[Text]:
    """Texts that are drawn: visible, not empty, and not labels of ticks outside the view."""
    hidden = set()
    for a in fig.axes:
        for axis in (a.xaxis, a.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if not lo - 1e-9 * abs(hi - lo) <= tick.get_loc() <= hi + 1e-9 * abs(hi - lo):
                    hidden |= {id(tick.label1), id(tick.label2)}
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip() and id(t) not in hidden]


def assert_inside(fig, name: str = "") -> None:
    """No text runs off the slide (clipped titles, labels, legends)."""
    renderer = fig.canvas.get_renderer()
    box = fig.bbox
    for t in texts(fig):
        e = t.get_window_extent(renderer)
        assert e.x0 >= box.x0 - 1 and e.x1 <= box.x1 + 1 and e.y0 >= box.y0 - 1 and e.y1 <= box.y1 + 1, \
            (name, t.get_text())


def monthly_figures(res, meta):
    for f in figures.FIGURES:
        if not f.paired:
            yield f.name, f.draw(res)


# ---------------------------------------------------------------- every figure


def test_standard_plots_cover_the_issue():
    assert {"customers", "cumulative_profit", "retention_rate", "value_bridge", "satisfaction", "tickets",
            "wait_times", "sla_attainment"} <= set(figures.BY_NAME)


NUMBER = re.compile(r"^[−+-]?\$?[\d.,]+[kMB]?%?$")


def numeric(axis) -> bool:
    labels = [t.get_text() for t in axis.get_ticklabels() if t.get_text()]
    return bool(labels) and all(NUMBER.match(t) for t in labels)


def test_every_standard_figure_is_slide_ready(res, meta):
    for name, ax in figures.run_figures(res):
        fig = ax.figure
        assert title_of(ax), name
        w, h = fig.get_size_inches()
        assert w / h == pytest.approx(16 / 9, rel=0.01), name
        fig.canvas.draw()  # ticks exist only after a draw
        for a in fig.axes:
            for axis, label in ((a.xaxis, a.get_xlabel()), (a.yaxis, a.get_ylabel())):
                if numeric(axis) and (label or a is ax):  # shared axes of small multiples label once
                    assert re.search(r"\(.+\)", label), (name, label)  # a quantity's label names its unit
        footer = P.footer_text(fig)
        assert footer is not None, name
        for part in (res.scenario.scenario.name, f"{res.replications} replications", P.__version__):
            assert part in footer, (name, part)
        assert "sha256" not in footer and "CI" not in footer  # provenance goes to the file metadata
        small = [(t.get_text(), t.get_fontsize()) for t in texts(fig) if t.get_fontsize() < P.MIN_FONT_PT]
        assert not small, (name, small)
        assert_inside(fig, name)
        matplotlib.pyplot.close(fig)


def test_footer_is_added_once_and_only_with_meta(res, meta):
    ax = time_plots.plot_customers(res.monthly, policies=res.policies)
    assert P.footer_text(ax.figure) is None
    fig, axes = matplotlib.pyplot.subplots(1, 2, layout="constrained")
    time_plots.plot_customers(res.monthly, ax=axes[0], meta=meta)
    time_plots.plot_retention(res.monthly, ax=axes[1], meta=meta)
    assert sum(t.get_gid() == P.FOOTER_GID for t in fig.texts) == 1


def test_footer_does_not_overlap_axis_labels(res, meta):
    for name, ax in figures.run_figures(res):
        fig = ax.figure
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        footer = next(t for t in fig.texts if t.get_gid() == P.FOOTER_GID).get_window_extent(renderer)
        for a in fig.axes:
            for label in (a.xaxis.label, *a.get_xticklabels()):
                if label.get_text():
                    assert not footer.overlaps(label.get_window_extent(renderer)), (name, label.get_text())
        matplotlib.pyplot.close(fig)


def test_one_colour_per_policy_everywhere(res, meta):
    expected = {p: c.lower() for p, c in P.policy_colors(res.policies).items()}
    ax = time_plots.plot_customers(res.monthly, policies=res.policies)
    assert {ln.get_label(): to_hex(ln.get_color()) for ln in ax.get_lines()} == expected
    ax = time_plots.plot_tickets(res.monthly, policies=res.policies)
    for container in ax.containers:
        if hasattr(container, "patches") and container.get_label() in expected:
            assert to_hex(container.patches[0].get_facecolor()) == expected[container.get_label()]
    ax = P.plot_differences(res.differences(), reference=res.reference, policies=res.policies)
    drawn = {c.get_label(): to_hex(c.lines[0].get_color()) for c in ax.containers if c.get_label() in expected}
    assert drawn == {p: expected[p] for p in res.policies if p != res.reference}
    # a subset keeps the scenario's colours when the full order is passed
    colors = P.policy_colors(["a", "b", "c"])
    assert colors["c"] == P.PALETTE[2] and len(set(P.PALETTE)) == len(P.PALETTE)


# ---------------------------------------------------------------- data drawn equals the tables


@pytest.mark.parametrize("fn, column, cumulative, scale", [
    (time_plots.plot_customers, "customers_end", False, 1.0),
    (time_plots.plot_cumulative_profit, "profit", True, 1.0),
    (time_plots.plot_retention, "retention_rate_pct", False, 1.0),
    (time_plots.plot_sla, "sla_met_share", False, 100.0),
])
def test_band_plots_draw_the_mean_per_month(res, fn, column, cumulative, scale):
    ax = fn(res.monthly, policies=res.policies)
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    assert list(lines) == res.policies
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == len(res.policies)
    b = metrics.band(res.monthly, column, cumulative=cumulative)
    for p in res.policies:
        g = b[b["policy"] == p]
        np.testing.assert_allclose(lines[p].get_xdata(), g["month"])
        np.testing.assert_allclose(lines[p].get_ydata(), g["mean"] * scale)
    assert ax.get_xlabel().startswith("Month")


def test_retention_rate_is_c_minus_b_over_a(res):
    m = res.monthly
    expected = (m["customers_end"] - m["acquired"]) / m["customers_start"] * 100
    np.testing.assert_allclose(m["retention_rate_pct"], expected)
    ax = time_plots.plot_retention(m, policies=res.policies)
    assert ax.get_ylabel() == "Monthly retention rate (%)"


def test_sla_bands_stay_within_0_and_100(res):
    ax = time_plots.plot_sla(res.monthly, policies=res.policies, target_pct=80)
    for band in [c for c in ax.collections if isinstance(c, PolyCollection)]:
        ys = np.concatenate([p.vertices[:, 1] for p in band.get_paths()])
        assert ys.max() <= 100 + 1e-9 and ys.min() >= 0
    assert any(line.get_label() == "target 80%" for line in ax.get_lines())


def test_bridge_bars_add_up_to_the_paired_difference_in_value(res, meta):
    other = next(p for p in res.policies if p != res.reference)
    bridge = res.bridge()[other]
    ax = P.plot_bridge(bridge, policy=other, reference=res.reference, meta=meta)
    bars = {r.get_gid(): r for r in ax.patches if (r.get_gid() or "").startswith("bridge:")}
    steps = P.bridge_steps(bridge)
    assert [g for g in bars if g != "bridge:total"] == [f"bridge:{c}" for c, _ in steps]
    running = 0.0
    for col, amount in steps:  # each part floats from where the previous one ended
        r = bars[f"bridge:{col}"]
        assert r.get_y() == pytest.approx(running) and r.get_height() == pytest.approx(amount)
        running += amount
    total = bars["bridge:total"]
    assert total.get_y() == 0 and total.get_height() == pytest.approx(bridge["value_usd"]["mean"])
    assert running == pytest.approx(bridge["value_usd"]["mean"], rel=1e-9, abs=1e-3)  # the parts add up
    texts = [t.get_text() for t in ax.texts]
    assert any("95% CI" in t for t in texts) == math.isfinite(bridge["value_usd"]["ci_low"])
    assert len([t for t in texts if t.startswith(("+$", "-$"))]) == len(steps) + 1  # every bar labelled
    assert meta.label(other) in ax.get_title() and "(USD)" in ax.get_ylabel()


def test_bridge_title_states_the_finding_with_its_interval(res):
    other = next(p for p in res.policies if p != res.reference)
    ax = figures.draw_bridge(res, other)
    title = ax.figure.get_suptitle().replace("\n", " ")
    d = res.bridge()[other]["value_usd"]
    clear = d["ci_low"] > 0 or d["ci_high"] < 0
    assert title.startswith("No clear difference") != clear
    assert "95% CI" in title and "months" in title


def test_display_labels_replace_policy_names(res, meta):
    ax = figures.draw("cumulative_profit", res)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == [meta.label(p) for p in res.policies]
    assert any(meta.label(p) != p for p in res.policies)  # the smoke scenario has labels


def test_satisfaction_one_stacked_panel_per_policy(res, meta):
    ax = time_plots.plot_satisfaction(res.monthly, policies=res.policies, meta=meta)
    fig = ax.figure
    assert len(fig.axes) == len(res.policies)
    assert "Satisfaction" in fig.get_suptitle()
    means = res.monthly.groupby(["policy", "month"])[[f"share_{lv}" for lv in P.LEVELS]].mean()
    for a, p in zip(fig.axes, res.policies):
        assert a.get_title() == meta.label(p)
        layers = [c for c in a.collections if isinstance(c, PolyCollection)]
        assert len(layers) == len(P.LEVELS)
        top = layers[-1].get_paths()[0].vertices[:, 1]
        np.testing.assert_allclose(top.max(), 100, atol=1e-6)
        below = layers[0].get_paths()[0].vertices[:, 1]
        expected = means.loc[p, "share_below"].to_numpy() * 100
        assert np.all(np.isclose(expected[:, None], below[None, :]).any(axis=1))
    one = time_plots.plot_satisfaction(res.monthly, ax=matplotlib.pyplot.subplots()[1], policies=["flat_vip"])
    assert "flat_vip" in one.get_title()


def test_tickets_bars_are_monthly_means_with_cis(res):
    ax = time_plots.plot_tickets(res.monthly, policies=res.policies)
    cols = ["tickets_raised", "tickets_suppressed", "tickets_abandoned"]
    per_rep = res.monthly.groupby(["policy", "replication"])[cols].mean().groupby("policy").mean()
    bars = {c.get_label(): c for c in ax.containers if hasattr(c, "patches") and c.get_label() in res.policies}
    assert len(bars) == len(res.policies)
    for p, c in bars.items():
        assert len(c.patches) == 3
        np.testing.assert_allclose([r.get_height() for r in c.patches], per_rep.loc[p, cols])
    assert "(tickets/month)" in ax.get_ylabel()


def test_wait_time_boxes_show_monthly_mean_and_p90(res):
    ax = time_plots.plot_wait_times(res.monthly, policies=res.policies)
    boxes = {p.get_gid(): p for p in ax.patches if p.get_gid()}
    assert len(boxes) == 2 * len(res.policies)
    medians = [ln for ln in ax.get_lines() if to_hex(ln.get_color()) == P.NEUTRAL.lower()]
    drawn = sorted(float(np.mean(ln.get_ydata())) for ln in medians)
    expected = sorted(float(res.monthly.loc[res.monthly["policy"] == p, c].dropna().median())
                      for p in res.policies for c in ("wait_mean_h", "wait_p90_h"))
    np.testing.assert_allclose(drawn, expected)
    assert "(h)" in ax.get_ylabel()


def test_paired_differences_forest(res):
    diffs = res.differences()
    for source in (diffs, P.differences_table(diffs)):
        ax = P.plot_differences(source, reference=res.reference, kpi="cumulative_profit", policies=res.policies)
        others = [p for p in res.policies if p != res.reference]
        assert [t.get_text() for t in ax.get_yticklabels()] == others[::-1]
        points = {c.get_label(): c.lines[0] for c in ax.containers if c.get_label() in others}
        for p in others:
            np.testing.assert_allclose(np.asarray(points[p].get_xdata(), float), [diffs[p]["cumulative_profit"]["mean"]])
        assert res.reference in ax.get_title() and "(USD)" in ax.get_xlabel()
    ax = P.plot_differences(diffs, reference=res.reference, kpi="avg_retention_rate_pct", policies=res.policies)
    assert "(percentage points)" in ax.get_xlabel()


# ---------------------------------------------------------------- experiment tables


def test_tornado_widest_swing_on_top_and_bars_from_base():
    t = tornado_table()
    ax = study_plots.plot_tornado(t)
    assert [x.get_text() for x in ax.get_yticklabels()] == list(t["label"])[::-1]
    bars = [r for r in ax.patches if r.get_width() != 0 or r.get_height() != 0]
    assert len(bars) == 2 * len(t)
    base = t["base_mean"].iloc[0]
    lefts = sorted(r.get_x() + r.get_width() for r in bars)
    np.testing.assert_allclose(lefts, sorted([*t["low_mean"], *t["high_mean"]]))
    assert all(r.get_x() == pytest.approx(base) for r in bars)
    assert "per_ticket" in ax.get_title() and "flat" in ax.get_title()
    assert "(USD)" in ax.get_xlabel() and "per_ticket − flat" in ax.get_xlabel()
    # shuffled input is drawn in swing order all the same; max_params keeps the widest
    ax = study_plots.plot_tornado(t.sample(frac=1, random_state=1).assign(), max_params=2)
    assert [x.get_text() for x in ax.get_yticklabels()] == list(t["label"][:2])[::-1]


def test_breakeven_curve_and_marker():
    t = breakeven_table()
    ax = study_plots.plot_breakeven(t, policies=["flat", "per_ticket"])
    line = ax.get_lines()[0]
    np.testing.assert_allclose(line.get_xdata(), t["value"])
    np.testing.assert_allclose(line.get_ydata(), t["mean"])
    assert to_hex(line.get_color()) == P.policy_colors(["flat", "per_ticket"])["per_ticket"].lower()
    verticals = [ln for ln in ax.get_lines() if len(set(ln.get_xdata())) == 1 and ln.get_xdata()[0] == 20.0]
    assert verticals, "break-even marker missing"
    assert "breaks even at pricing.per_ticket_fee_usd = 20" in ax.get_title()
    assert ax.get_xlabel() == "Per ticket fee (USD/ticket)"
    assert "(USD)" in ax.get_ylabel()
    ax = study_plots.plot_breakeven(breakeven_table(None))
    assert "no break-even" in ax.get_title()
    t = breakeven_table(None)
    t.attrs["sign"] = "policy_a ahead everywhere"
    title = study_plots.plot_breakeven(t).get_title().replace("\n", " ")
    assert title == "per_ticket vs flat: flat ahead across the pricing.per_ticket_fee_usd range tried"


def test_long_parameter_paths_do_not_run_off_the_slide():
    path = "customers.segments.*.fee_sensitivity_per_usd"
    for ax in (study_plots.plot_sweep(sweep_table({path: [0.01, 0.05]}), policies=["flat", "per_ticket", "flat_vip"]),
               study_plots.plot_breakeven(breakeven_table().rename_axis(None).pipe(_with_param, path)),
               study_plots.plot_tornado(tornado_table())):
        ax.figure.canvas.draw()
        assert_inside(ax.figure, ax.get_title())
    assert ax.get_xlabel()


def _with_param(t, path):
    t.attrs["param"] = path
    return t


def test_sweep_one_parameter_is_a_line_per_policy():
    t = sweep_table({"support.agents": [2, 4, 6, 8]})
    ax = study_plots.plot_sweep(t, kpi="avg_retention_rate_pct", policies=["flat", "per_ticket"])
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    assert list(lines) == ["flat", "per_ticket"]
    g = t[(t["policy"] == "per_ticket") & (t["kpi"] == "avg_retention_rate_pct")]
    np.testing.assert_allclose(lines["per_ticket"].get_ydata(), g["mean"])
    assert ax.get_xlabel() == "Agents (agents)" and "(%)" in ax.get_ylabel()


def test_sweep_two_parameters_is_a_heatmap_of_means():
    t = sweep_table({"pricing.per_ticket_fee_usd": [0, 10, 20], "support.agents": [2, 4]})
    ax = study_plots.plot_sweep(t, policy="per_ticket")
    mesh = next(c for c in ax.collections if c.get_gid() == "sweep-heatmap")
    g = t[(t["policy"] == "per_ticket") & (t["kpi"] == "cumulative_profit")]
    expected = g.pivot_table(index="support.agents", columns="pricing.per_ticket_fee_usd", values="mean")
    np.testing.assert_allclose(np.asarray(mesh.get_array()).reshape(expected.shape), expected.to_numpy())
    assert len([t for t in ax.texts if t.get_text()]) == expected.size
    assert ax.get_xlabel() == "Per ticket fee (USD/ticket)"
    assert ax.get_ylabel() == "Agents (agents)"
    assert "per_ticket" in ax.get_title()
    with pytest.raises(ValueError, match="one or two parameter"):
        study_plots.plot_sweep(sweep_table({"a": [1], "b": [1], "c": [1]}))


# ---------------------------------------------------------------- files


def _png_size(path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def test_save_figure_png_svg_pdf_at_slide_resolution(res, meta, tmp_path):
    ax = time_plots.plot_customers(res.monthly, meta=meta, policies=res.policies)
    assert [p.suffix for p in P.save_figure(ax.figure, tmp_path / "v")] == [".png", ".svg"]  # PDF on request
    ax = time_plots.plot_customers(res.monthly, meta=meta, policies=res.policies)
    paths = P.save_figure(ax.figure, tmp_path / "w", formats=P.WITH_PDF)
    assert [p.suffix for p in paths] == [".png", ".svg", ".pdf"]
    w, h = _png_size(paths[0])
    assert w >= P.SLIDE_SIZE_IN[0] * 200 - 1 and h >= P.SLIDE_SIZE_IN[1] * 200 - 1
    assert paths[2].read_bytes()[:5] == b"%PDF-"
    svg = paths[1].read_text()
    assert "Paying customers over time" in svg and res.scenario_sha256 in svg  # text stays text; provenance
    assert f"seed={res.seed}" in svg and res.scenario_sha256.encode() in paths[2].read_bytes()
    png = paths[0].read_bytes()
    assert b"supportsim:scenario_sha256" in png and res.scenario_sha256.encode() in png  # PNG text chunks
    # the same figure gives the same SVG and PDF bytes (no dates embedded)
    again = P.save_figure(time_plots.plot_customers(res.monthly, meta=meta, policies=res.policies).figure, tmp_path / "w2",
                          formats=P.WITH_PDF)
    assert again[1].read_bytes() == paths[1].read_bytes()
    assert again[2].read_bytes() == paths[2].read_bytes()


def test_style_is_applied_without_the_context_manager_and_then_restored(res):
    before = dict(matplotlib.rcParams)
    ax = time_plots.plot_customers(res.monthly, policies=res.policies)
    assert ax.title.get_fontsize() >= 18
    assert tuple(ax.figure.get_size_inches()) == pytest.approx(P.SLIDE_SIZE_IN)
    assert dict(matplotlib.rcParams) == before


def test_dollar_ticks_read_apart():
    """Ticks $0.25M apart must not round to the same or a misleading label ($14.75M, not $14.8M)."""
    ticks = P.UsdTicks()
    locs = [14.5e6, 14.75e6, 15e6, 15.25e6]
    labels = ticks.format_ticks(locs)
    assert labels == ["$14.50M", "$14.75M", "$15.00M", "$15.25M"]
    assert P.UsdTicks().format_ticks([0, 1e6, 2e6]) == ["$0", "$1.0M", "$2.0M"]
