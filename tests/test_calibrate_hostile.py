"""Calibration against hostile inputs (issue 16): newlines, quotes and any Unicode in names, sentinel and
absurd dates, odd separators and decimal marks, broken rows, files that are not regular UTF-8 files, nonsense
cohorts and outputs, and mutated files: a result or a one-line message, never a traceback or a setting."""

from __future__ import annotations

import pytest

from sim import calibrate as cal
from sim.cli import main
from sim.params.scenario import load
from sim.params.schema import Scenario
from tests.test_calibrate import GOOD_CUSTOMERS, GOOD_TICKETS, _files, _main

# ----------------------------------------------------------------------------- hostile inputs (issue 16)

ATTACK = "basic\nrun.replications = 10000\nrun.months = 240\n[policies.evil.pricing]\nper_hour_fee_usd = 9999"
HEADER = "customer_id,signup_date,cancel_date,plan,monthly_revenue_usd"


def _quoted(rows: list[tuple[str, ...]], header: str = HEADER, sep: str = ",") -> str:
    """A CSV text with every field quoted, so any text (newlines, quotes, separators) can go in."""
    def q(x: str) -> str:
        return '"' + x.replace('"', '""') + '"'
    return header.replace(",", sep) + "\n" + "".join(sep.join(q(x) for x in r) + "\n" for r in rows)


def _names_removed(scenario) -> dict:
    data = scenario.model_dump(mode="json")
    for seg in data["customers"]["segments"]:
        seg.pop("name")
    data["scenario"].pop("description")
    return data


def test_a_newline_in_a_quoted_field_cannot_write_a_setting(tmp_path, capsys):
    """The attack of issue 16: plan and channel names holding a newline and then settings. The written file
    must mean exactly what the same data with plain names means; the names must come back unchanged."""
    import tomllib

    pro = "pro\r\nrun.seed = 1\u2028run.months = 3"
    plans = {"a": ATTACK, "b": ATTACK, "c": pro}
    rows = [("a", "2024-01-05", "", plans["a"], "30"), ("b", "2024-01-10", "2024-03-12", plans["b"], "30"),
            ("c", "2024-02-01", "", plans["c"], "120")]
    lines = GOOD_TICKETS.strip().splitlines()
    tickets = lines[0] + ",channel\n" + "".join(ln + ',"mail\nrun.months = 240"\n' for ln in lines[1:])
    hostile = tmp_path / "hostile"
    hostile.mkdir()
    c, t = _files(hostile, _quoted(rows), tickets)
    out = hostile / "o.toml"
    rc = main(["calibrate", "--customers", str(c), "--tickets", str(t), "--out", str(out), "--quiet"])
    assert rc == 0, capsys.readouterr().err
    data = tomllib.loads(out.read_text(encoding="utf-8"))
    assert set(data) == {"scenario", "customers", "pricing", "help_seeking", "support", "satisfaction"}
    written = load(out)
    assert written.run == Scenario().run and not written.policies
    assert [s.name for s in written.customers.segments] == [ATTACK[:40], pro[:40]]
    plain = tmp_path / "plain"
    plain.mkdir()
    c2, t2 = _files(plain, _quoted([r[:3] + ({"a": "basic", "b": "basic", "c": "pro"}[r[0]], r[4]) for r in rows]),
                    GOOD_TICKETS)
    assert _names_removed(written) == _names_removed(cal.calibrate_files(customers=c2, tickets=t2).scenario)
    assert main(["validate", str(out)]) == 0


def test_any_unicode_round_trips(tmp_path):
    names = ["Pro 🚀 plan", "Básico ✓ \"quoted\" \\ back", "企業\ttab\x7fdel", "\U0001F468\u200D\U0001F469 family"]
    rows = [(f"c{i}", "2024-01-05", "", name, str(10 * (i + 1))) for i, name in enumerate(names)]
    c, t = _files(tmp_path, _quoted(rows), GOOD_TICKETS.replace(",a,", ",c0,").replace(",b,", ",c1,")
                  .replace(",c,", ",c2,"))
    result = cal.calibrate_files(customers=c, tickets=t, name="Scénario 🚀 \"x\"\n$5")
    out = cal.write_scenario(result, tmp_path / "u.toml")
    back = load(out)
    assert [s.name for s in back.customers.segments] == names and back == result.scenario
    assert back.scenario.name == "Scénario 🚀 \"x\"\n$5"


