"""--cluster at something that is not a Dask scheduler is refused quickly (exit 2, one line, no
traceback from Dask or its client's finaliser), and a scheduler lost mid-run is said in words.

Each fake server is a socket listening before its thread starts (so the probe cannot come early)
and records that it was reached; nothing waits on a clock except the probe's own timeout."""

from __future__ import annotations

import re
import socket
import threading
import time

import pytest

from sim.cli import main
from sim.runs import executors
from sim.runs.options import RunOptions
from tests.conftest import BOUNDED_S, SCENARIOS

pytest.importorskip("distributed")

FAST = ["--replications", "1", "--workers", "1", "--quiet", "--no-plots", "--set", "run.months=2"]
# Refused at once, not after the client's own retries (it took 26 s, exit 1 and a traceback): the
# probe waits at most twice sim.runs.executors.CLUSTER_PROBE_S (3 s) for Dask's handshake, so the
# issue's 10 s holds by construction (3-9 s measured at load); the bound asserted here is the suite's
# generous one, so that a loaded machine cannot fail the test.
REFUSED_WITHIN_S = BOUNDED_S


class FakeServer:
    """Accepts connections on 127.0.0.1 and greets each with ``greeting`` (None: says nothing;
    b"": closes at once); ``reached`` is set at the first connection."""

    def __init__(self, greeting: bytes | None) -> None:
        self.greeting = greeting
        self.reached = threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)  # listening before anyone is told the port
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.reached.set()
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn: socket.socket) -> None:
        with conn:
            try:
                if self.greeting == b"":
                    return
                if self.greeting is not None:
                    conn.sendall(self.greeting)
                conn.settimeout(30)
                while conn.recv(65536):  # until the client hangs up
                    pass
            except OSError:
                pass

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.sock.close()


@pytest.fixture
def server(request):
    srv = FakeServer(request.param)
    yield srv
    srv.close()


def _refused(capsys, address, *needles):
    t = time.perf_counter()
    rc = main(["run", str(SCENARIOS / "smoke.toml"), "--out", "unused-out", *FAST, "--cluster", address])
    elapsed = time.perf_counter() - t
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "Traceback" not in err and "a bug" not in err and "Exception ignored" not in err, err
    for needle in needles:
        assert needle in err, (needle, err)
    assert elapsed < REFUSED_WITHIN_S, elapsed
    return err


@pytest.mark.parametrize(("server", "needle"), [
    (b"SSH-2.0-OpenSSH_9.6\r\n", "greets with b'SSH-2.0-'"),
    (b"220 mail.example.com ESMTP Postfix\r\n", "greets with b'220 mail'"),
    (b"", "closed the connection without a word"),
    (None, f"no Dask handshake within {executors.CLUSTER_PROBE_S:g} s"),
], indirect=["server"])
def test_a_tcp_server_that_is_not_dask_is_refused(server, capsys, tmp_path, monkeypatch, needle):
    monkeypatch.chdir(tmp_path)
    _refused(capsys, f"tcp://127.0.0.1:{server.port}", "not a Dask scheduler", needle)
    assert server.reached.is_set()
    assert not (tmp_path / "unused-out").exists()


@pytest.mark.parametrize("server", [b"SSH-2.0-OpenSSH_9.6\r\n", None], indirect=True)
def test_a_ws_address_at_a_server_that_is_not_dask_is_refused(server, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _refused(capsys, f"ws://127.0.0.1:{server.port}", "not a Dask scheduler")
    assert server.reached.is_set()


@pytest.mark.parametrize("server", [b"SSH-2.0-OpenSSH_9.6\r\n"], indirect=True)
def test_a_tls_address_without_certificates_is_refused(server, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _refused(capsys, f"tls://127.0.0.1:{server.port}", "needs TLS certificates", "tcp://")


def test_nothing_listening_is_refused(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # bound and released: nothing listens there
    _refused(capsys, f"tcp://127.0.0.1:{port}", "cannot connect to the Dask scheduler")


@pytest.fixture(scope="module")
def cluster():
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp://", host="127.0.0.1",
                      dashboard_address=None, worker_dashboard_address=None) as c:
        yield c


def test_a_worker_address_is_not_a_scheduler(cluster, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    worker = next(iter(cluster.scheduler.workers))
    _refused(capsys, worker, "a Dask Worker, not a scheduler")


def test_a_real_scheduler_passes_the_probe(cluster):
    executors.probe_scheduler(cluster.scheduler_address)


def test_a_scheduler_lost_mid_run_is_said_in_words():
    """The scheduler goes away after the first results (state: runs reported, not a timer)."""
    from distributed import LocalCluster

    from sim.params.scenario import load
    from sim.runs.experiment import run_scenario

    scenario = load(SCENARIOS / "smoke.toml", ["run.months=2", "run.replications=30"])
    c = LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp://", host="127.0.0.1",
                     dashboard_address=None, worker_dashboard_address=None)
    ex = executors.DaskExecutor(c.scheduler_address, timeout_s=2)

    def progress(done: int, total: int) -> None:
        if done == 3:
            c.close()

    try:
        with pytest.raises(executors.WorkersLost) as info:
            run_scenario(scenario, options=RunOptions(executor=ex, on_progress=progress))
    finally:
        ex.close()
        c.close()
    message = str(info.value)
    assert "was lost mid-run" in message and re.search(r"after \d+ of 90 runs", message) and "unfinished:" in message
    assert "Cancelled" not in message.split("(")[0]
