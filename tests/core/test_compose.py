"""compose.yaml: the services it promises, and every setting it gives the service is one the service has.

Docker is not needed: the file is read as YAML and its `${VAR:-default}` references are filled as Compose
fills them; the settings it sets are then read by the service's own Settings.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from app.core.settings_errors import describe, variable
from app.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::(?P<how>[-?])(?P<word>[^}]*))?\}")
SETTINGS = {variable(name) for name in Settings.model_fields}


def interpolate(value: Any, given: dict[str, str]) -> Any:
    """A value with its `${VAR}`, `${VAR:-default}` and `${VAR:?message}` filled from ``given``."""
    if isinstance(value, dict):
        return {key: interpolate(item, given) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, given) for item in value]
    if not isinstance(value, str):
        return value

    def fill(match: re.Match[str]) -> str:
        found = given.get(match["name"], "")
        if found:
            return found
        if match["how"] == "?":
            raise LookupError(match["word"])
        return match["word"] or ""

    return REFERENCE.sub(fill, value)


def compose(given: dict[str, str]) -> dict[str, Any]:
    document = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return {key: value for key, value in interpolate(document, given).items() if not key.startswith("x-")}


def settings_of(service: dict[str, Any]) -> Settings:
    environment = {key: str(value) for key, value in service["environment"].items()}
    fields = {
        name: environment[variable(name)] for name in Settings.model_fields if variable(name) in environment
    }
    return Settings(_env_file=None, **fields)  # type: ignore[call-arg]


GIVEN = {
    "POSTGRES_PASSWORD": "s3cret",
    "COACHCO2_CONTROLLER_EMAIL": "dpo@agglo-larochelle.fr",
    "COACHCO2_PRIVACY_POLICY_URL": "https://www.agglo-larochelle.fr/coachco2/privacy",
}


def test_the_services_start_in_order_with_health_checks() -> None:
    services = compose(GIVEN)["services"]
    assert set(services) == {"db", "migrate", "api", "worker"}
    assert services["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    for name in ("api", "worker"):
        assert services[name]["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
        assert services[name]["restart"] == "unless-stopped"
    for name in ("db", "api", "worker"):
        assert services[name]["healthcheck"]["test"][0] == "CMD"
    # the application's three services are one image, built from the repository's Dockerfile
    assert (ROOT / "Dockerfile").is_file()
    assert {services[name]["build"] for name in ("migrate", "api", "worker")} == {"."}
    assert len({services[name]["image"] for name in ("migrate", "api", "worker")}) == 1
    assert services["migrate"]["command"] == ["coachco2", "migrate"]
    assert services["api"]["command"][:2] == ["coachco2", "serve"]
    assert services["worker"]["command"][:2] == ["coachco2", "worker"]


def test_the_api_leaves_the_pipeline_to_the_worker_and_the_checks_ask_the_right_ports() -> None:
    services = compose(GIVEN)["services"]
    assert settings_of(services["api"]).worker_in_process is False
    assert settings_of(services["worker"]).worker_in_process is False
    serve = services["api"]["command"]
    assert (
        f"127.0.0.1:{serve[serve.index('--port') + 1]}/health/ready"
        in services["api"]["healthcheck"]["test"][-1]
    )
    port = settings_of(services["worker"]).worker_metrics_port
    assert f"127.0.0.1:{port}/metrics" in services["worker"]["healthcheck"]["test"][-1]
    # the data that must outlive a container lives in named volumes
    volumes = compose(GIVEN)["volumes"]
    assert "pgdata:/var/lib/postgresql/data" in services["db"]["volumes"]
    folder = settings_of(services["api"]).import_dir
    mounted = [v.split(":") for v in services["api"]["volumes"]]
    assert any(name in volumes and folder.startswith(path) for name, path in mounted)


def test_every_setting_it_sets_is_a_real_setting_and_reaches_the_database() -> None:
    services = compose(GIVEN)["services"]
    for name in ("migrate", "api", "worker"):
        environment = services[name]["environment"]
        unknown = {key for key in environment if key.startswith("COACHCO2_") and key not in SETTINGS}
        assert unknown == set(), f"{name} sets what the service does not read: {unknown}"
        settings = settings_of(services[name])
        assert settings.environment == "production"
        assert settings.database_url == "postgresql+asyncpg://coachco2:s3cret@db:5432/coachco2"
    assert services["db"]["environment"]["POSTGRES_PASSWORD"] == "s3cret"


def test_left_as_they_are_the_placeholders_are_refused_by_name() -> None:
    services = compose({"POSTGRES_PASSWORD": "s3cret"})["services"]
    with pytest.raises(ValidationError) as refused:
        settings_of(services["api"])
    assert describe(refused.value) == [
        "coachco2: invalid setting COACHCO2_CONTROLLER_EMAIL: consent receipts must name a real contact",
        "coachco2: invalid setting COACHCO2_PRIVACY_POLICY_URL: consent receipts must link the real policy",
    ]


def test_without_a_database_password_compose_refuses_to_start() -> None:
    with pytest.raises(LookupError, match="POSTGRES_PASSWORD"):
        compose({})
