"""Calibration from a company's own exports: sBG against the published example, the
estimators against known truths, a model round trip, and clear errors for bad files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim import calibrate as cal
from sim.calibrate import estimate
from sim.calibrate import fits as sbg
from sim.cli import main
from sim.engine import customers as cu
from sim.engine import model
from sim.params.scenario import ScenarioError, load
from sim.params.schema import LADDER, Churn, Params
from tests.conftest import ROOT

# module-scoped fixtures: on one worker, run once (xdist would otherwise rebuild them each time
# it interleaves this module with others)
pytestmark = pytest.mark.xdist_group("calibrate")

EXAMPLE = ROOT / "examples" / "calibration"

# Fader & Hardie (2007), "How to project customer retention", J. Interactive Marketing 21(1):
# survivors of 1000 customers over years 0-7 and the published MLEs (also the test values of
# the independent Python port jdmaturen/shifted_beta_geometric_py for "high end").
HIGH_END = [1000, 869, 743, 653, 593, 551, 517, 491]
REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241]
PUBLISHED = {"high end": (HIGH_END, 0.668, 3.806), "regular": (REGULAR, 0.704, 1.182)}


# ----------------------------------------------------------------------------- sBG


@pytest.mark.parametrize("label", sorted(PUBLISHED))
def test_sbg_matches_published_example(label):
    survivors, alpha, beta = PUBLISHED[label]
    f = sbg.fit(sbg.counts_from_survivors(survivors))
    assert f.alpha == pytest.approx(alpha, abs=0.0006) and f.beta == pytest.approx(beta, abs=0.0006)
    assert not f.at_bound and 0 < f.alpha_se < f.alpha and 0 < f.beta_se < f.beta
    # survival and retention agree: r(t) = S(t) / S(t - 1)
    t = np.arange(1, 13)
    assert np.allclose(f.retention(t), f.survival(t) / f.survival(t - 1))


def test_cohort_command_prints_fit_and_projection(capsys):
    assert main(["calibrate", "--cohort", ",".join(map(str, REGULAR)), "--horizon", "10"]) == 0
    out = capsys.readouterr().out
    assert "alpha = 0.7041" in out and "beta  = 1.1820" in out
    assert out.count("projected") == 10 - (len(REGULAR) - 1)


def test_sbg_recovers_simulated_heterogeneity_with_left_truncation():
    rng = np.random.default_rng(3)
    alpha, beta, n = 0.9, 6.0, 40_000
    theta = rng.beta(alpha, beta, n)
    life = rng.geometric(theta)  # period of churn, >= 1
    horizon = rng.integers(1, 13, n)  # tenure when the data end
    # half the customers are first seen after some renewals (signed up before the window)
    entry = np.where(rng.random(n) < 0.5, rng.integers(0, 6, n), 0)
    seen = life > entry  # those who left before the window never appear
    horizon = np.maximum(horizon, entry)
    churned = seen & (life <= horizon)
    censored = seen & ~churned
    f = sbg.fit(sbg.counts_from_customers(churn_period=life[churned], censored_tenure=horizon[censored],
                                          entry_tenure=entry[seen]))
    assert abs(f.alpha - alpha) < 4 * f.alpha_se and abs(f.beta - beta) < 4 * f.beta_se
    assert f.alpha_se < 0.25 * alpha


def test_survivor_counts_are_checked(capsys):
    for bad in ("1000", "1000,1100", "0,0", "1000,x"):
        assert main(["calibrate", "--cohort", bad]) == 2
    err = capsys.readouterr().err
    assert "must not increase" in err and "expected a number, got 'x'" in err and "Traceback" not in err


# ----------------------------------------------------------------------------- estimators


def test_ladder_mapping_inverts_the_models_churn_hazard():
    """base_churn from an observed monthly churn, through the model's own churn_probability."""
    params = Params()
    shares = [0.1, 0.4, 0.3, 0.15, 0.05]
    n = 100_000
    pop = cu.Population.empty(n)
    pop.add(n, params, np.random.default_rng(0), month=0, paying=True,
            level=np.repeat(np.arange(len(LADDER)), np.round(np.array(shares) * n).astype(int)).astype(np.int8))
    seg0 = np.flatnonzero(pop.segment[:n] == 0)
    observed = float(cu.churn_probability(pop, seg0, params).mean())
    realised = np.bincount(pop.level[seg0], minlength=len(LADDER)) / len(seg0)
    base, _ = cal.ladder_base_churn(observed, shares=realised.tolist(),
                                    multipliers=cu.relieved(Churn().level_hazard_multiplier,
                                                            params.satisfaction.relief_above_meet).tolist())
    assert base == pytest.approx(params.customers.segments[0].base_churn_per_month, rel=1e-9)


