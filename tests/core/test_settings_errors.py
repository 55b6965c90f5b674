"""A refused setting stops `coachco2` with one line naming its environment variable, status 2, no traceback."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.core.settings_errors import describe, variable
from app.settings import Settings
from tests.support.servers import COACHCO2

PRODUCTION_PLACEHOLDERS = [
    "coachco2: invalid setting COACHCO2_CONTROLLER_EMAIL: consent receipts must name a real contact",
    "coachco2: invalid setting COACHCO2_PRIVACY_POLICY_URL: consent receipts must link the real policy",
]


def clean_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    """This process's environment without any of the service's settings, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COACHCO2_", "DATABASE_URL", "OTEL_"))}
    return {**env, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'never.db'}", **settings}


def run(tmp_path: Path, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    # in an empty folder, so that no .env file adds settings of its own
    return subprocess.run([COACHCO2, *args], env=clean_env(tmp_path, **settings), cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def refused(**settings: object) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None, **settings)  # type: ignore[call-arg]
    return describe(caught.value)


@pytest.mark.parametrize("command", [["serve", "--port", "1"], ["worker"], ["migrate"]])
def test_production_placeholders_stop_each_command_with_one_line_each(
    tmp_path: Path, command: list[str]
) -> None:
    done = run(tmp_path, *command, COACHCO2_ENVIRONMENT="production")
    assert done.returncode == 2
    assert done.stderr.splitlines() == PRODUCTION_PLACEHOLDERS
    assert done.stdout == ""
    assert not (tmp_path / "never.db").exists()  # refused before anything was touched


def test_several_bad_settings_are_all_named_and_no_value_is_repeated(tmp_path: Path) -> None:
    secret = "postgresql+asyncpg://coach:hunter2-secret@db/coachco2"
    done = run(tmp_path, "demo", DATABASE_URL=secret.replace("postgresql+asyncpg", "mysql"),
               COACHCO2_STATS_K="eleven", COACHCO2_TIMEZONE="Mars/Olympus_Mons")  # fmt: skip
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert [line.split(":")[1].strip() for line in lines] == [
        "invalid setting DATABASE_URL",
        "invalid setting COACHCO2_STATS_K",
        "invalid setting COACHCO2_TIMEZONE",
    ]
    assert "Traceback" not in done.stderr and "hunter2" not in done.stderr
    assert lines[1].endswith("input should be a valid integer, unable to parse string as an integer")
    assert "unknown time zone 'Mars/Olympus_Mons'" in lines[2]


def test_good_settings_pass_through_to_the_command(tmp_path: Path) -> None:
    done = run(tmp_path, "emissions", "sets")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("*") or "\n*" in done.stdout


def test_each_kind_of_refusal_is_one_line_naming_the_variable() -> None:
    assert refused(environment="production", controller_email="dpo@agglo.fr") == PRODUCTION_PLACEHOLDERS[1:]
    assert refused(environment="production", controller_email="dpo@agglo.fr", privacy_policy_url="https://agglo.fr/p",
                   cors_origins="*") == [
        "coachco2: invalid setting COACHCO2_CORS_ORIGINS: name the allowed origins"
    ]  # fmt: skip
    assert refused(log_format="xml") == [
        "coachco2: invalid setting COACHCO2_LOG_FORMAT: input should be 'json' or 'text'"
    ]
    assert refused(database_url="mysql://x") == [
        "coachco2: invalid setting DATABASE_URL: DATABASE_URL must be a sqlite+aiosqlite:// or postgresql+asyncpg:// URL"
    ]
    bbox, factor_set = refused(factor_set="nope", territory_bbox="1,2")
    assert bbox == (
        "coachco2: invalid setting COACHCO2_TERRITORY_BBOX: "
        "territory_bbox must be lon_min,lat_min,lon_max,lat_max (WGS 84)"
    )
    assert factor_set.startswith("coachco2: invalid setting COACHCO2_FACTOR_SET: unknown factor set 'nope'")


def test_every_setting_has_its_variable() -> None:
    assert variable("database_url") == "DATABASE_URL"
    assert variable("DATABASE_URL") == "DATABASE_URL"
    assert variable("stats_k") == "COACHCO2_STATS_K"
    for name in Settings.model_fields:
        assert variable(name).isupper() and " " not in variable(name)
