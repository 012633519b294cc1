"""What every benchmark shares: databases, the service as `geo-service serve`, wrk runs, ratios."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg.conninfo import make_conninfo

from geo_service.accounts import store
from geo_service.accounts.credentials import new_password
from geo_service.accounts.roles import Role
from geo_service.db import connect, create_database, migrate
from geo_service.ingest.load import database_is_empty, load_jurisdiction
from geo_service.sample import generate_sample
from geo_service.settings import REPO_ROOT, load_settings

SCALES = ("small", "large")
PORT = int(os.environ.get("BENCH_PORT", "8765"))  # one per concurrent run
BASE = f"http://127.0.0.1:{PORT}"
BENCH_DIR = REPO_ROOT / "var" / "bench"
WRK_CONNECTIONS = 16
# wrk cycles through a file of request paths, one a line, with the same headers on each
WRK_SCRIPT = """
local paths = {}
for line in io.lines(%(paths)s) do paths[#paths + 1] = line end
local headers = {}
%(headers)s
local i = 0
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i], headers)
end
"""


def parser(doc: str | None, *, defaults: bool = True) -> argparse.ArgumentParser:
    """A command line with the options every benchmark accepts (each uses those it needs):
    --scale, --seconds (wrk runs), --workers (service processes), --points (batch), --repeat.
    Without defaults, an option not given is absent from the answer (to pass on only those
    given)."""
    p = argparse.ArgumentParser(
        description=doc,
        formatter_class=argparse.RawTextHelpFormatter,
        argument_default=None if defaults else argparse.SUPPRESS,
    )

    def default(value: object) -> object:
        return value if defaults else argparse.SUPPRESS

    p.add_argument("--scale", choices=SCALES, default=default("small"), help="sample to use")
    p.add_argument("--seconds", type=int, default=default(15), help="length of the wrk runs")
    p.add_argument("--workers", type=int, default=default(1), help="service worker processes")
    p.add_argument("--points", type=int, default=default(1_000_000), help="points of the batch")
    p.add_argument("--repeat", type=int, default=default(3), help="timed runs (medians)")
    return p


def sample_file(scale: str) -> Path:
    """The sample GeoPackage of a scale under var/bench (written on first use, seed 1)."""
    path = BENCH_DIR / f"fengqiao_{scale}_seed1.gpkg"
    if not path.exists():
        path = generate_sample(BENCH_DIR, seed=1, scale=scale, progress=True)  # type: ignore[arg-type]
    return path


def sample_database(scale: str, *, name: str | None = None) -> str:
    """The URL of a database (geo_bench_SCALE unless named) holding the sample of that scale,
    migrated to the current schema; made and loaded on first use."""
    settings = load_settings()
    url = make_conninfo(settings.database_url, dbname=name or f"geo_bench_{scale}")
    create_database(url)
    migrate(url, settings.sql_dir)
    with connect(url) as conn:
        if database_is_empty(conn):
            path = sample_file(scale)
            print(f"loading {path} ...", flush=True)
            load_jurisdiction(conn, path, progress=True)
            conn.commit()
    return url


def bench_token(url: str, role: Role = Role.command_room) -> str:
    """An API token of the benchmark's own user of this role (bench_<role>, made as the
    operator on first use with a random password nobody learns): a new one each run, valid a
    day. The requests of a benchmark carry it as every signed-in request does."""
    name = f"bench_{role}"

    async def make() -> str:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            if name not in {u.name for u in await store.list_users(conn) if not u.removed}:
                await store.add_user(conn, name=name, role=role, password=new_password())
            return await store.issue_token(conn, name=name, days=1, label="benchmark")

    return asyncio.run(make())


def bearer(token: str) -> dict[str, str]:
    """The Authorization header of a token."""
    return {"Authorization": f"Bearer {token}"}


def machine_line(scale: str) -> str:
    """What the figures were measured on."""
    return f"machine: {os.cpu_count()} cores; data: {scale} sample"


def ensure_tool(command: str, package: str) -> str:
    """A command from a Debian package (wrk, ogr2ogr, ...), installed when missing."""
    if not shutil.which(command):
        subprocess.run(["apt-get", "install", "-y", "-qq", package], check=False)
    if not shutil.which(command):
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", package], check=True)
    return shutil.which(command) or command


def ensure_wrk() -> str:
    """wrk, the HTTP load generator."""
    return ensure_tool("wrk", "wrk")


def start_service(url: str, *, workers: int = 1) -> subprocess.Popen[bytes]:
    """The service, as `geo-service serve` runs it, on the benchmark port, running the same
    code as the benchmark (this checkout, whatever the installed package points at)."""
    path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": path}
    command = [str(Path(sys.executable).parent / "geo-service"), "serve", "--port", str(PORT)]
    # the service logs a line per request, as in production: into a file, since a pipe that
    # nobody reads would fill up and stop it
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    with (BENCH_DIR / "service.log").open("wb") as log:
        proc = subprocess.Popen(  # its own process group: stop() ends its workers too
            [*command, "--workers", str(workers)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )
    return wait_until_up(proc, f"{BASE}/healthz", "the service", log=BENCH_DIR / "service.log")


def wait_until_up(
    proc: subprocess.Popen[bytes], probe: str, name: str, *, log: Path | None = None
) -> subprocess.Popen[bytes]:
    """proc once probe answers 200; a server that exits or never answers is an error (with the
    end of its stderr, from the pipe or the log file)."""
    for _ in range(150):
        try:
            if httpx.get(probe, timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    proc.kill()
    err = (log.read_bytes() if log else proc.stderr.read() if proc.stderr else b"").decode()
    err = err[-2000:]
    raise RuntimeError(f"{name} did not start: {err}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """End a server this benchmark started, with its worker processes when it leads its own
    process group (start_service), and wait for it."""
    group = proc.poll() is None and os.getpgid(proc.pid) == proc.pid
    signal_it = (lambda sig: os.killpg(proc.pid, sig)) if group else proc.send_signal
    signal_it(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        signal_it(signal.SIGKILL)
        proc.wait()


def path_file(paths: Iterable[str]) -> Path:
    """A file of request paths (one a line) for wrk to cycle through."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.writelines(f"{p}\n" for p in paths)
        return Path(f.name)


