"""docker-compose.yml and the Dockerfile, validated by parsing (no Docker engine runs here).

Checks what would break ``docker compose up``: every service command is a real command of our CLIs,
every environment variable is one our settings read (and they load), the dev server registers the
search attributes the workflow upserts, Prometheus scrapes the worker's metrics port, and the image
copies every package the project installs.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml
from click.testing import CliRunner

from simulator.__main__ import main as sim_main
from workers.cli import cli
from workers.settings import Settings, load_settings
from workflows.names import SEARCH_ATTRIBUTES

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def test_services_and_dependencies() -> None:
    assert set(SERVICES) == {"temporal", "keys", "simulator", "worker", "trader", "prometheus"}
    for name, svc in SERVICES.items():
        for dep in svc.get("depends_on", {}):
            assert dep in SERVICES, f"{name} depends on unknown service {dep}"
    assert SERVICES["worker"]["depends_on"]["temporal"]["condition"] == "service_healthy"
    assert SERVICES["simulator"]["depends_on"]["keys"]["condition"] == "service_completed_successfully"


def test_commands_are_real_cli_commands() -> None:
    runner = CliRunner()
    for name in ("keys", "worker", "trader"):
        args = SERVICES[name]["command"]
        result = runner.invoke(cli, [args[0], "--help"])
        assert result.exit_code == 0, f"{name}: kalshi-trader {args[0]} is not a command: {result.output}"
        for flag in [a for a in args[1:] if a.startswith("--")]:
            assert flag in result.output, f"{name}: {flag} is not an option of {args[0]}"
    sim_args = SERVICES["simulator"]["command"]
    help_text = runner.invoke(sim_main, ["--help"]).output
    for flag in [a for a in sim_args if a.startswith("--")]:
        assert flag in help_text, f"simulator: unknown flag {flag}"
    assert SERVICES["simulator"]["entrypoint"] == ["kalshi-sim"]


def test_environment_is_read_by_the_settings(monkeypatch, tmp_path) -> None:
    env = SERVICES["worker"]["environment"]
    aliases = {f.alias for f in Settings.model_fields.values()}
    assert set(env) <= aliases, f"unknown variables: {set(env) - aliases}"
    monkeypatch.chdir(tmp_path)
    for k, v in env.items():
        monkeypatch.setenv(k, str(v))
    s = load_settings()
    assert s.endpoints().rest_base_url == "http://simulator:8765/trade-api/v2"
    assert s.temporal_address == "temporal:7233"


def test_dev_server_registers_the_search_attributes() -> None:
    cmd = SERVICES["temporal"]["command"]
    registered = {cmd[i + 1] for i, a in enumerate(cmd) if a == "--search-attribute"}
    assert registered == {f"{k.name}=Keyword" for k in SEARCH_ATTRIBUTES}


def test_prometheus_scrapes_the_worker_metrics_port() -> None:
    content = yaml.safe_load(COMPOSE["configs"]["prometheus"]["content"])
    targets = content["scrape_configs"][0]["static_configs"][0]["targets"]
    port = SERVICES["worker"]["environment"]["METRICS_PORT"]
    assert targets == [f"worker:{port}"]
    assert f"{port}:{port}" in SERVICES["worker"]["ports"]


def test_dockerfile_copies_every_installed_package() -> None:
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    copied = set(re.findall(r"^COPY (\w+) \1$", (ROOT / "Dockerfile").read_text(), re.M))
    assert {p.rstrip("*") for p in packages} == copied


def test_the_worker_records_into_a_writable_volume() -> None:
    env = SERVICES["worker"]["environment"]
    url = env["DATABASE_URL"]
    assert url.startswith("sqlite:////")
    path = url.removeprefix("sqlite:///")
    mounts = {v.split(":")[1]: v.split(":")[2:] for v in SERVICES["worker"]["volumes"]}
    directory = str(Path(path).parent)
    assert directory in mounts and mounts[directory] == [], "the recordings volume must be mounted read-write"
    assert directory in (ROOT / "Dockerfile").read_text(), "the image creates it owned by the runtime user"
