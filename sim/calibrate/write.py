"""Write a calibration: the commented scenario file and the JSON report of every estimate.

Where it sits: ``estimate`` -> **write** -> ``scenarios/NAME.toml`` (read back by
:func:`sim.params.scenario.load_text`) and ``--report FILE.json``. Every estimated value in the
scenario carries a comment: the estimate, its uncertainty and the rows it came from; everything
else keeps the schema default (and says so). The text is validated before it is written, and
files are replaced atomically. Nothing is estimated or printed here.
"""

from __future__ import annotations

import json
import math
import tomllib
import unicodedata
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w

from sim.base.atomic import atomic_write
from sim.calibrate import fits as sbg
from sim.calibrate.estimate import PERIODS_SHOWN, Calibration, Estimate, clamp_to_schema, estimate_all, schema_bound
from sim.calibrate.ingest import CalibrationError, CustomerTable, TicketTable, read_customers, read_tickets
from sim.calibrate.writesupport import churn_lines, desk_lines, mechanics_lines, uncertainty_lines
from sim.params.scenario import load_text
from sim.params.schema import LADDER, Customers, HelpSeeking, Meta, Pricing, Segment, Support

NAME_CHARS = int(schema_bound(Meta, "name", "max_length"))
DESCRIPTION_CHARS = int(schema_bound(Meta, "description", "max_length"))


def _round(v: float, digits: int = 6) -> float:
    """A float cut to ``digits`` significant digits (what the file shows)."""
    return float(format(float(v), f".{digits}g"))


def _text(value: str, limit: int | None = None) -> str:
    """User text for a TOML string: surrogates (undecodable bytes in a file name) replaced, cut to ``limit``."""
    clean = value if value.isascii() else value.encode("utf-8", "replace").decode("utf-8")
    return clean[:limit] if limit is not None else clean


def comment_text(text: str) -> str:
    """Text that is safe after ``#``: every control or line-breaking character becomes a space, runs of space
    collapse, surrogates are replaced. TOML ends a comment at a newline, so without this a value from a CSV
    file (a plan name, a file name) could start a line of its own and become a setting."""
    out = []
    for ch in _text(text):
        cat = unicodedata.category(ch)
        out.append(" " if cat in ("Cc", "Zl", "Zp") else ch)
    return " ".join("".join(out).split())


def _value(v: Any) -> str:
    """One TOML value, written by tomli_w (strings escaped by the library, never by hand); lists on one line."""
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    return tomli_w.dumps({"v": v})[len("v = "):].rstrip("\n")