def test_renewal_periods_from_dates():
    """Monthly contracts: leaving 1.5 periods in means 2 periods paid; a few days past a renewal still counts
    as before it (cancelled just before billing, recorded late); the window start sets the entry tenure."""
    day = 24.0
    signup = np.zeros(5)
    cancel = np.array([1.5, 3.0, 3.0 + 2 * day / cal.MONTH_H, 0.2, np.nan]) * cal.MONTH_H
    entry, churn_t, tenure = cal.renewal_periods(signup_h=signup, cancel_h=cancel, window_start_h=-1.0,
                                                 export_h=6.95 * cal.MONTH_H)
    assert churn_t[:4].tolist() == [2, 3, 3, 1] and entry.tolist() == [0] * 5 and tenure[4] == 7
    entry, churn_t, _ = cal.renewal_periods(signup_h=signup, cancel_h=cancel, window_start_h=2.05 * cal.MONTH_H,
                                            export_h=6.95 * cal.MONTH_H)
    assert entry.tolist() == [2] * 5 and churn_t[1] == 3


@pytest.mark.parametrize("dist", ["exponential", "lognormal"])
def test_handle_time_fit_picks_the_generating_distribution(dist):
    rng = np.random.default_rng(5)
    mean, cv = 0.6, 1.6
    if dist == "exponential":
        x = rng.exponential(mean, 5000)
    else:
        s2 = np.log1p(cv**2)
        x = rng.lognormal(np.log(mean) - s2 / 2, np.sqrt(s2), 5000)
    h = cal.fit_handle_times(x)
    assert h.chosen == dist
    right, wrong = (h.exp_ks, h.lognormal_ks) if dist == "exponential" else (h.lognormal_ks, h.exp_ks)
    assert right < 0.03 < wrong
    assert abs(h.mean_h - mean) < 4 * h.mean_se
    if dist == "lognormal":
        assert abs(h.cv - cv) < 4 * h.cv_se


def test_patience_from_answered_waits_and_abandonment():
    rng = np.random.default_rng(9)
    n, patience = 50_000, 2.5
    virtual = rng.exponential(1.0, n) * rng.random(n)  # any wait distribution independent of patience
    gives_up = rng.exponential(patience, n) < virtual
    est = cal.patience_from_waits(virtual[~gives_up], abandoned=int(gives_up.sum()))
    assert est is not None and abs(est.value - patience) < 4 * est.se and est.se < 0.1 * patience
    assert cal.patience_from_waits(virtual, abandoned=0) is None


# ----------------------------------------------------------------------------- model round trip

TRUTH = {
    "customers": {"initial": 3000, "segments": [
        {"name": "basic", "share": 0.5, "plan_price_usd_per_month": 30, "issue_rate_per_month": 0.6,
         "base_churn_per_month": 0.05},
        {"name": "pro", "share": 0.3, "plan_price_usd_per_month": 120, "issue_rate_per_month": 1.0,
         "base_churn_per_month": 0.03},
        {"name": "enterprise", "share": 0.2, "plan_price_usd_per_month": 600, "issue_rate_per_month": 1.6,
         "base_churn_per_month": 0.02},
    ]},
    # the ladder does not modulate churn here, so the observed monthly churn is the base churn
    "churn": {"level_hazard_multiplier": [1.0, 1.0, 1.0, 1.0, 1.0]},
    "support": {"staffing": "fixed", "agents": 4, "handle_time_dist": "lognormal", "handle_time_mean_h": 0.5,
                "handle_time_cv": 1.2, "patience_mean_h": 3.0,
                # calibration reads a 24/7 desk with arrivals uniform in time (opening hours are not estimated)
                "hours": "24/7", "arrival_offhours_factor": 1.0, "arrival_weekend_factor": 1.0,
                "arrival_monday_factor": 1.0},
}