def test_sentinel_cancel_dates_mean_still_active(tmp_path):
    """9999-12-31 and other dates from 2100 on in cancel_date are 'never' markers: noted, the customer active;
    the result equals the export with those cells empty."""
    sentinel = GOOD_CUSTOMERS.replace("a,2024-01-05,,", "a,2024-01-05,9999-12-31,").replace(
        "c,2024-02-01,,", "c,2024-02-01,2300-01-01,")
    c, t = _files(tmp_path, sentinel)
    result = cal.calibrate_files(customers=c, tickets=t)
    assert any("2 cancel dates on or after 2100-01-01" in n and "'9999-12-31'" in n for n in result.notes)
    assert result.window["export_date"] == "2024-03-12"
    plain = tmp_path / "plain"
    plain.mkdir()
    c2, t2 = _files(plain)
    assert _names_removed(result.scenario) == _names_removed(cal.calibrate_files(customers=c2, tickets=t2).scenario)


@pytest.mark.parametrize(("customers", "tickets", "needles"), [
    (GOOD_CUSTOMERS.replace("b,2024-01-10,", "b,2300-01-10,"), GOOD_TICKETS,
     ["customers.csv: row 2 (line 3), column 'signup_date': expected a date from 1990-01-01", "'2300-01-10'"]),
    (GOOD_CUSTOMERS.replace("a,2024-01-05,,", "a,2024-01-05,1970-01-01,"), GOOD_TICKETS,
     ["column 'cancel_date': expected a date from 1990-01-01", "leave it empty", "'1970-01-01'"]),
    (GOOD_CUSTOMERS.replace("c,2024-02-01,", "c,2042-02-01,"), GOOD_TICKETS,
     ["row 3 (line 4), column 'signup_date': 2042-02-01 is more than 31 days after the last ticket activity"]),
    (GOOD_CUSTOMERS, GOOD_TICKETS.replace("4,a,2024-03-01T09:00:00,2024-03-01T09:30:00,2024-03-01T10:45:00",
                                          "4,a,2042-03-01T09:00:00,2042-03-01T09:30:00,2042-03-01T10:45:00"),
     ["tickets.csv: row 4 (line 5), column 'opened': 2042-03-01T09:00:00 lies more than a year after every other "
      "ticket", "--export-date"]),
    (GOOD_CUSTOMERS, GOOD_TICKETS.replace("1,a,2024-01-06T10:00:00", "1,a,2014-01-06T10:00:00"),
     ["row 1 (line 2), column 'opened': 2014-01-06T10:00:00 lies more than a year before every other ticket",
      "--observed-from"]),
    (GOOD_CUSTOMERS, GOOD_TICKETS.replace(",a,", ",x,").replace(",b,", ",y,").replace(",c,", ",z,"),
     ["tickets.csv: no ticket's customer id (column 'customer_id') matches a customer id in customers.csv",
      "issue rates would be 0"]),
])
def test_absurd_dates_and_unmatched_tickets_are_named(tmp_path, capsys, customers, tickets, needles):
    c, t = _files(tmp_path, customers, tickets)
    rc, err = _main(capsys, "--customers", str(c), "--tickets", str(t), "--out", str(tmp_path / "o.toml"))
    assert rc == 2 and all(n in err for n in needles), err
    # one line per problem, each naming the file
    assert all(f"{tmp_path}/" in ln for ln in err.strip().splitlines()) and not (tmp_path / "o.toml").exists()


def test_far_future_cancel_date_counts_as_active(tmp_path):
    c, t = _files(tmp_path, GOOD_CUSTOMERS.replace("a,2024-01-05,,", "a,2024-01-05,2090-06-30,"))
    result = cal.calibrate_files(customers=c, tickets=t)
    assert any("read as 'not cancelled by the export'" in n for n in result.notes)
    assert result.window["export_date"] == "2024-03-12"


def test_tickets_outside_paid_spans_only_are_an_error(tmp_path, capsys):
    late = GOOD_CUSTOMERS.replace("2024-01-05", "2024-03-05").replace("2024-01-10,2024-03-12", "2024-03-05,2024-03-12") \
        .replace("2024-02-01", "2024-03-05")
    c, t = _files(tmp_path, late)
    rc, err = _main(capsys, "--customers", str(c), "--tickets", str(t), "--out", str(tmp_path / "o.toml"))
    assert rc == 2 and "none of the 4 tickets of known customers" in err, err


@pytest.mark.parametrize("sep", [";", "\t"])
def test_semicolons_tabs_and_decimal_commas_are_read(tmp_path, sep):
    rows = [tuple(ln.split(",")) for ln in GOOD_CUSTOMERS.strip().splitlines()[1:]]
    euro = [r[:4] + (r[4] + ",50",) for r in rows]
    c, t = _files(tmp_path, _quoted(euro, sep=sep), GOOD_TICKETS.replace(",", sep))
    result = cal.calibrate_files(customers=c, tickets=t)
    assert [s.price.value for s in result.segments] == [30.5, 120.5]
    name = {";": "semicolon", "\t": "tab"}[sep]
    assert any(f"customers.csv read as {name}-separated" in n for n in result.notes)
    assert any("tickets.csv read as" in n for n in result.notes)
    assert any("read with decimal commas" in n for n in result.notes)


