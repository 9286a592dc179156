"""``make compose-test``: run ``docker-compose.yml`` for real on a machine that cannot pull from Docker Hub.

Steps, each printed with its wall time:

1. a Docker engine: ``docker info``, else (as root) start ``dockerd`` and wait for it;
2. Docker Compose v2: ``docker compose``, else ``.tools/bin/docker-compose`` (built once from the Go module
   proxy through ``scripts/compose-plugin``; the same binary works standalone and as the CLI plugin);
3. local stand-ins for the images that cannot be pulled (``deploy/compose-test/``): a Debian bookworm base
   from ``debootstrap --variant=minbase`` + ``docker import`` carrying the host's CA bundle (so apt and pip
   inside builds trust the same certificates as the host), then Python 3.11, the Temporal CLI that ``make``
   builds, Prometheus and PostgreSQL from Debian packages; they replace the official images through
   ``deploy/compose-test/docker-compose.offline.yml`` (image names and the Dockerfile's ``PYTHON_IMAGE``);
4. ``docker compose build`` (the trader's image) and ``up -d`` with every host port moved to a free one;
5. waits until ``TraderWorkflow`` reports ``trading``; checks the Web UI answers; pauses and resumes the
   trader with the ``temporal`` CLI; checks Prometheus scrapes the worker and loaded the alert rules; checks
   the worker records into PostgreSQL;
6. ``docker compose down -v`` (also after a failure, once the last log lines of each service are printed).

Without a Docker engine it prints one line saying why and exits 0, or 1 with ``--require-docker``. ``--cold``
first removes every image and cache it would reuse (stand-ins, build cache, the compose binary with a fresh
Go build and module cache) to measure a first run.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workers.devserver import find_temporal_cli  # noqa: E402
from workers.metrics import free_port  # noqa: E402

TOOLS = ROOT / ".tools"
WORK = TOOLS / "compose-test"
LOCAL_COMPOSE = TOOLS / "bin" / "docker-compose"
PLUGIN_MODULE = ROOT / "scripts" / "compose-plugin"
COMPOSE_PACKAGE = "github.com/docker/compose/v5/cmd"
COMPOSE_VERSION = "v5.6.0"
STANDINS = ROOT / "deploy" / "compose-test"
OVERRIDE = STANDINS / "docker-compose.offline.yml"
PROJECT = "kalshi-trader-compose-test"
BASE_IMAGE = "kalshi-local/debian:bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
# (image, Dockerfile under deploy/compose-test/images, files its build context needs)
STANDIN_IMAGES = [
    ("kalshi-local/python:3.11", "python.Dockerfile", []),
    ("kalshi-local/temporal:1.5.1", "temporal.Dockerfile", ["temporal"]),
    ("kalshi-local/prometheus:2", "prometheus.Dockerfile", []),
    ("kalshi-local/postgres:15", "postgres.Dockerfile", ["postgres-entrypoint.sh"]),
]
APP_IMAGE = "kalshi-trader:local"
WORKFLOW_ID = "kalshi-trader-sim"
HOST_PORTS = [
    "TEMPORAL_PORT",
    "TEMPORAL_UI_PORT",
    "SIMULATOR_PORT",
    "POSTGRES_PORT",
    "WORKER_METRICS_PORT",
    "PROMETHEUS_PORT",
    "GRAFANA_PORT",
]


class Skip(Exception):
    """The machine cannot run Docker here: the message says why in one line."""


class StepFailed(Exception):
    """A step failed: the message says what was expected and what happened."""


@dataclass
class Run:
    """Timing of every step, printed as it goes and summarised at the end."""

    started: float = field(default_factory=time.monotonic)
    steps: list[tuple[str, float, str]] = field(default_factory=list)

    @contextmanager
    def step(self, name: str) -> Iterator[list[str]]:
        """Time ``name``; the body may append a short detail to the yielded list."""
        detail: list[str] = []
        t0 = time.monotonic()
        click.echo(f"[{t0 - self.started:7.1f} s] {name} ...", nl=False)
        try:
            yield detail
        except BaseException:
            click.echo(f" FAILED after {time.monotonic() - t0:.1f} s")
            raise
        took = time.monotonic() - t0
        self.steps.append((name, took, " ".join(detail)))
        click.echo(f" ok {took:.1f} s" + (f" ({' '.join(detail)})" if detail else ""))

    def summary(self) -> str:
        """A table of the steps and the total wall time."""
        width = max(len(n) for n, _, _ in self.steps) if self.steps else 10
        lines = [f"  {n:<{width}}  {t:7.1f} s  {d}".rstrip() for n, t, d in self.steps]
        lines.append(f"  {'total':<{width}}  {time.monotonic() - self.started:7.1f} s")
        return "\n".join(lines)


def sh(
    args: list[str], *, log: Path | None = None, env: dict[str, str] | None = None, check: bool = True, **kw: Any
) -> subprocess.CompletedProcess[str]:
    """Run ``args``; with ``log``, output goes to that file and its tail is quoted in the error.

    Raises:
        StepFailed: non-zero exit when ``check``.
    """
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("w") as out:
            proc = subprocess.run(args, stdout=out, stderr=subprocess.STDOUT, text=True, env=env, check=False, **kw)
        output = log.read_text(errors="replace")
    else:
        proc = subprocess.run(args, capture_output=True, text=True, env=env, check=False, **kw)
        output = (proc.stdout or "") + (proc.stderr or "")
    if check and proc.returncode != 0:
        tail = "\n".join(output.strip().splitlines()[-25:])
        where = f" (full log: {log})" if log else ""
        raise StepFailed(f"`{' '.join(args)}` exited {proc.returncode}{where}:\n{tail}")
    return proc


def retried(what: str, fn: Callable[[], Any], attempts: int = 3) -> Any:
    """Run ``fn`` (a step that downloads: Debian mirror, PyPI, Go module proxy) up to ``attempts`` times.

    A transient network failure is retried; docker's layer cache and Go's module cache keep what the failed
    attempt already fetched. The last failure propagates.
    """
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except StepFailed as err:
            if attempt == attempts:
                raise
            first = str(err).splitlines()[0][:160]
            click.echo(f" retrying {what} ({attempt}/{attempts - 1}): {first} ...", nl=False)
            time.sleep(5 * attempt)
    raise AssertionError("unreachable")


def wait_for(what: str, probe: Callable[[], Any], timeout_s: float, interval_s: float = 1.0) -> Any:
    """Call ``probe`` until it returns something truthy; :class:`StepFailed` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except (OSError, StepFailed, ValueError) as err:
            last = err
        if last and not isinstance(last, Exception):
            return last
        time.sleep(interval_s)
    raise StepFailed(f"timed out after {timeout_s:.0f} s waiting for {what}; last: {last}")