@pytest.fixture(scope="module")
def round_trip(tmp_path_factory):
    params = Params.model_validate(TRUTH)
    trace = model.Trace()
    model.run(params, months=18, seed=5, trace=trace)
    customers, tickets = cal.exports_from_trace(trace, params=params, seed=1)
    folder = tmp_path_factory.mktemp("round_trip")
    customers.to_csv(folder / "customers.csv", index=False)
    tickets.to_csv(folder / "tickets.csv", index=False)
    # as of the first day: the model's initial customers, drawn with the segment shares
    result = cal.calibrate_files(customers=folder / "customers.csv", tickets=folder / "tickets.csv",
                                 as_of="2024-01-01")
    return params, result, folder


def test_round_trip_recovers_segments(round_trip):
    """Stated tolerances: shares within 4 SE (SE < 0.01 with 3000 customers); prices exact; issue rates
    within 4 SE and 5%; monthly churn within 4 SE and 12% of base_churn_per_month."""
    params, result, _ = round_trip
    assert result.scenario.customers.initial == params.customers.initial
    assert [s.name for s in result.segments] == [s.name for s in params.customers.segments]
    for est, true in zip(result.segments, params.customers.segments):
        assert abs(est.share.value - true.share) < 4 * est.share.se and est.share.se < 0.01
        assert est.price.value == pytest.approx(true.plan_price_usd_per_month, abs=0.005)
        assert abs(est.issue_rate.value - true.issue_rate_per_month) < 4 * est.issue_rate.se
        assert est.issue_rate.value == pytest.approx(true.issue_rate_per_month, rel=0.05)
        assert abs(est.churn_monthly.value - true.base_churn_per_month) < 4 * est.churn_monthly.se
        assert est.churn_monthly.value == pytest.approx(true.base_churn_per_month, rel=0.12)
    # the written file carries the same numbers
    written = result.scenario.customers.segments
    assert [s.plan_price_usd_per_month for s in written] == [s.plan_price_usd_per_month
                                                             for s in params.customers.segments]
    assert sum(s.share for s in written) == pytest.approx(1.0, abs=1e-9)


def test_round_trip_recovers_the_desk(round_trip):
    """Stated tolerances: lognormal chosen; handle mean within 4 SE and 3%; cv within 5%; patience within 4 SE
    and 20%."""
    params, result, _ = round_trip
    s, h = params.support, result.handle
    assert h is not None and h.chosen == s.handle_time_dist
    assert abs(h.mean_h - s.handle_time_mean_h) < 4 * h.mean_se
    assert h.mean_h == pytest.approx(s.handle_time_mean_h, rel=0.03)
    assert h.cv == pytest.approx(s.handle_time_cv, rel=0.05)
    p = result.patience
    assert p is not None and abs(p.value - s.patience_mean_h) < 4 * p.se
    assert p.value == pytest.approx(s.patience_mean_h, rel=0.2)
    written = result.scenario.support
    assert written.handle_time_dist == "lognormal" and written.handle_time_mean_h == pytest.approx(h.mean_h, rel=1e-4)


