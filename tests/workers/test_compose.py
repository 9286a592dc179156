"""docker-compose.yml, its offline override and the Dockerfile, validated by parsing.

``make compose-test`` (scripts/compose_test.py) runs the stack for real where Docker can run; these checks
run everywhere and catch what would break ``docker compose up``: every service command is a real command of
our CLIs, every environment variable is one our settings read (and they load), the dev server registers the
search attributes the workflow upserts, Prometheus scrapes the worker's metrics port, Grafana is provisioned
from deploy/grafana, the worker records into the PostgreSQL service, the image copies every package the
project installs, and the offline override only swaps images for local stand-ins that exist.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml
from click.testing import CliRunner
from sqlalchemy.engine import make_url

from simulator.__main__ import main as sim_main
from workers.cli import cli
from workers.settings import Settings, load_settings
from workflows.names import SEARCH_ATTRIBUTES

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def test_services_and_dependencies() -> None:
    assert set(SERVICES) == {"temporal", "keys", "simulator", "postgres", "worker", "trader", "prometheus", "grafana"}
    for name, svc in SERVICES.items():
        for dep in svc.get("depends_on", {}):
            assert dep in SERVICES, f"{name} depends on unknown service {dep}"
    assert SERVICES["worker"]["depends_on"]["temporal"]["condition"] == "service_healthy"
    assert SERVICES["simulator"]["depends_on"]["keys"]["condition"] == "service_completed_successfully"
    assert SERVICES["worker"]["depends_on"]["postgres"]["condition"] == "service_healthy"


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


def test_prometheus_scrapes_the_worker_metrics_port_and_loads_the_alert_rules() -> None:
    prom = SERVICES["prometheus"]
    mounts = {v.split(":")[1]: ROOT / v.split(":")[0] for v in prom["volumes"] if v.startswith("./")}
    config_dir = mounts["/etc/prometheus"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prom["command"]
    content = yaml.safe_load((config_dir / "prometheus.yml").read_text())
    targets = content["scrape_configs"][0]["static_configs"][0]["targets"]
    port = SERVICES["worker"]["environment"]["METRICS_PORT"]
    assert targets == [f"worker:{port}"]
    assert content["scrape_configs"][0]["job_name"] == "kalshi-trader-worker"  # the alert rules select this job
    assert all((config_dir / f).is_file() for f in content["rule_files"])
    assert any(p.endswith(f":{port}") for p in SERVICES["worker"]["ports"])


def test_ports_are_published_on_loopback_only() -> None:
    for name, svc in SERVICES.items():
        for mapping in svc.get("ports", []):
            assert mapping.startswith("127.0.0.1:"), f"{name} publishes {mapping} beyond this machine"


def test_grafana_is_provisioned_with_the_dashboard() -> None:
    grafana = SERVICES["grafana"]
    mounts = {v.split(":")[1]: ROOT / v.split(":")[0] for v in grafana["volumes"] if v.startswith("./")}
    provisioning = mounts["/etc/grafana/provisioning"]
    [datasource] = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())["datasources"]
    assert datasource["url"] == "http://prometheus:9090" and datasource["uid"] == "prometheus"
    [provider] = yaml.safe_load((provisioning / "dashboards" / "kalshi-trader.yml").read_text())["providers"]
    dashboards = mounts[provider["options"]["path"]]
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (dashboards / Path(home).name).is_file()


def test_the_offline_override_only_swaps_images_for_local_stand_ins() -> None:
    override = yaml.safe_load((ROOT / "deploy" / "compose-test" / "docker-compose.offline.yml").read_text())
    assert set(override["services"]) <= set(SERVICES)
    images = ROOT / "deploy" / "compose-test" / "images"
    for name, svc in override["services"].items():
        assert set(svc) <= {"image", "pull_policy", "build", "profiles"}, name
        if "image" in svc:
            assert svc["image"].startswith("kalshi-local/") and svc["pull_policy"] == "never"
            stem = svc["image"].split("/")[1].split(":")[0]
            assert (images / f"{stem}.Dockerfile").is_file(), f"no stand-in Dockerfile for {svc['image']}"
        if "build" in svc:
            assert "build" in SERVICES[name]
            assert set(svc["build"]["args"]) == {"PYTHON_IMAGE"}
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim$", (ROOT / "Dockerfile").read_text(), re.M)


def test_the_build_context_leaves_secrets_and_local_state_out() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".env", ".state", ".venv", ".git", "*.pem"} <= ignored


def test_dockerfile_copies_every_installed_package() -> None:
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    copied = set(re.findall(r"^COPY (\w+) \1$", (ROOT / "Dockerfile").read_text(), re.M))
    assert {p.rstrip("*") for p in packages} == copied


def test_the_worker_records_into_the_postgres_service() -> None:
    url = make_url(SERVICES["worker"]["environment"]["DATABASE_URL"].replace("${POSTGRES_PASSWORD:-trader}", "pw"))
    pg = SERVICES["postgres"]["environment"]
    assert url.drivername == "postgresql+psycopg" and url.host == "postgres" and url.port == 5432
    assert (url.username, url.database) == (pg["POSTGRES_USER"], pg["POSTGRES_DB"])
    assert pg["POSTGRES_PASSWORD"] == "${POSTGRES_PASSWORD:-trader}"
    assert any(v.endswith(":/var/lib/postgresql/data") for v in SERVICES["postgres"]["volumes"])
