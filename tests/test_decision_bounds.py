"""The decision analysis stays within bounds: the Gaussian process of the EVPI is conditioned on a
seeded subsample above a size (memory does not grow with n^2) and says so, the PSA runner holds a
bounded chunk of parameter sets, and an EVPPI never exceeds the EVPI (clipped, and said)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from sim.decision import psa, voi
from sim.params.uncertainty import Uniform
from sim.runs.options import RunOptions
from tests.conftest import BOUNDED_S, ROOT

PARAMS = {f"p{i}": Uniform(0.0, 1.0) for i in range(3)}


def _noisy(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Two options; the second's gain a small wave in p0 under much noise (one-input fits overreach)."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, 3))
    return np.column_stack([np.zeros(n), 0.3 * np.sin(9 * x[:, 0]) + rng.normal(0, 1, n)]), x


@pytest.mark.parametrize("seed", range(0, 40, 3))
def test_no_evppi_exceeds_the_evpi(seed):
    nb, x = _noisy(seed, 40)
    found = psa.analyse(nb, x, PARAMS, ["a", "b"])
    assert (found.evppi["evppi_usd"] <= found.evpi).all()
    assert (found.evppi["share_of_evpi"].fillna(0) <= 1).all()


def test_a_clipped_evppi_is_said():
    nb, x = _noisy(14, 40)  # a sample where p0's own spline finds more than the process on all three
    unclipped = voi.value_of_information(voi.conditional_mean(nb, x[:, 0]).fitted)
    found = psa.analyse(nb, x, PARAMS, ["a", "b"])
    assert unclipped > found.evpi  # the case the clip exists for
    row = found.evppi.set_index("parameter").loc["p0"]
    assert row["evppi_usd"] == found.evpi and psa.CLIPPED in row["method"]
    assert any("p0" in n and psa.CLIPPED in n for n in found.notes)


def test_the_gaussian_process_is_conditioned_on_a_subsample_above_its_size():
    n = voi.GP_MAX_POINTS + 500
    rng = np.random.default_rng(5)
    x = rng.random((n, 3))
    nb = np.column_stack([np.zeros(n), x[:, 0] - 0.5 + rng.normal(0, 0.3, n)])
    fit = voi.conditional_mean(nb, x)
    assert fit.method == f"gp (seeded subsample of {voi.GP_MAX_POINTS} of {n} samples)"
    assert fit.fitted.shape == (n, 2) and np.isfinite(fit.fitted).all()
    assert np.array_equal(voi.subsample_rows(n), voi.subsample_rows(n))  # seeded: the same every time
    found = psa.analyse(nb, x, PARAMS, ["a", "b"])
    assert any("subsample" in note for note in found.notes)
    small = voi.conditional_mean(nb[:500], x[:500])
    assert small.method == "gp"


def test_evpi_memory_is_bounded_whatever_the_samples():
    """8,000 samples took 3.1 GB when the process was conditioned on all of them (12,000: over 6 GB)."""
    code = textwrap.dedent("""
        import resource
        import numpy as np
        from sim.decision import voi
        n = 12_000
        rng = np.random.default_rng(1)
        x = rng.random((n, 4))
        nb = np.column_stack([np.zeros(n), x[:, 0] - 0.5 + rng.normal(0, 0.5, n), 0.2 - x[:, 1]])
        voi.evppi(nb, x)
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          timeout=10 * BOUNDED_S)
    assert done.returncode == 0, done.stderr
    peak_mb = int(done.stdout.split()[-1])
    assert peak_mb < 1500, peak_mb  # the n x n kernel alone would be 1,150 MB, with its copies several GB


def test_chunked_runs_give_the_same_decision(monkeypatch):
    """Parameter sets are resolved and run a chunk at a time: the chunk size changes nothing."""
    from sim.params.scenario import load_text

    scenario = load_text(textwrap.dedent("""
        [run]
        months = 2
        seed = 4
        [customers]
        initial = 80
        [policies.flat]
        pricing.scheme = "flat"
        [policies.per_ticket]
        pricing.scheme = "per_ticket"
        [uncertainty]
        "policies.per_ticket.pricing.per_ticket_fee_usd" = { dist = "uniform", low = 0.0, high = 60.0 }
        "churn.switching_ease" = { dist = "uniform", low = 0.5, high = 2.0 }
    """), source="chunks")
    whole = psa.run_decision(scenario, samples=7, options=RunOptions(replications=2, workers=1))
    monkeypatch.setattr(psa, "CHUNK_POINTS", 3)
    chunked = psa.run_decision(scenario, samples=7, options=RunOptions(replications=2, workers=1))
    assert whole.psa.equals(chunked.psa) and whole.evpi == chunked.evpi


def test_out_of_memory_in_decide_names_the_samples(monkeypatch, capsys):
    """The advice names what decide holds (--samples), not the customers of one run only."""
    from sim.cli import decide, main

    def exhausted(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(decide, "run_decision", exhausted)
    assert main(["decide", str(ROOT / "scenarios" / "baseline.toml"), "--samples", "50000", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "out of memory" in err and "--samples" in err and "Traceback" not in err


def test_evppi_comes_with_its_monte_carlo_standard_error():
    """The bootstrap standard error of an EVPPI is about the spread of the EVPPI over independent
    PSA samples of the same size (within a factor of 3), the same every time (seeded), and NaN
    where a bootstrap is not feasible (a Gaussian process, or more samples than the cap)."""
    def sample(seed: int, n: int = 400) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((n, 2))
        return np.column_stack([np.zeros(n), 0.2 + x[:, 0] + 0.5 * x[:, 1]]), x

    spread = float(np.std([voi.evppi(*(lambda nb, x: (nb, x[:, 0]))(*sample(s))) for s in range(12)], ddof=1))
    nb, x = sample(100)
    se = voi.evppi_se(nb, x[:, 0])
    assert spread / 3 < se < 3 * spread
    assert voi.evppi_se(nb, x[:, 0]) == se
    assert np.isnan(voi.evppi_se(np.column_stack([nb, nb[:, 1]]), np.column_stack([x, x[:, 0]])))
    found = psa.analyse(*_noisy(3, 60), PARAMS, ["a", "b"])
    assert (found.evppi["evppi_se"] > 0).all()


def test_decide_prints_and_writes_the_evppi_uncertainty(tmp_path, capsys):
    import json

    from sim.cli import main

    path = tmp_path / "s.toml"
    path.write_text(textwrap.dedent("""
        [run]
        months = 2
        [customers]
        initial = 80
        [policies.flat]
        pricing.scheme = "flat"
        [policies.per_ticket]
        pricing.scheme = "per_ticket"
        [uncertainty]
        "policies.per_ticket.pricing.per_ticket_fee_usd" = { dist = "uniform", low = 0.0, high = 60.0 }
    """))
    assert main(["decide", str(path), "--samples", "12", "--workers", "1", "--no-plots", "--out",
                 str(tmp_path / "d")]) == 0
    assert "95% ±" in capsys.readouterr().out
    body = json.loads((tmp_path / "d" / "decision.json").read_text())
    assert set(body["evppi_se"]) == set(body["evppi"])
