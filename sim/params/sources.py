"""The sources that parameter defaults cite: one registry, read by the docs, the report and the tests.

Where it sits: beside ``sim.params.schema``. Every field of the schema names the source of its
default in its ``source`` string, in one of two forms:

- ``"[key] what the source says"``: one or more keys of :data:`SOURCES` in square brackets
  (``"[lambrecht2006][article-flat-vs-tiered] pay-per-use raises churn; strength assumed"``),
  then a short note saying what the source supports and which part of the value, if any,
  is assumed;
- ``"assumption: <one-line reason>"``: no published figure is behind the default.

``docs/sources.md`` is generated from :data:`SOURCES` (``python -m sim.output.paramdocs``);
``tests/test_sources.py`` fails on a source string that resolves nowhere. This module is data
and string parsing only: it must not read files or import anything above ``sim.params``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Kind = Literal["research", "reference", "benchmark", "article"]

KIND_TITLES: dict[Kind, str] = {  # also the order of the groups in docs/sources.md
    "research": "Published research",
    "reference": "Practitioner references",
    "benchmark": "Industry benchmark pages",
    "article": "Practitioner articles the model was built from (unattributed)",
}


@dataclass(frozen=True)
class Source:
    """One citable source. ``link`` is an address someone actually saw, or "" with ``no_link`` saying why."""

    key: str
    kind: Kind
    short: str  # how a table cell names it: "Lambrecht & Skiera 2006"
    authors: str
    title: str
    year: str  # "2006", or "n.d." for an undated web page
    published_in: str
    link: str
    supports: str  # what the project takes from it
    no_link: str = ""
    see_also: str = ""  # a related public page (markdown), never presented as the source itself


_ARTICLE_NO_LINK = (
    "none: the article reached the project as plain text without author, title or address, and a "
    "search of stored public pages did not identify the original."
)

SOURCES: dict[str, Source] = {
    s.key: s
    for s in (
        Source(
            key="lambrecht2006", kind="research", short="Lambrecht & Skiera 2006",
            authors="Lambrecht, A. & Skiera, B.",
            title="Paying too much and being happy about it: existence, causes, and consequences of "
                  "tariff-choice biases",
            year="2006", published_in="Journal of Marketing Research 43(2), 212–223",
            link="https://doi.org/10.1509/jmkr.43.2.212",
            supports="Pay-per-use tariffs raise churn relative to flat rates (the pay-per-use bias largely "
                     "increases churn; the flat-rate bias does not): independent evidence for the resentment "
                     "mechanism. It gives the direction of the effect, not the model's coefficient.",
        ),
        Source(
            key="reichheld1990", kind="research", short="Reichheld & Sasser 1990",
            authors="Reichheld, F. F. & Sasser, W. E., Jr.",
            title="Zero defections: quality comes to services",
            year="1990", published_in="Harvard Business Review 68(5), 105–111",
            link="https://hbr.org/1990/09/zero-defections-quality-comes-to-services",
            supports="Defections drive profit, and listening to why customers leave shows where the service "
                     "falls short: the value of retention and of acting on feedback.",
        ),
        Source(
            key="gallo2014", kind="research", short="Gallo 2014 (HBR)",
            authors="Gallo, A.",
            title="The value of keeping the right customers",
            year="2014", published_in="Harvard Business Review (online), 29 October 2014",
            link="https://hbr.org/2014/10/the-value-of-keeping-the-right-customers",
            supports="Acquiring a customer costs 5 to 25 times as much as keeping one, depending on the study "
                     "and the industry: the range of `acquisition.cac_multiple`. The 6-7x figure of the "
                     "practitioner article has no single primary source.",
        ),
        Source(
            key="fader2007", kind="research", short="Fader & Hardie 2007",
            authors="Fader, P. S. & Hardie, B. G. S.",
            title="How to project customer retention",
            year="2007", published_in="Journal of Interactive Marketing 21(1), 76–90",
            link="https://doi.org/10.1002/dir.20074",
            supports="The shifted-beta-geometric (sBG) model of contractual churn, fitted by "
                     "`supportsim calibrate` (docs/calibration.md) and tested against the paper's example.",
        ),
        Source(
            key="cobham1954", kind="research", short="Cobham 1954",
            authors="Cobham, A.",
            title="Priority assignment in waiting line problems",
            year="1954",
            published_in="Journal of the Operations Research Society of America (Operations Research) 2(1), 70–76",
            link="http://dx.doi.org/10.1287/opre.2.1.70",
            supports="Mean waits of non-preemptive priority classes in an M/M/c queue: the theory the desk's "
                     "priorities are validated against (docs/validation.md).",
        ),
        Source(
            key="garnett2002", kind="research", short="Garnett, Mandelbaum & Reiman 2002",
            authors="Garnett, O., Mandelbaum, A. & Reiman, M.",
            title="Designing a call center with impatient customers",
            year="2002", published_in="Manufacturing & Service Operations Management 4(3), 208–227",
            link="https://doi.org/10.1287/msom.4.3.208.7753",
            supports="The Erlang A model (M/M/N+M): exponentially distributed patience and abandonment, the "
                     "form of `support.patience_mean_h` and the theory the desk's abandonment is validated against.",
        ),
        Source(
            key="strong2014", kind="research", short="Strong, Oakley & Brennan 2014",
            authors="Strong, M., Oakley, J. E. & Brennan, A.",
            title="Estimating multiparameter partial expected value of perfect information from a probabilistic "
                  "sensitivity analysis sample: a nonparametric regression approach",
            year="2014", published_in="Medical Decision Making 34(3), 311–326",
            link="https://pmc.ncbi.nlm.nih.gov/articles/PMC4819801",
            supports="Regression-based partial EVPI (EVPPI): which uncertain parameters are worth learning "
                     "before deciding between policies.",
        ),
        Source(
            key="dematos2007", kind="research", short="de Matos, Henrique & Rossi 2007",
            authors="de Matos, C. A., Henrique, J. L. & Rossi, C. A. V.",
            title="Service recovery paradox: a meta-analysis",
            year="2007", published_in="Journal of Service Research 10(1), 60–77",
            link="https://doi.org/10.1177/1094670507303012",
            supports="A good recovery raises satisfaction above the pre-failure level on average, but has no "
                     "significant effect on repurchase intention, word of mouth or corporate image: the default "
                     "recovery gain `satisfaction.recovery_gain` is 0 (a resolved issue restores loyalty, no "
                     "more), with a small positive range for the uncertainty table.",
        ),
        Source(
            key="dixon2010", kind="research", short="Dixon, Freeman & Toman 2010",
            authors="Dixon, M., Freeman, K. & Toman, N.",
            title="Stop trying to delight your customers",
            year="2010", published_in="Harvard Business Review 88(7/8), 116–122",
            link="https://hbr.org/2010/07/stop-trying-to-delight-your-customers",
            supports="Over 75,000 service contacts: a service interaction is about four times likelier to drive "
                     "disloyalty than loyalty; exceeding expectations buys little loyalty over meeting them; "
                     "customer effort (repeat contacts, transfers, waiting) predicts disloyalty. Hence bad "
                     "outcomes weigh more than good ones, a small default relief above 'meet' "
                     "(`satisfaction.relief_above_meet`) and an effort penalty for abandoned tickets.",
        ),
        Source(
            key="bolton1998", kind="research", short="Bolton 1998",
            authors="Bolton, R. N.",
            title="A dynamic model of the duration of the customer's relationship with a continuous service "
                  "provider: the role of satisfaction",
            year="1998", published_in="Marketing Science 17(1), 45–65",
            link="https://doi.org/10.1287/mksc.17.1.45",
            supports="Satisfaction with a continuously provided service predicts how long a customer stays "
                     "(a proportional-hazards model), and negative experiences weigh more than positive ones: "
                     "the ladder as a multiplier on the churn hazard, updated by each month's experiences.",
        ),
        Source(
            key="pfeifer2000", kind="research", short="Pfeifer & Carraway 2000",
            authors="Pfeifer, P. E. & Carraway, R. L.",
            title="Modeling customer relationships as Markov chains",
            year="2000", published_in="Journal of Interactive Marketing 14(2), 43–55",
            link="http://web.stanford.edu/class/msande121/Links/crmmodelingmarkov.pdf",
            supports="Customer lifetime value as the expected discounted margin of a Markov chain over customer "
                     "states, V = (I − d P)^-1 d g: the terminal value values each horizon customer by the "
                     "ladder transitions its policy produced, not at a frozen level.",
        ),
        Source(
            key="superoffice-response-times", kind="benchmark", short="SuperOffice response times",
            authors="SuperOffice (no named author)",
            title="Customer service response times (benchmark study)",
            year="n.d.", published_in="superoffice.co.uk (undated web page)",
            link="https://www.superoffice.co.uk/resources/articles/customer-service-response-times",
            supports="Companies that answer customer emails take 12 hours on average to respond (customers "
                     "expect far less): the market norm `satisfaction.market_norm_h` of 12 h, the longest first "
                     "response a customer accepts whatever a vendor promises.",
            see_also="[Help Scout: email response times, benchmarks and tips]"
                     "(https://www.helpscout.com/helpu/email-customer-service-whats-an-acceptable-reply-time/)",
        ),
        Source(
            key="cch-erlang-c", kind="reference", short="Call Centre Helper (Erlang C)",
            authors="Call Centre Helper (editorial team)",
            title="Erlang C formula – made simple with an easy worked example",
            year="n.d.", published_in="callcentrehelper.com (undated web page)",
            link="https://www.callcentrehelper.com/erlang-c-formula-example-121281.htm",
            supports="The Erlang C worked example (100 calls per 30 min, 180 s average handle time: 10 Erlangs; "
                     "with 14 agents P(wait) about 0.174, 80/20 service level about 88.8%, occupancy 71.4%; with "
                     "11 agents P(wait) about 0.682) that tests `sim/engine/erlang.py`, and the contact-centre "
                     "practice of staffing to a service level such as 80% answered within the target.",
        ),
        Source(
            key="gasp-support-metrics", kind="benchmark", short="GASP support metrics",
            authors="GASP wiki (no named author)",
            title="Customer Support Metrics",
            year="n.d.", published_in="gaspwiki.pages.dev (undated web page)",
            link="https://gaspwiki.pages.dev/v1/metrics/support",
            supports="Tickets per active customer per month: below 0.5 low-touch, 0.5-1.0 typical, above 1.0 "
                     "high-touch. First-response targets: chat under a minute; B2B email 4-6 h (industry "
                     "average 12 h or more); enterprise under 1 h (premium SLA); phone 80% answered within "
                     "20 s. B2B SaaS spends about 8% of ARR on support and success combined.",
        ),
        Source(
            key="knowledgelib-churn", kind="benchmark", short="knowledgelib.io churn benchmarks",
            authors="knowledgelib.io (no named author; page verified 2026-02-28)",
            title="SaaS Churn Rate Benchmarks",
            year="2026", published_in="knowledgelib.io",
            link="https://knowledgelib.io/finance/saas-metrics/churn-benchmarks/2026",
            supports="Monthly logo churn of B2B SaaS by segment: SMB 3-5%, mid-market 1.5-3%, enterprise "
                     "0.7-2%, best in class below 1%.",
        ),
        Source(
            key="lorikeet-cost-per-ticket", kind="benchmark", short="Lorikeet cost per ticket",
            authors="Owen, H. (Lorikeet)",
            title="Cost per support ticket: benchmarks and how to reduce it",
            year="2026", published_in="lorikeetcx.ai, 26 February 2026",
            link="https://www.lorikeetcx.ai/articles/customer-service-cost-per-ticket",
            supports="Cost per ticket: SaaS support $18-35, B2B support $30-60 (quoting LiveChatAI's 2025 "
                     "industry analysis). The model has no cost-per-ticket parameter: agent cost per hour x "
                     "handle time is checked against this range.",
        ),
        Source(
            key="article-flat-vs-tiered", kind="article", short="article: flat vs tiered support",
            authors="unattributed practitioner article",
            title="Flat vs tiered or metered support pricing (the \"Netflix argument\")",
            year="n.d.", published_in="practitioner blog article", link="", no_link=_ARTICLE_NO_LINK,
            supports="Metered or tiered support punishes customers for using the product: like a per-hour "
                     "Netflix, a customer who pays per use thinks twice before asking (demand suppression), and "
                     "being charged breeds resentment; customers who feel nickel-and-dimed look at competitors, "
                     "and switching is easy; acquiring a customer costs 6 to 7 times as much as keeping one; "
                     "happy customers become advocates. The article argues for the same service on every plan.",
        ),
        Source(
            key="article-retention", kind="article", short="article: customer retention",
            authors="unattributed practitioner article",
            title="Measuring and improving customer retention",
            year="n.d.", published_in="practitioner blog article", link="", no_link=_ARTICLE_NO_LINK,
            supports="Retention rate = ((C - B) / A) x 100 (A customers at the start, B acquired, C at the end); "
                     "acquisition is expensive; loyal customers advocate while leavers spread negativity; levers: "
                     "proactive communication, feedback surveys acted upon, reward programmes, and support "
                     "(long waits frustrate, great support makes advocates).",
        ),
        Source(
            key="article-satisfaction-levels", kind="article", short="article: four levels of satisfaction",
            authors="unattributed practitioner article",
            title="The four levels of customer satisfaction",
            year="n.d.", published_in="practitioner blog article", link="", no_link=_ARTICLE_NO_LINK,
            supports="Four ascending levels (meet, exceed, delight, wow/amaze); below 'meet' a business is unlikely "
                     "to survive; at 'meet' a better offer takes the customer, and failing expectations even once "
                     "carries a strong chance of leaving; retained customers pay a little more for quality "
                     "service; surveys show where customers stand.",
            see_also="The same four-level framework is set out on a public page, "
                     "[\"The Four Levels of Customer Satisfaction\"]"
                     "(http://www.1000advices.com/guru/customer_satisfaction_4levels_bt.html) (1000advices.com); "
                     "it is a related statement of the framework, not the article itself.",
        ),
        Source(
            key="article-vip-support", kind="article", short="article: VIP support programme",
            authors="unattributed practitioner article",
            title="A VIP support programme for high-value trials",
            year="n.d.", published_in="practitioner blog article", link="", no_link=_ARTICLE_NO_LINK,
            supports="Who is VIP: top-plan customers, big-name signups, start-ups with $500k or more of funding. "
                     "What VIPs get: a personal welcome with a 1:1 demo offer, concierge onboarding (manual "
                     "check-ins during the trial, raising conversion), lifecycle check-ins (the first 30 days, "
                     "then quarterly) and outreach when account-level activity churn appears. VIPs became "
                     "active, converted and stayed more often (selection bias acknowledged). Manual care does "
                     "not scale; automated personalised messages take over (Intercom, about two years, later "
                     "8,000+ customers in 85 countries).",
        ),
    )
}

KEY_PATTERN = r"[a-z0-9][a-z0-9-]*"
_CITED = re.compile(rf"^((?:\[{KEY_PATTERN}\])+)\s+(\S.*)$")
_ASSUMED = re.compile(r"^assumption: (\S.*)$")
MIN_REASON_CHARS = 12  # "assumption: guess" is not a reason


@dataclass(frozen=True)
class Citation:
    """A parsed ``source`` string: the keys it cites (none for an assumption) and its note."""

    keys: tuple[str, ...]
    note: str

    @property
    def is_assumption(self) -> bool:
        return not self.keys


def parse(text: str) -> Citation:
    """Parse a ``source`` string; ValueError says what is wrong (unknown key, no reason, wrong form)."""
    m = _CITED.match(text)
    if m:
        keys = tuple(re.findall(KEY_PATTERN, m.group(1)))
        unknown = [k for k in keys if k not in SOURCES]
        if unknown:
            raise ValueError(f"unknown source key(s) {unknown} in {text!r}: add them to sim.params.sources.SOURCES")
        return Citation(keys, m.group(2).strip())
    m = _ASSUMED.match(text)
    if m:
        reason = m.group(1).strip()
        if len(reason) < MIN_REASON_CHARS:
            raise ValueError(f"assumption without a real reason: {text!r}")
        return Citation((), reason)
    raise ValueError(f"source {text!r} is neither '[key] note' (a key of docs/sources.md) nor 'assumption: reason'")


def readable(text: str) -> str:
    """A source string as a reader wants it: "Lambrecht & Skiera 2006: pay-per-use raises churn".

    An assumption reads "Assumption: <reason>"; a string that does not parse is returned unchanged.
    """
    try:
        c = parse(text)
    except ValueError:
        return text
    if c.is_assumption:
        return f"Assumption: {c.note}"
    return "; ".join(SOURCES[k].short for k in c.keys) + f": {c.note}"