def test_round_trip_sbg_has_no_heterogeneity_within_a_segment(round_trip):
    """Every customer of a segment has the same churn probability here: the sBG mean churn is the base churn
    (within 15%, or 4 standard errors of the segment's monthly churn estimate from the same customers: the
    smallest segment's sBG fit rests on a few dozen churners) and the fit runs to the homogeneous edge
    (large alpha + beta) or has a wide alpha."""
    params, result, _ = round_trip
    for est, true in zip(result.segments, params.customers.segments):
        f = est.sbg
        assert f is not None
        tolerance = max(0.15 * true.base_churn_per_month, 4 * est.churn_monthly.se)
        assert abs(f.mean_churn - true.base_churn_per_month) < tolerance, (est.name, f.mean_churn, tolerance)
        assert f.at_bound or f.alpha + f.beta > 50 or f.alpha_se > f.alpha


def test_written_file_is_valid_commented_and_atomic(round_trip, tmp_path):
    _, result, _ = round_trip
    out = tmp_path / "ours.toml"
    cal.write_scenario(result, out)
    scenario = load(out)
    assert scenario == result.scenario
    assert [p.name for p in tmp_path.iterdir()] == ["ours.toml"]  # no temporary file left behind
    text = out.read_text()
    estimated = ["share", "plan_price_usd_per_month", "issue_rate_per_month", "base_churn_per_month",
                 "handle_time_mean_h", "patience_mean_h", "staffing_service_level"]
    for key in estimated:
        lines = [ln for ln in text.splitlines() if ln.startswith(f"{key} = ")]
        assert lines, key
        for ln in lines:
            assert "# estimate" in ln and "SE" in ln and "rows" in ln, ln


def test_round_trip_through_the_command_line(round_trip, tmp_path, capsys):
    _, result, folder = round_trip
    out, report = tmp_path / "cli.toml", tmp_path / "report.json"
    rc = main(["calibrate", "--customers", str(folder / "customers.csv"), "--tickets", str(folder / "tickets.csv"),
               "--out", str(out), "--as-of", "2024-01-01", "--report", str(report)])
    assert rc == 0
    assert load(out) == result.scenario
    assert "wrote" in capsys.readouterr().out
    import json

    data = json.loads(report.read_text())
    assert [s["name"] for s in data["segments"]] == [s.name for s in result.segments]
    assert data["sbg_all"]["alpha"] == pytest.approx(result.sbg_all.alpha)


# ----------------------------------------------------------------------------- the bundled dataset


def test_bundled_dataset_is_what_make_data_makes(tmp_path, capsys):
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_data", EXAMPLE / "make_data.py")
    make_data = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_data)
    assert make_data.main(["--out", str(tmp_path)]) == 0
    for name in ("customers.csv", "tickets.csv"):
        assert (tmp_path / name).read_bytes() == (EXAMPLE / name).read_bytes(), name


def test_bundled_dataset_calibrates_close_to_its_truth(tmp_path):
    truth = load(EXAMPLE / "truth.toml")
    result = cal.calibrate_files(customers=EXAMPLE / "customers.csv", tickets=EXAMPLE / "tickets.csv")
    for est, true in zip(result.segments, truth.customers.segments):
        assert abs(est.issue_rate.value - true.issue_rate_per_month) < 4 * est.issue_rate.se
    assert abs(result.handle.mean_h - truth.support.handle_time_mean_h) < 4 * result.handle.mean_se
    assert abs(result.patience.value - truth.support.patience_mean_h) < 4 * result.patience.se


# ----------------------------------------------------------------------------- inputs and errors

GOOD_CUSTOMERS = (
    "customer_id,signup_date,cancel_date,plan,monthly_revenue_usd\n"
    "a,2024-01-05,,basic,30\n"
    "b,2024-01-10,2024-03-12,basic,30\n"
    "c,2024-02-01,,pro,120\n"
)
GOOD_TICKETS = (
    "ticket_id,customer_id,opened,first_response,resolved\n"
    "1,a,2024-01-06T10:00:00,2024-01-06T11:00:00,2024-01-06T11:30:00\n"
    "2,b,2024-02-06T10:00:00,2024-02-06T10:20:00,2024-02-06T11:00:00\n"
    "3,c,2024-02-07T09:00:00,,\n"
    "4,a,2024-03-01T09:00:00,2024-03-01T09:30:00,2024-03-01T10:45:00\n"
)