def test_decimal_commas_in_a_comma_file_and_mixed_marks_are_named(tmp_path, capsys):
    c, t = _files(tmp_path, GOOD_CUSTOMERS.replace(",pro,120", ',pro,"120,5"'))
    rc, err = _main(capsys, "--customers", str(c), "--tickets", str(t), "--out", str(tmp_path / "o.toml"))
    assert rc == 2 and "row 3 (line 4), column 'monthly_revenue_usd': expected a plain number with a decimal point" \
        in err and "'120,5'" in err, err
    mixed = "customer_id;signup_date;cancel_date;plan;monthly_revenue_usd\n" \
            "a;2024-01-05;;basic;30.5\nb;2024-01-10;2024-03-12;basic;30,5\nc;2024-02-01;;pro;120\n"
    c, t = _files(tmp_path, mixed)
    rc, err = _main(capsys, "--customers", str(c), "--tickets", str(t), "--out", str(tmp_path / "o.toml"))
    assert rc == 2 and "column 'monthly_revenue_usd'" in err and "'30,5'" in err, err


def test_rows_with_the_wrong_number_of_fields_are_named(tmp_path, capsys):
    c, t = _files(tmp_path, GOOD_CUSTOMERS + "d,2024-02-01,,pro\n")
    rc, err = _main(capsys, "--customers", str(c), "--tickets", str(t), "--out", str(tmp_path / "o.toml"))
    assert rc == 2 and "customers.csv: row 4: 4 fields where the header has 5" in err, err


def test_only_regular_utf8_files_are_read(tmp_path, capsys, monkeypatch):
    import os

    from sim.calibrate import csvfile

    c, t = _files(tmp_path)
    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    for path, needle in ((fifo, "not a regular file"), ("/dev/zero", "not a regular file"),
                         (tmp_path, "it is a folder"), (tmp_path / "nope.csv", "no such file")):
        rc, err = _main(capsys, "--customers", str(path), "--tickets", str(t), "--out", str(tmp_path / "o.toml"))
        assert rc == 2 and needle in err and len(err.strip().splitlines()) == 1, err
    latin = tmp_path / "latin.csv"
    latin.write_bytes(GOOD_CUSTOMERS.replace("basic", "b\u00e1sico").encode("latin-1"))
    rc, err = _main(capsys, "--customers", str(latin), "--tickets", str(t), "--out", str(tmp_path / "o.toml"))
    assert rc == 2 and "not UTF-8 text (byte 76, line 2)" in err, err
    monkeypatch.setattr(csvfile, "MAX_CSV_BYTES", 100)
    rc, err = _main(capsys, "--customers", str(c), "--tickets", str(t), "--out", str(tmp_path / "o.toml"))
    assert rc == 2 and "the limit is" in err, err


@pytest.mark.parametrize(("cohort", "needle"), [
    ("1e308,1", "expected a whole number of customers from 0 to 1,000,000,000, got '1e308'"),
    ("inf,1", "got 'inf'"), ("nan,1", "got 'nan'"), ("1000.5,3", "got '1000.5'"), ("-5,0", "got '-5'"),
    ("", "need at least two survivor counts"), ("1000," * 1002 + "1", "at most 1001"),
])
def test_nonsense_cohorts_are_refused(capsys, cohort, needle):
    rc, err = _main(capsys, f"--cohort={cohort}")
    assert rc == 2 and needle in err and len(err.strip().splitlines()) == 1, err


def test_outputs_that_are_folders_or_inputs_are_refused(tmp_path, capsys):
    c, t = _files(tmp_path)
    for out, needle in ((tmp_path, "is a folder"), ("", "is a folder"), (c, "is one of the input files")):
        rc, err = _main(capsys, "--customers", str(c), "--tickets", str(t), "--out", str(out))
        assert rc == 2 and needle in err, err
    assert c.read_text() == GOOD_CUSTOMERS