class _Doc:
    """The scenario file being built: the lines written and, alongside, the data they must parse back to."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.data: dict[str, Any] = {}
        self.table: dict[str, Any] = self.data

    def section(self, name: str) -> None:
        self.lines += ["", f"[{name}]"]
        self.table = self.data.setdefault(name, {})

    def segment(self) -> None:
        self.lines += ["", "[[customers.segments]]"]
        self.table = {}
        self.data.setdefault("customers", {}).setdefault("segments", []).append(self.table)

    def put(self, key: str, value: Any, comment: str = "") -> None:
        self.table[key] = value
        note = comment_text(comment)
        self.lines.append(f"{key} = {_value(value)}" + (f"  # {note}" if note else ""))

    def comment(self, text: str) -> None:
        self.lines.append(f"# {comment_text(text)}")

    def put_inline(self, key: str, value: dict[str, Any], comment: str = "") -> None:
        """``"key" = { a = 1, b = 2 }`` (a quoted key: a parameter path), values written by tomli_w."""
        self.table[key] = value
        if comment:
            self.comment(comment)
        body = ", ".join(f"{k} = {_value(v)}" for k, v in value.items())
        self.lines.append(f"{_value(key)} = {{ {body} }}")


def _fixed_sum(values: list[float], digits: int = 6) -> list[float]:
    """Round to ``digits`` decimals keeping the sum exactly 1 (the largest absorbs the remainder)."""
    out = [round(v, digits) for v in values]
    i = int(np.argmax(out))
    out[i] = round(1.0 - sum(x for j, x in enumerate(out) if j != i), digits)
    return out


def scenario_text(cal: Calibration, *, name: str) -> str:
    """The scenario as TOML: a header on retention and data, then every section with commented estimates.

    Values are written by a TOML writer (tomli_w), comments cleaned by :func:`comment_text`, and the
    text is parsed back and compared with the values meant: nothing in the exports can add or
    change a setting. The body is built first, since clamping a value into the schema range adds
    a note to the header (and to ``cal.notes``).
    """
    notes = cal.notes
    files = [Path(src).name for src in cal.sources]
    n_active = cal.counts["active_as_of"]
    charged_share, fee_median, fees_present = cal.charged_share, cal.fee_median_usd, cal.fees_present

    def put(value: float, model: Any, fld: str, label: str, digits: int = 6) -> float:
        return _round(clamp_to_schema(value, model, fld, notes, label), digits)

    w = cal.window
    doc = _Doc()
    doc.section("scenario")
    doc.put("name", _text(name, NAME_CHARS))
    doc.put("description", _text(f"Calibrated from {files[0]} and {files[1]}, {w['observed_from']} to "
                                 f"{w['export_date']}.", DESCRIPTION_CHARS))
    doc.section("customers")
    doc.put("initial", int(clamp_to_schema(n_active, Customers, "initial", notes, "customers.initial")),
            f"customers active on {w['as_of']} (signed up before it, not cancelled by then): the population "
            "the simulation starts from")
    if cal.funding_sigma is not None:
        doc.put("funding_sigma", put(cal.funding_sigma, Customers, "funding_sigma", "customers.funding_sigma", 4),
                "pooled within-segment sd of log funding")
    shares = _fixed_sum([s.share.value for s in cal.segments])
    top = len(cal.segments) - 1
    max_rank = int(schema_bound(Segment, "tier_priority", "le"))
    for i, (s, share) in enumerate(zip(cal.segments, shares)):
        label = f"customers.segments.{i}"
        churn_note = f"; observed monthly churn {s.churn_monthly.comment()}" if s.churn_monthly.se else ""
        doc.segment()
        doc.put("name", _text(s.name), f"plans: {', '.join(s.plans)}"[:300] if s.plans != [s.name] else "")
        doc.put("share", _round(share), s.share.comment())
        doc.put("plan_price_usd_per_month", put(s.price.value, Segment, "plan_price_usd_per_month",
                                                f"{label}.plan_price_usd_per_month"), s.price.comment())
        doc.put("issue_rate_per_month", put(s.issue_rate.value, Segment, "issue_rate_per_month",
                                            f"{label}.issue_rate_per_month"), s.issue_rate.comment())
        doc.put("base_churn_per_month", put(s.base_churn.value, Segment, "base_churn_per_month",
                                            f"{label}.base_churn_per_month"), s.base_churn.comment() + churn_note)
        doc.put("tier_priority", min(len(cal.segments) - i, max_rank),
                "rank by price, dearest first (assumption; used only by tiered policies)")
        doc.put("is_top_plan", i == top and top > 0, "the dearest segment" if (i == top and top > 0) else "")
        if s.big_name_share is not None:
            doc.put("big_name_share", _round(s.big_name_share.value), s.big_name_share.comment())
        if s.funding_median is not None:
            doc.put("funding_median_usd", put(s.funding_median.value, Segment, "funding_median_usd",
                                              f"{label}.funding_median_usd"), s.funding_median.comment())
    doc.section("pricing")
    if charged_share > 0:
        doc.put("scheme", "per_ticket", f"{charged_share:.1%} of tickets carry a fee "
                f"({cal.counts['tickets_charged']:,} rows); a free allowance is not inferred")
        doc.put("per_ticket_fee_usd", put(fee_median, Pricing, "per_ticket_fee_usd", "pricing.per_ticket_fee_usd"),
                "median fee of charged tickets")
    else:
        doc.put("scheme", "flat", "no ticket carries a fee" if fees_present else
                "no fee column: support assumed included")
    doc.section("help_seeking")
    doc.put("base_ask_prob", _round(HelpSeeking().base_ask_prob), "schema default, not identifiable from tickets "
            "alone: issue rates above are ticket rates divided by it")
    doc.section("support")
    if cal.staffing_level is not None:
        counted = cal.support.counted_agents() if cal.support is not None else None
        if counted is not None:
            doc.put("staffing", "fixed", "the data name the agents: staff what they staffed")
            doc.put("agents", counted[0], counted[1])
        elif cal.agents is not None:
            doc.put("staffing", "fixed", "staff as the desk was staffed (agents below); erlang staffing would aim at "
                    "staffing_service_level instead")
            doc.put("agents", int(cal.agents), "the agents whose Erlang C mean wait, at the load of an average open "
                    "hour, is closest to the observed mean wait on the SLA clock")
        else:
            doc.put("staffing", "erlang", "staff each month for the observed service level")
        doc.put("staffing_service_level", _round(cal.staffing_level.value, 4), cal.staffing_level.comment())
    wt = cal.waits
    sla_h = wt.sla_h if wt else Support().sla_target_h
    doc.put("sla_target_h", _round(sla_h), "the first-response target the service level is measured against"
            + (f"; observed waits mean {wt.mean_h:.3g} h (SE {wt.mean_se:.2g}), p90 {wt.p90_h:.3g} h "
               f"(95% CI {wt.p90_ci[0]:.3g} to {wt.p90_ci[1]:.3g}), {wt.answered:,} answered, "
               f"{wt.abandoned:,} abandoned" if wt else ""))
    if cal.handle is not None:
        h = cal.handle
        fit_note = (f"MLE fits of {h.n:,} handle times: exponential KS D {h.exp_ks:.3f} AIC {h.exp_aic:.1f}; "
                    f"lognormal KS D {h.lognormal_ks:.3f} AIC {h.lognormal_aic:.1f} (mu {h.lognormal_mu:.3g}, "
                    f"sigma {h.lognormal_sigma:.3g}); lower AIC chosen")
        doc.put("handle_time_dist", h.chosen, fit_note)
        doc.put("handle_time_mean_h", put(h.mean_h, Support, "handle_time_mean_h", "support.handle_time_mean_h"),
                Estimate(h.mean_h, h.mean_se, h.n, f"mean of the {h.chosen} fit (sample mean "
                         f"{h.sample_mean_h:.4g} h)").comment())
        if h.chosen == "lognormal":
            doc.put("handle_time_cv", put(h.cv, Support, "handle_time_cv", "support.handle_time_cv"),
                    Estimate(h.cv, h.cv_se, h.n, "sqrt(exp(sigma^2) - 1) of the lognormal fit").comment())
    if cal.patience is not None:
        doc.put("patience_mean_h", put(cal.patience.value, Support, "patience_mean_h", "support.patience_mean_h"),
                cal.patience.comment())
    if cal.support is not None:
        desk_lines(doc, cal.support, sla_h)
    doc.section("satisfaction")
    shares_written = [_round(x) for x in _fixed_sum(cal.ladder_shares)]
    mech = cal.support.mechanics if cal.support is not None else None
    if mech is not None:
        mechanics_lines(doc, cal.support, put)
        doc.put("initial_shares", shares_written, "only sizes the warm start: the initial mix is the steady state of "
                "the ladder with the mechanics above" + (f" (scores said: {cal.ladder.how})" if cal.ladder else ""))
    elif cal.ladder is not None:
        detail = ", ".join(f"{lv} {p:.3f} SE {se:.3f}" for lv, p, se in zip(LADDER, cal.ladder_shares, cal.ladder_se))
        doc.put("initial_mix", "shares", "the customers' observed ladder, not the model's steady state")
        doc.put("initial_shares", shares_written, f"{cal.ladder.how} ({detail}), from {cal.ladder.rows:,} scored "
                "tickets")
    else:
        doc.put("initial_shares", shares_written, "schema default: no satisfaction scores")
    if any(s.vip_share is not None for s in cal.segments):
        n_vip = sum(round(s.vip_share * s.customers) for s in cal.segments if s.vip_share is not None)
        doc.section("vip")
        doc.put("enabled", n_vip > 0, f"{n_vip:,} customers flagged VIP; the selection rules keep their defaults")

    if mech is not None:
        churn_lines(doc, cal.support)
        uncertainty_lines(doc, cal)
    head = [
        f"Calibrated by `supportsim calibrate` from {files[0]} ({cal.counts['customers']:,} rows) "
        f"and {files[1]} ({cal.counts['tickets']:,} rows).",
        f"Window: {w['observed_from']} to {w['export_date']} ({w['window_months']} months of 730 h); "
        f"the simulation starts from the customers active on {w['as_of']}.",
        "Each estimated value says: estimate (SE, 95% CI) from N rows: how. Parameters without a comment keep",
        "the schema default (docs/parameters.md); docs/calibration.md explains every mapping.",
        "",
        "Retention (shifted-beta-geometric, Fader & Hardie 2007; periods of 730 h from each signup):",
    ]
    if cal.sbg_all is not None:
        f = cal.sbg_all
        surv = f.survival(np.array([1, 3, 6, 12, 24]))
        head += [
            f"  all customers: {f.summary()}; {f.customers:,} customers, {f.churned:,} cancellations.",
            "  projected survival after 1/3/6/12/24 months: " + ", ".join(f"{x:.1%}" for x in surv)
            + f"; retention at renewal 1/12/24: {f.retention(1):.1%}, {f.retention(12):.1%}, {f.retention(24):.1%}.",
        ]
    for s in cal.segments:
        if s.sbg is not None:
            head.append(f"  {comment_text(s.name)}: {s.sbg.summary()}; exposure churn "
                        f"{s.churn_monthly.value:.4g}/month.")
    head += [
        "  Mapping: the scenario's churn is a constant monthly hazard per customer given the ladder level, so",
        "  base_churn_per_month reproduces the exposure-weighted monthly churn (cancellations / renewal",
        "  opportunities), not the first-period churn alpha/(alpha+beta) of a new cohort. The sBG curve shows",
        "  how retention rises with tenure; the scenario reproduces that only through segments and ladder moves.",
    ]
    if cal.retention_rate_pct is not None:
        head.append(f"Monthly retention rate ((C - B) / A) x 100: {cal.retention_rate_pct.comment()}.")
    if cal.channel_counts:
        total = sum(cal.channel_counts.values())
        head.append("Channels (one desk in the model): "
                    + ", ".join(f"{comment_text(a)} {b / total:.0%}" for a, b in cal.channel_counts.items()) + ".")
    head += [f"Note: {note}." for note in notes]
    # every header line is cleaned whole; the leading spaces of the indented ones are kept
    lines = [("#" + ("   " if line.startswith("  ") else " ") + comment_text(line)).rstrip() for line in head]
    text = "\n".join(lines + doc.lines) + "\n"
    try:
        parsed = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        parsed = None
    if parsed != doc.data:  # the written text must mean exactly the values chosen above
        raise CalibrationError(["internal error: the scenario text does not read back as the values written; "
                                "please report this with the input files"], "calibrated scenario")
    return text


def render(cal: Calibration, *, name: str = "calibrated") -> Calibration:
    """Fill ``cal.text`` (the commented scenario) and ``cal.scenario`` (that text, validated); returns ``cal``."""
    cal.text = scenario_text(cal, name=name)
    cal.scenario = load_text(cal.text, source="calibrated scenario")
    return cal


def write_scenario(cal: Calibration, path: str | Path) -> Path:
    """Write the calibrated scenario atomically (temporary file + rename), after validating it again."""
    path = Path(path)
    load_text(cal.text, source=str(path))
    atomic_write(path, lambda tmp: tmp.write_text(cal.text, encoding="utf-8"))
    return path


def report_dict(cal: Calibration) -> dict[str, Any]:
    """Every estimate as plain JSON-able data."""
    def clean(o: Any) -> Any:
        if isinstance(o, float):
            return o if math.isfinite(o) else None
        if isinstance(o, dict):
            return {k: clean(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [clean(v) for v in o]
        if isinstance(o, np.generic):
            return clean(o.item())
        return o

    def fit_dict(f: sbg.SBGFit | None) -> dict[str, Any] | None:
        if f is None:
            return None
        t = np.arange(1, PERIODS_SHOWN + 1)
        return {**asdict(f), "mean_churn": f.mean_churn, "survival": f.survival(t).tolist(),
                "retention": f.retention(t).tolist()}

    return clean({
        "window": cal.window,
        "counts": cal.counts,
        "segments": [{**{k: v for k, v in asdict(s).items() if k != "sbg"}, "sbg": fit_dict(s.sbg)}
                     for s in cal.segments],
        "handle_time": asdict(cal.handle) if cal.handle else None,
        "waits": asdict(cal.waits) if cal.waits else None,
        "patience_mean_h": asdict(cal.patience) if cal.patience else None,
        "staffing_service_level": asdict(cal.staffing_level) if cal.staffing_level else None,
        "agents_erlang_c": cal.agents,
        "ladder": {"levels": list(LADDER), "shares": cal.ladder_shares, "se": cal.ladder_se,
                   "customers": int(cal.ladder.value) if cal.ladder else 0},
        "sbg_all": fit_dict(cal.sbg_all),
        "cohorts": json.loads(cal.cohorts.to_json(orient="records")),
        "retention_rate_pct": asdict(cal.retention_rate_pct) if cal.retention_rate_pct else None,
        "support": support_dict(cal.support) if cal.support is not None else None,
        "notes": cal.notes,
    })


def support_dict(s: Any) -> dict[str, Any]:
    """The desk's week and the support -> churn fit as plain data (hazard ratios, mapped parameters, intervals)."""
    out: dict[str, Any] = {
        "hours": asdict(s.hours) if s.hours is not None else None,
        "arrival_profile": asdict(s.profile) if s.profile is not None else None,
        "sla_clock": s.clock, "clock_loglik_less_coefficients": s.clock_loglik, "attainment": s.attainment,
        "patience_clock": s.patience_clock, "abandon_ratio_closed_vs_open": s.abandon_ratio,
        "customers_used": s.customers_used, "customers_total": s.customers_total,
    }
    if s.reduced is not None:
        out["hazard"] = {"cells": s.reduced.cells, "cancellations": s.reduced.churned,
                         "loglik": s.reduced.loglik, "coefficients": s.reduced.table()}
    if s.mechanics is not None:
        m = s.mechanics
        out["mechanics"] = {"j_stat": m.j_stat, "j_df": m.j_df, "j_pvalue": m.j_pvalue, "fixed": m.fixed,
                            "notes": m.notes, "estimates": {n: dict(zip(("estimate", "sd", "ci_low", "ci_high"),
                                                                         (m.estimate(n), *m.interval(n))))
                                                            for n in m.estimated()}}
    return out


def write_report(cal: Calibration, path: str | Path) -> Path:
    """Write :func:`report_dict` as indented JSON, atomically."""
    path = Path(path)
    text = json.dumps(report_dict(cal), indent=2) + "\n"
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return path


# ---------------------------------------------------------------- the calibration in one call


def calibrate(*, customers: CustomerTable, tickets: TicketTable, name: str = "calibrated",
              **options: Any) -> Calibration:
    """Estimate from parsed exports and render the scenario (options as for :func:`sim.calibrate.estimate.estimate_all`)."""
    return render(estimate_all(customers=customers, tickets=tickets, **options), name=name)


def calibrate_files(*, customers: str | Path, tickets: str | Path, **options: Any) -> Calibration:
    """Read both exports and calibrate (options as for :func:`calibrate`)."""
    return calibrate(customers=read_customers(customers), tickets=read_tickets(tickets), **options)