def _files(tmp_path, customers: str = GOOD_CUSTOMERS, tickets: str = GOOD_TICKETS):
    c, t = tmp_path / "customers.csv", tmp_path / "tickets.csv"
    c.write_text(customers)
    t.write_text(tickets)
    return c, t


def _cli(*args: str):  # noqa: ANN202
    """The real command in a process of its own (exit code, stderr, no traceback; see tests.procs.supportsim)."""
    from tests.procs import supportsim

    return supportsim("calibrate", *args)


def _main(capsys, *args: str) -> tuple[int, str]:
    """The same command in this process (fast): exit code and stderr."""
    rc = main(["calibrate", *args])
    return rc, capsys.readouterr().err


def test_small_files_calibrate_and_aliases_match(tmp_path):
    aliased = GOOD_CUSTOMERS.replace("customer_id,signup_date,cancel_date,plan,monthly_revenue_usd",
                                     "Customer ID,Signed Up At,Cancelled At,Plan Name,MRR")
    aliased_t = GOOD_TICKETS.replace("ticket_id,customer_id,opened,first_response,resolved",
                                     "ID,Customer,Created At,First Reply At,Closed At")
    c, t = _files(tmp_path, aliased, aliased_t)
    result = cal.calibrate_files(customers=c, tickets=t, as_of="2024-02-15")
    assert [s.name for s in result.segments] == ["basic", "pro"]
    assert result.scenario.customers.initial == 3
    assert result.segments[0].price.value == 30 and result.segments[1].price.value == 120