def test_no_traceback_from_the_real_command(tmp_path):
    """Hostile files through the real command, each in a process of its own: exit 2, one line per problem, no
    traceback (nor an abort at exit), and a FIFO does not block."""
    import os

    from tests.procs import supportsim

    cases = {
        "binary.csv": bytes(range(256)) * 4,
        "header_only.csv": b"customer_id,signup_date,cancel_date,plan,monthly_revenue_usd\n",
        "quote.csv": b'customer_id,signup_date,cancel_date,plan,monthly_revenue_usd\n"a,2024-01-05,,basic,30\n',
        "long_header.csv": b"x" * 70_000 + b"\n1\n",
        "nul.csv": GOOD_CUSTOMERS.replace("basic", "ba\x00sic").encode(),
        "huge_number.csv": GOOD_CUSTOMERS.replace(",30\n", ",1e400\n").encode(),
        "cr_lines.csv": GOOD_CUSTOMERS.replace("\n", "\r").encode(),
    }
    _, t = _files(tmp_path)
    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    for name, data in [*cases.items(), ("fifo.csv", None)]:
        path = tmp_path / name
        if data is not None:
            path.write_bytes(data)
        r = supportsim("calibrate", "--customers", str(path), "--tickets", str(t), "--out", str(tmp_path / "o.toml"))
        assert r.returncode in (0, 2) and "Traceback" not in r.stderr, (name, r.stderr)
        if r.returncode == 2:
            assert r.stderr.startswith(f"error: {path}: "), (name, r.stderr)


def test_arrow_holds_nothing_python_once_a_read_returns(tmp_path, monkeypatch):
    """Regression: `calibrate` on a header-only file printed its error and then sometimes died of
    SIGABRT ("terminate called without an active exception"): one of Arrow's threads dropped the
    reader last, and the Python file object it held needed the GIL while the interpreter was
    exiting. So Arrow is given a native file, never a Python object to read, and the one Python
    object it must hold (the bad-row handler) is released before every read returns: after a
    header-only file, bad rows, text that is not UTF-8 and a good file alike."""
    import gc
    import weakref

    import pyarrow as pa
    from pyarrow import csv as pv

    from sim.calibrate import ingest

    handed: list[tuple[str, weakref.ref]] = []
    real_open = pv.open_csv

    def spy(source, **kw):  # noqa: ANN001, ANN003
        handed.append((type(source).__name__, weakref.ref(kw["parse_options"].invalid_row_handler)))
        assert isinstance(source, pa.NativeFile) and not isinstance(source, pa.PythonFile), type(source)
        try:
            return real_open(source, **kw)
        finally:  # an error's traceback keeps this frame: it must not keep the handler alive too
            del source, kw

    monkeypatch.setattr(pv, "open_csv", spy)
    header = "customer_id,signup_date,cancel_date,plan,monthly_revenue_usd\n"
    cases = {"header_only.csv": header.encode(), "bad_rows.csv": (header + "a,2024-01-05,,basic\n").encode(),
             "latin1.csv": GOOD_CUSTOMERS.replace("basic", "b\xe4sic").encode("latin-1"),
             "good.csv": GOOD_CUSTOMERS.encode()}
    gc.disable()  # a release must come from the read itself, not from a collection the test happens to run
    try:
        for name, data in cases.items():
            path = tmp_path / name
            path.write_bytes(data)
            handed.clear()
            try:
                ingest.read_customers(path)
            except cal.CalibrationError:
                pass
            assert handed, name
            assert [kind for kind, handler in handed if handler() is not None] == [], name
    finally:
        gc.enable()


def test_mutated_files_give_a_result_or_a_message(tmp_path, capsys):
    """Seeded random edits of the good files (separators, quotes, line ends, sentinel dates, huge numbers,
    NUL, emoji, ...): every run ends with exit 0 or a message of ours (exit 2), never an exception and never
    the catch-all 'could not calibrate' line (which would mean a case nobody handled)."""
    import random

    rng = random.Random(16)
    tokens = [",", ";", "\t", "\n", "\r", '"', "9999-12-31", "2300-01-01", "1e308", "nan", "-1", "", "🚀",
              "\x00", "\u2028", "2024-13-45", "  ", "#", "[run]", "1,5", "inf", "2024-01-01T00:00:00+14:00"]
    for _ in range(40):
        texts = []
        for base in (GOOD_CUSTOMERS, GOOD_TICKETS):
            chars = list(base)
            for _ in range(rng.randint(1, 4)):
                pos = rng.randrange(len(chars))
                op = rng.random()
                if op < 0.4:
                    chars[pos] = rng.choice(tokens)
                elif op < 0.7:
                    chars.insert(pos, rng.choice(tokens))
                else:
                    del chars[pos]
            texts.append("".join(chars))
        c, t = _files(tmp_path, *texts)
        rc, err = _main(capsys, "--customers", str(c), "--tickets", str(t), "--out", str(tmp_path / "o.toml"))
        assert rc in (0, 2) and "could not calibrate" not in err, (texts, err)