# ----------------------------------------------------------------------------------------------- prerequisites


def docker_engine(run: Run) -> subprocess.Popen[bytes] | None:
    """Make sure a Docker engine answers, starting ``dockerd`` as root when it is installed.

    Returns:
        The ``dockerd`` process this run started (stopped at the end unless ``--keep``), or None.

    Raises:
        Skip: no docker CLI, or no engine and none can be started here.
    """
    if shutil.which("docker") is None:
        raise Skip("no docker CLI on PATH (Debian: apt-get install docker.io)")
    if sh(["docker", "info"], check=False).returncode == 0:
        return None
    dockerd = shutil.which("dockerd")
    if dockerd is None:
        raise Skip("the Docker engine does not answer and dockerd is not installed (Debian: apt-get install docker.io)")
    if os.geteuid() != 0:
        raise Skip("the Docker engine does not answer and starting dockerd needs root")
    with run.step("start dockerd") as detail:
        WORK.mkdir(parents=True, exist_ok=True)
        log = WORK / "dockerd.log"
        with log.open("ab") as out:
            proc = subprocess.Popen([dockerd], stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

        def up() -> bool:
            if proc.poll() is not None:
                raise Skip(f"dockerd exited with {proc.returncode}: {log.read_text(errors='replace').strip()[-300:]}")
            return sh(["docker", "info"], check=False).returncode == 0

        try:
            wait_for("dockerd", up, timeout_s=60)
        except StepFailed as err:
            proc.terminate()
            raise Skip(f"dockerd did not answer within 60 s (log: {log})") from err
        detail.append(f"pid {proc.pid}, log {log.relative_to(ROOT)}")
    return proc


def compose_command(run: Run, cold: bool) -> list[str]:
    """``docker compose`` when the plugin is installed, else the locally built binary (built if needed).

    Raises:
        Skip: neither is available and there is no Go toolchain to build one.
    """
    if not cold and sh(["docker", "compose", "version"], check=False).returncode == 0:
        return ["docker", "compose"]
    if cold:
        LOCAL_COMPOSE.unlink(missing_ok=True)
    if not LOCAL_COMPOSE.is_file():
        go = shutil.which("go")
        if go is None:
            raise Skip("no Docker Compose v2 (`docker compose`) and no Go toolchain to build it")
        with run.step(f"build Docker Compose {COMPOSE_VERSION} (Go module proxy)") as detail:
            env = {**os.environ, "GOFLAGS": "-mod=readonly -buildvcs=false", "CGO_ENABLED": "0"}
            scratch = Path(tempfile.mkdtemp(prefix="compose-go-")) if cold else None
            if scratch is not None:  # a first build: no module or build cache
                env |= {"GOMODCACHE": str(scratch / "mod"), "GOCACHE": str(scratch / "build")}
            try:
                retried(
                    "the compose build",
                    lambda: sh(
                        [
                            go,
                            "build",
                            "-trimpath",
                            "-ldflags",
                            f"-s -w -X github.com/docker/compose/v5/internal.Version={COMPOSE_VERSION}",
                            "-o",
                            str(LOCAL_COMPOSE),
                            COMPOSE_PACKAGE,
                        ],
                        cwd=PLUGIN_MODULE,
                        env=env,
                        log=WORK / "logs" / "compose-build.log",
                    ),
                )
            finally:
                if scratch is not None:
                    sh(["chmod", "-R", "u+w", str(scratch)], check=False)
                    shutil.rmtree(scratch, ignore_errors=True)
            detail.append(str(LOCAL_COMPOSE.relative_to(ROOT)))
    return [str(LOCAL_COMPOSE)]


def image_exists(image: str) -> bool:
    """Whether the local engine has ``image``."""
    return sh(["docker", "image", "inspect", image], check=False).returncode == 0


def host_ca_bundle() -> Path:
    """The CA bundle the host's pip uses (``pip config``'s ``cert``, ``$PIP_CERT``, else the system bundle)."""
    system = "/etc/ssl/certs/ca-certificates.crt"
    for candidate in (os.environ.get("PIP_CERT"), os.environ.get("SSL_CERT_FILE"), system):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise Skip("no CA bundle found for apt and pip inside the image builds (set PIP_CERT)")


def base_image(run: Run) -> None:
    """``kalshi-local/debian:bookworm``: debootstrap minbase + the host CA bundle, imported into Docker.

    The image trusts the host's CA bundle (``SSL_CERT_FILE``, ``PIP_CERT``, ``REQUESTS_CA_BUNDLE`` and apt's
    ``CAInfo``) and refuses service starts during package installs (``policy-rc.d``), as official images do.
    """
    if image_exists(BASE_IMAGE):
        with run.step("base image: debootstrap bookworm minbase + docker import") as detail:
            detail.append(f"cached {BASE_IMAGE}")
        return
    debootstrap = shutil.which("debootstrap")
    if debootstrap is None:
        raise Skip("no local base image and no debootstrap to build one (Debian: apt-get install debootstrap)")
    if os.geteuid() != 0:
        raise Skip("debootstrap needs root to build the local base image")
    ca = host_ca_bundle()
    with run.step("base image: debootstrap bookworm minbase + docker import") as detail:
        rootfs = Path(tempfile.mkdtemp(prefix="kalshi-rootfs-"))

        def bootstrap() -> None:
            shutil.rmtree(rootfs, ignore_errors=True)
            rootfs.mkdir()
            sh(
                [debootstrap, "--variant=minbase", "bookworm", str(rootfs), DEBIAN_MIRROR],
                log=WORK / "logs" / "debootstrap.log",
            )

        try:
            retried("debootstrap", bootstrap)
            bundle = "/usr/local/share/host-ca/ca-bundle.pem"
            (rootfs / bundle.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ca, rootfs / bundle.lstrip("/"))
            (rootfs / "etc/apt/apt.conf.d/90host-ca").write_text(
                f'Acquire::https::CAInfo "{bundle}";\nAcquire::Retries "3";\n'
            )
            policy = rootfs / "usr/sbin/policy-rc.d"
            policy.write_text("#!/bin/sh\n# no service starts during image builds\nexit 101\n")
            policy.chmod(0o755)
            for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
                for f in (rootfs / cache).glob("*"):
                    if f.is_file():
                        f.unlink()
            tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
            changes = [f"ENV {k}={bundle}" for k in ("SSL_CERT_FILE", "PIP_CERT", "REQUESTS_CA_BUNDLE")]
            args = ["docker", "import"] + [a for c in changes for a in ("--change", c)] + ["-", BASE_IMAGE]
            imported = subprocess.run(args, stdin=tar.stdout, capture_output=True, text=True, check=False)
            tar.wait()
            if imported.returncode != 0 or tar.returncode != 0:
                raise StepFailed(f"docker import failed: {imported.stderr.strip()}")
        finally:
            shutil.rmtree(rootfs, ignore_errors=True)
        detail.append(f"CA bundle from {ca}")


def standin_images(run: Run, temporal_cli: Path) -> None:
    """Build the stand-ins of the official images (docker layer cache makes a second run quick)."""
    sources = {"temporal": temporal_cli, "postgres-entrypoint.sh": STANDINS / "images" / "postgres-entrypoint.sh"}
    for image, dockerfile, files in STANDIN_IMAGES:
        with run.step(f"stand-in image {image}") as detail:
            context = WORK / "context" / dockerfile.removesuffix(".Dockerfile")
            shutil.rmtree(context, ignore_errors=True)
            context.mkdir(parents=True)
            for name in files:
                shutil.copy2(sources[name], context / name)
            log = WORK / "logs" / f"{dockerfile}.log"
            args = [
                *("docker", "build", "-t", image, "--build-arg", f"BASE={BASE_IMAGE}"),
                *("-f", str(STANDINS / "images" / dockerfile), str(context)),
            ]
            retried(f"the {image} build", functools.partial(sh, args, log=log))
            cached = log.read_text(errors="replace").count("Using cache")
            detail.append(f"{cached} cached layers" if cached else "built")


# ------------------------------------------------------------------------------------------------- the stack


@dataclass
class Stack:
    """The compose project under test: its command, environment (free host ports) and the temporal CLI."""

    compose: list[str]
    env: dict[str, str]
    temporal_cli: Path

    def compose_args(self, *args: str) -> list[str]:
        """The compose command line for this project with the offline override."""
        return [
            *self.compose,
            "-p",
            PROJECT,
            "-f",
            str(ROOT / "docker-compose.yml"),
            "-f",
            str(OVERRIDE),
            *args,
        ]

    def run(self, *args: str, log: Path | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a compose subcommand."""
        return sh(self.compose_args(*args), env=self.env, log=log, check=check, cwd=ROOT)

    def port(self, name: str) -> int:
        """The host port published for ``name`` (one of :data:`HOST_PORTS`)."""
        return int(self.env[name])

    def temporal(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run the ``temporal`` CLI against the stack's frontend."""
        return sh([str(self.temporal_cli), *args, "--address", f"127.0.0.1:{self.port('TEMPORAL_PORT')}"])

    def status(self) -> dict[str, Any]:
        """The trader's ``status`` query answer."""
        out = self.temporal("workflow", "query", "-w", WORKFLOW_ID, "--name", "status", "-o", "json").stdout
        answer = json.loads(out)
        result = answer.get("queryResult", answer)
        return dict(result[0] if isinstance(result, list) else result)

    def wait_state(self, states: set[str], timeout_s: float) -> dict[str, Any]:
        """Poll ``status`` until its ``state`` is one of ``states``."""

        def probe() -> dict[str, Any] | None:
            st = self.status()
            return st if st.get("state") in states else None

        return dict(wait_for(f"the trader in state {sorted(states)}", probe, timeout_s=timeout_s))

    def http_get(self, port_name: str, path: str) -> tuple[int, str]:
        """``GET http://127.0.0.1:<port><path>`` -> (status, body)."""
        url = f"http://127.0.0.1:{self.port(port_name)}{path}"
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode(errors="replace")

    def prom_query(self, promql: str) -> list[dict[str, Any]]:
        """A Prometheus instant query's result vector."""
        _, body = self.http_get("PROMETHEUS_PORT", "/api/v1/query?" + urllib.parse.urlencode({"query": promql}))
        return list(json.loads(body)["data"]["result"])


def exercise(run: Run, stack: Stack) -> None:
    """Build, start, drive and check the stack (the caller tears it down)."""
    logs = WORK / "logs"
    with run.step("docker compose build (trader image)"):
        retried("the trader image build", lambda: stack.run("build", log=logs / "compose-build-app.log"))
    up_at = time.monotonic()
    with run.step("docker compose up -d"):
        stack.run("up", "-d", log=logs / "compose-up.log")
    with run.step("trader workflow trading") as detail:
        st = stack.wait_state({"trading"}, timeout_s=240)
        detail.append(f"{time.monotonic() - up_at:.1f} s after `up`, cycle {st.get('cycle')}, mode {st.get('mode')}")
    with run.step("Temporal Web UI answers") as detail:
        code, body = stack.http_get("TEMPORAL_UI_PORT", f"/namespaces/default/workflows/{WORKFLOW_ID}")
        if code != 200 or "<html" not in body.lower():
            raise StepFailed(f"Web UI answered {code}: {body[:200]}")
        detail.append(f"HTTP {code} on :{stack.port('TEMPORAL_UI_PORT')}")
    with run.step("pause with the temporal CLI") as detail:
        pause = '{"reason":"compose-test"}'
        stack.temporal("workflow", "signal", "-w", WORKFLOW_ID, "--name", "pause", "--input", pause)
        st = stack.wait_state({"paused"}, timeout_s=60)
        detail.append(f"pause_reason {st.get('pause_reason')!r}")
    with run.step("resume with the temporal CLI") as detail:
        stack.temporal("workflow", "signal", "-w", WORKFLOW_ID, "--name", "resume")
        st = stack.wait_state({"trading"}, timeout_s=120)
        detail.append(f"cycle {st.get('cycle')}")
    with run.step("Prometheus scrapes the worker") as detail:

        def scraped() -> list[dict[str, Any]] | None:
            up = stack.prom_query('up{job="kalshi-trader-worker"} == 1')
            cycles = stack.prom_query("kalshi_trader_cycles_total")
            return cycles if up and cycles else None

        cycles = wait_for("up == 1 and kalshi_trader_cycles_total in Prometheus", scraped, timeout_s=90, interval_s=3)
        _, rules = stack.http_get("PROMETHEUS_PORT", "/api/v1/rules")
        loaded = [r["name"] for g in json.loads(rules)["data"]["groups"] for r in g["rules"]]
        if not loaded:
            raise StepFailed("Prometheus loaded no alert rules")
        detail.append(f"kalshi_trader_cycles_total={cycles[0]['value'][1]}, {len(loaded)} alert rules")
    with run.step("worker records into PostgreSQL") as detail:
        sql = "select count(*) from calibration_report"

        def recorded() -> int:
            out = stack.run(
                "exec", "-T", "postgres", "psql", "-U", "trader", "-d", "recordings", "-tAc", sql, check=False
            )
            return int(out.stdout.strip() or 0) if out.returncode == 0 else 0

        rows = wait_for("calibration reports in PostgreSQL", recorded, timeout_s=60, interval_s=2)
        detail.append(f"{rows} calibration reports")


def free_ports() -> dict[str, str]:
    """A free loopback port for every published service, as the compose file's variables."""
    return {name: str(free_port()) for name in HOST_PORTS}


def cold_start(compose: list[str]) -> None:
    """Remove what a second run would reuse: the stand-in and trader images and the build cache."""
    for image in [BASE_IMAGE, APP_IMAGE] + [i for i, _, _ in STANDIN_IMAGES]:
        sh(["docker", "image", "rm", "-f", image], check=False)
    sh(["docker", "builder", "prune", "-af"], check=False)
    sh(["docker", "image", "prune", "-f"], check=False)


def stop_dockerd(proc: subprocess.Popen[bytes] | None) -> None:
    """Stop the ``dockerd`` this run started (images and build cache stay on disk for the next run)."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
    click.echo(f"compose-test: stopped the dockerd it started (pid {proc.pid})")


@click.command()
@click.option("--require-docker", is_flag=True, help="Exit 1 (not 0) when Docker cannot run here.")
@click.option("--cold", is_flag=True, help="Remove cached images, build cache and the compose binary first.")
@click.option(
    "--keep", is_flag=True, help="Leave the stack (and a dockerd it started) running at the end, even after a failure."
)
def main(require_docker: bool, cold: bool, keep: bool) -> None:
    """Prove docker-compose.yml offline: build stand-ins, start the stack, trade, pause/resume, scrape, tear down."""
    run = Run()
    click.echo(f"compose-test: {'cold' if cold else 'warm'} run of docker-compose.yml (project {PROJECT})")
    dockerd: subprocess.Popen[bytes] | None = None
    try:
        dockerd = docker_engine(run)
        compose = compose_command(run, cold)
        temporal_cli = find_temporal_cli()
        if temporal_cli is None:
            raise Skip("no temporal CLI (run `make temporal-cli` or set TEMPORAL_CLI)")
        if cold:
            with run.step("remove cached images and build cache"):
                cold_start(compose)
        base_image(run)
    except Skip as why:
        click.echo(f"compose-test: skipped: {why}")
        stop_dockerd(dockerd)
        sys.exit(1 if require_docker else 0)
    except StepFailed as err:
        click.echo(f"compose-test: FAILED: {err}")
        stop_dockerd(dockerd)
        sys.exit(1)
    stack = Stack(compose=compose, env={**os.environ, **free_ports()}, temporal_cli=temporal_cli)
    failed: StepFailed | None = None
    try:
        standin_images(run, temporal_cli)
        exercise(run, stack)
    except StepFailed as err:
        failed = err
        click.echo(f"compose-test: FAILED: {err}")
        click.echo("last log lines of each service:")
        click.echo(stack.run("logs", "--no-color", "--tail", "30", check=False).stdout)
    finally:
        if keep:
            click.echo(f"compose-test: left running: {' '.join(stack.compose_args('down', '-v'))} stops it")
        else:
            with run.step("docker compose down -v"):
                stack.run("down", "-v", "--remove-orphans", log=WORK / "logs" / "compose-down.log", check=False)
            stop_dockerd(dockerd)
    click.echo("compose-test: " + ("FAILED" if failed else "passed") + "\n" + run.summary())
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