def run_wrk(
    wrk: str,
    paths: Path,
    seconds: int,
    headers: dict[str, str] | None = None,
    *,
    lua: str = WRK_SCRIPT,
) -> dict[str, float]:
    """Requests/s, p50/p99 latency (ms) and non-2xx answers, 16 connections on loopback; every
    request with ``headers`` (a token: the script file is the user's alone, and removed). ``lua``
    is the wrk script (WRK_SCRIPT: GET each line of ``paths`` in turn), formatted with the
    file's name (%(paths)s) and the headers' assignments (%(headers)s)."""
    lines = "\n".join(
        f"headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in (headers or {}).items()
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua % {"paths": json.dumps(str(paths)), "headers": lines})
    command = [wrk, "-t2", f"-c{WRK_CONNECTIONS}", f"-d{seconds}s", "--latency", "-s"]
    out = subprocess.run(
        [*command, script.name, BASE], capture_output=True, text=True, check=True
    ).stdout
    os.unlink(script.name)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if rate is None:
        raise RuntimeError(f"wrk printed no rate:\n{out}")

    def pct(p: str) -> float:
        found = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        if found is None:
            raise RuntimeError(f"wrk printed no {p}th percentile:\n{out}")
        value, unit = found.groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    return {
        "rps": float(rate.group(1)),
        "requests": float(total.group(1)) if total else float(rate.group(1)) * seconds,
        "p50_ms": pct("50"),
        "p99_ms": pct("99"),
        "non_2xx": int(errors.group(1)) if errors else 0,
    }


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far; 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def service_pids(proc: subprocess.Popen[bytes]) -> list[int]:
    """The service's process and its children (uvicorn's workers)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == proc.pid:
            children.append(int(stat.parent.name))
    return [proc.pid, *children]


def backend_pids(url: str) -> list[int]:
    """PostgreSQL's backends serving the other connections to the database at url (the
    service's pool, while a benchmark runs)."""
    with connect(url) as conn:
        rows = conn.execute(
            """SELECT pid FROM pg_stat_activity WHERE datname = current_database()
               AND backend_type = 'client backend' AND pid <> pg_backend_pid()"""
        ).fetchall()
    return [r[0] for r in rows]


class CpuMeter:
    """CPU seconds used by the service's processes and by its PostgreSQL backends between
    start() and stop(): what a request costs whatever else the machine is doing."""

    def __init__(self, url: str, proc: subprocess.Popen[bytes]) -> None:
        self.url, self.proc = url, proc
        self.before: dict[int, float] = {}

    def _now(self) -> dict[int, float]:
        pids = [*service_pids(self.proc), *(-pid for pid in backend_pids(self.url))]
        return {pid: cpu_seconds(abs(pid)) for pid in pids}  # backends as negative keys

    def start(self) -> None:
        """Note the CPU used so far."""
        self.before = self._now()

    def stop(self) -> tuple[float, float]:
        """CPU seconds since start(): (service, PostgreSQL)."""
        used = {pid: t - self.before.get(pid, 0.0) for pid, t in self._now().items()}
        service = sum(t for pid, t in used.items() if pid > 0)
        return service, sum(t for pid, t in used.items() if pid < 0)


def print_wrk_table(results: dict[str, dict[str, float]], width: int = 34) -> None:
    """One line per wrk run: requests/s, p50, p99 and non-2xx answers."""
    print(f"{'endpoint':<{width}}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'non-2xx':>10}")
    for name, r in results.items():
        print(
            f"{name:<{width}}{r['rps']:>10.0f}{r['p50_ms']:>10.2f}{r['p99_ms']:>10.2f}"
            f"{r['non_2xx']:>10.0f}"
        )


def print_ratio(what: str, ratio: float, goal: str | None = None, met: bool | None = None) -> None:
    """A ratio line: what, the ratio, and the goal with its verdict when there is one."""
    tail = ""
    if goal is not None:
        tail = f" (goal {goal}" + ("" if met is None else f": {'met' if met else 'NOT met'}") + ")"
    print(f"ratio {what}: {ratio:.2f}{tail}")


def median_time(fn: Callable[[], Any], repeat: int) -> tuple[float, Any, float]:
    """Median seconds of ``repeat`` runs of fn after one warm-up, its last result, and the
    warm-up's seconds (cold caches)."""
    start = time.perf_counter()
    result = fn()
    first = time.perf_counter() - start
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result, first
