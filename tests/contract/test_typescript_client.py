"""A client generated from the contract: openapi-typescript reads the served OpenAPI document, linting it
with Redocly's strict rules (typescript/redocly.yaml), without a single warning, and a small client
written against the generated types (typescript/client.ts) compiles with `tsc --strict`.

The tools are pinned in typescript/package.json and package-lock.json and installed with `npm ci` into a
cache outside the repository (~/.cache/coachco2-contract/<lock digest>), reused while the lock is
unchanged. Without node and npm (or when npm cannot install the tools) the test is skipped, unless
COACHCO2_TEST_REQUIRE_NODE=1 (CI), where that fails."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.main import create_app
from app.settings import Settings

HERE = Path(__file__).resolve().parent / "typescript"
REQUIRE_NODE = os.environ.get("COACHCO2_TEST_REQUIRE_NODE") == "1"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "coachco2-contract"
TOOLS = ("openapi-typescript", "tsc")


def _digest() -> str:
    lock = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        lock.update((HERE / name).read_bytes())
    return lock.hexdigest()[:16]


def _installed(folder: Path) -> bool:
    return all((folder / "node_modules" / ".bin" / tool).exists() for tool in TOOLS)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="module")
def tools() -> Path:
    """The folder whose node_modules holds the pinned tools, installed once per lock file."""
    missing = [name for name in ("node", "npm") if shutil.which(name) is None]
    if missing:
        message = f"{' and '.join(missing)} not found: the TypeScript client of the contract was not checked"
        if REQUIRE_NODE:
            pytest.fail(message)
        pytest.skip(message)
    target = CACHE / _digest()
    if _installed(target):
        return target
    with _locked(CACHE / ".lock"):
        if not _installed(target):
            staging = CACHE / f"{target.name}.partial-{os.getpid()}"
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
            for name in ("package.json", "package-lock.json"):
                shutil.copy(HERE / name, staging / name)
            done = subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
                cwd=staging,
                capture_output=True,
                text=True,
                timeout=600,
            )
            if done.returncode != 0:
                shutil.rmtree(staging, ignore_errors=True)
                # Offline, say: a developer's run goes on without this check, CI's fails.
                message = f"npm ci could not install the pinned tools:\n{done.stdout}\n{done.stderr}"
                if REQUIRE_NODE:
                    pytest.fail(message)
                pytest.skip(message)
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
    return target


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("contract")
    # The document does not depend on the store: an app over a file that is never opened.
    return create_app(Settings(database_url=f"sqlite+aiosqlite:///{folder / 'unused.db'}")).openapi()


def generate(tools: Path, spec: dict[str, Any], folder: Path) -> tuple[bool, str]:
    """Run openapi-typescript on `spec` into folder/api.ts; whether it succeeded without a warning, and
    what it said."""
    (folder / "openapi.json").write_text(json.dumps(spec))
    shutil.copy(HERE / "redocly.yaml", folder / "redocly.yaml")
    done = subprocess.run(
        [str(tools / "node_modules" / ".bin" / "openapi-typescript"), "openapi.json", "--output", "api.ts",
         "--redocly", "redocly.yaml"],
        cwd=folder, capture_output=True, text=True, timeout=120, env={**os.environ, "NO_COLOR": "1"},
    )  # fmt: skip
    said = done.stdout + done.stderr
    # Redocly's problems are printed one a line, a warning with ⚠ and an error with ✘.
    clean = done.returncode == 0 and "⚠" not in said and "✘" not in said and (folder / "api.ts").exists()
    return clean, said


def compile_client(tools: Path, folder: Path) -> subprocess.CompletedProcess[str]:
    shutil.copy(HERE / "client.ts", folder / "client.ts")
    return subprocess.run(
        [str(tools / "node_modules" / ".bin" / "tsc"), "--strict", "--noEmit", "--target", "ES2022",
         "--module", "ES2022", "--moduleResolution", "bundler", "client.ts"],
        cwd=folder, capture_output=True, text=True, timeout=180,
    )  # fmt: skip


def test_openapi_typescript_reads_the_contract_cleanly_and_the_client_compiles(
    tools: Path, spec: dict[str, Any], tmp_path: Path
) -> None:
    clean, said = generate(tools, spec, tmp_path)
    assert clean, said
    generated = (tmp_path / "api.ts").read_text()
    assert '"trips-list": {' in generated
    assert "next_cursor: string | null;" in generated
    compiled = compile_client(tools, tmp_path)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr


def test_the_check_refuses_a_contract_with_a_warning(
    tools: Path, spec: dict[str, Any], tmp_path: Path
) -> None:
    # What clients stumbled on before: no servers, and an operation that states no security.
    health = json.loads(json.dumps(spec["paths"]["/health"]))
    del health["get"]["security"]
    broken = {
        "openapi": spec["openapi"],
        "info": spec["info"],
        "tags": [tag for tag in spec["tags"] if tag["name"] == "service"],
        "paths": {"/health": health},
        "components": {"schemas": {name: spec["components"]["schemas"][name] for name in ("HealthOut",)}},
    }
    clean, said = generate(tools, broken, tmp_path)
    assert not clean
    assert "Servers must be present" in said, said
    assert "Every operation should have security defined" in said, said