def test_missing_column_names_it_and_its_aliases(tmp_path):
    c, t = _files(tmp_path, GOOD_CUSTOMERS.replace("monthly_revenue_usd", "amount"))
    r = _cli("--customers", str(c), "--tickets", str(t), "--out", str(tmp_path / "o.toml"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "missing column 'monthly_revenue_usd'" in r.stderr and "mrr" in r.stderr and "'amount'" in r.stderr
    assert not (tmp_path / "o.toml").exists()


def test_malformed_values_name_row_column_and_expectation(tmp_path):
    bad_c = GOOD_CUSTOMERS.replace("2024-01-10,2024-03-12", "10/01/2024,2024-03-12").replace(",pro,120", ",pro,lots")
    c, t = _files(tmp_path, bad_c)
    with pytest.raises(ScenarioError) as exc:
        cal.read_customers(c)
    msg = str(exc.value)
    assert "row 2 (line 3), column 'signup_date': expected an ISO date" in msg and "'10/01/2024'" in msg
    assert "row 3 (line 4), column 'monthly_revenue_usd': expected a plain non-negative number" in msg


@pytest.mark.parametrize(("customers", "tickets", "needle"), [
    (GOOD_CUSTOMERS.replace("2024-01-10,2024-03-12", "2024-03-12,2024-01-10"), GOOD_TICKETS,
     "column 'cancel_date': expected a date on or after the signup date"),
    (GOOD_CUSTOMERS.replace("\nb,", "\na,"), GOOD_TICKETS, "each customer id once"),
    (GOOD_CUSTOMERS, GOOD_TICKETS.replace("2024-01-06T11:00:00,2024-01-06T11:30", "2024-01-06T09:00:00,2024-01-06T11:30"),
     "column 'first_response': expected a time on or after 'opened'"),
    (GOOD_CUSTOMERS, GOOD_TICKETS.splitlines()[0] + "\n", "has a header but no data rows"),
    ("", GOOD_TICKETS, "customers file is empty"),
])
def test_bad_rows_are_reported_clearly(tmp_path, capsys, customers, tickets, needle):
    c, t = _files(tmp_path, customers, tickets)
    rc, err = _main(capsys, "--customers", str(c), "--tickets", str(t), "--out", str(tmp_path / "o.toml"))
    assert rc == 2 and needle in err, err
    assert not (tmp_path / "o.toml").exists()


def test_missing_file_and_missing_arguments(tmp_path, capsys):
    rc, err = _main(capsys, "--customers", str(tmp_path / "nope.csv"), "--tickets", str(tmp_path / "nope.csv"),
                    "--out", str(tmp_path / "o.toml"))
    assert rc == 2 and "no such file" in err
    rc, err = _main(capsys, "--customers", str(tmp_path / "nope.csv"))
    assert rc == 2 and "missing --tickets, --out" in err


def test_as_of_without_active_customers_is_an_error(tmp_path):
    c, t = _files(tmp_path)
    with pytest.raises(ScenarioError, match="no customer is active on the as-of date 2023-06-01"):
        cal.calibrate_files(customers=c, tickets=t, as_of="2023-06-01")


def test_fees_switch_to_per_ticket_and_scores_set_ladder_shares(tmp_path):
    rows = ["ticket_id,customer_id,opened,first_response,resolved,fee_usd,csat"]
    rng = np.random.default_rng(2)
    scores = rng.integers(0, 11, 60)  # a 0-10 scale
    for i, s in enumerate(scores):
        day = 6 + i % 20
        fee = "25.00" if i % 2 else "0"
        rows.append(f"t{i},{'abc'[i % 3]},2024-02-{day:02d}T10:00:00,2024-02-{day:02d}T10:30:00,"
                    f"2024-02-{day:02d}T11:00:00,{fee},{s}")
    many = "customer_id,signup_date,cancel_date,plan,monthly_revenue_usd\n" + "".join(
        f"{x},2024-01-0{i + 1},,basic,30\n" for i, x in enumerate("abc"))
    c, t = _files(tmp_path, many, "\n".join(rows) + "\n")
    result = cal.calibrate_files(customers=c, tickets=t)
    assert result.scenario.pricing.scheme == "per_ticket" and result.scenario.pricing.per_ticket_fee_usd == 25
    # the latest score of each of the 3 customers: below the minimum, so the default shares stay
    assert result.ladder is None and any("satisfaction" in n for n in result.notes)
    # ladder levels in fifths of the 0-10 scale
    levels, scale = estimate._ladder_levels(np.array([0, 1.9, 2, 5, 8, 10.0]))
    assert scale == "0-10" and levels.tolist() == [0, 0, 1, 2, 4, 4]
    levels, scale = estimate._ladder_levels(np.array([1, 2, 3, 4, 5.0]))
    assert scale == "1-5" and levels.tolist() == [0, 1, 2, 3, 4]


def test_exports_keep_dates_iso_and_tickets_sorted(round_trip):
    _, _, folder = round_trip
    customers = pd.read_csv(folder / "customers.csv", dtype=str, keep_default_na=False)
    tickets = pd.read_csv(folder / "tickets.csv", dtype=str, keep_default_na=False)
    assert customers["signup_date"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    assert tickets["opened"].is_monotonic_increasing
    abandoned = tickets["first_response"] == ""
    assert abandoned.any() and (tickets.loc[abandoned, "resolved"] == "").all()


def test_dates_from_the_command_line_are_checked(tmp_path):
    c, t = _files(tmp_path)
    with pytest.raises(ScenarioError, match="--export-date 2024-02-01: 8 dates in the files are later"):
        cal.calibrate_files(customers=c, tickets=t, export_date="2024-02-01")
    with pytest.raises(ScenarioError, match="--as-of: expected an ISO date such as 2024-01-31, got 'soon'"):
        cal.calibrate_files(customers=c, tickets=t, as_of="soon")
    with pytest.raises(ScenarioError, match="the observation window is empty"):
        cal.calibrate_files(customers=c, tickets=t, observed_from="2025-01-01")


def test_odd_plan_names_still_make_a_valid_file(tmp_path):
    odd = GOOD_CUSTOMERS.replace(",basic,", ',"Basic ""Plus"" — été \\ 2024",').replace(",pro,", "," + "x" * 60 + ",")
    c, t = _files(tmp_path, odd)
    result = cal.calibrate_files(customers=c, tickets=t)
    names = [s.name for s in result.scenario.customers.segments]
    assert names == ['Basic "Plus" — été \\ 2024', "x" * 40]
