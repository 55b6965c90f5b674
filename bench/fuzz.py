"""A long randomised run of the contract fuzzing: schemathesis draws requests from the served OpenAPI
document, for every operation, with a person's token and an operator's, against a real `coachco2 serve`,
and checks that no answer is a 5xx and that every answer matches its schema and media type.

The suite's own fuzzing (tests/test_contract_fuzz.py) is seeded and derandomised, so that CI draws the
same cases on every run; this one draws new cases every time (or those of `--seed`), many more of them,
and prints the seed, so that what it finds can be drawn again and become a test.

    .venv/bin/python bench/fuzz.py --examples 300 [--seed N] [--database sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import time
from typing import Any

import httpx
from _common import VENV_BIN, emit, fresh_store, log, machine, migrate, server

EXCLUDED = ("/dashboard", "/docs", "/redoc")
ENDING = {("DELETE", "/v1/me"), ("DELETE", "/v1/auth/tokens/current")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=300, help="cases drawn per operation")
    parser.add_argument("--seed", type=int, default=None, help="draw the cases of this seed again")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--max-minutes", type=float, default=30.0, help="stop drawing after this long")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    log(f"seed {seed}: run again with --seed {seed}")

    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as hypothesis_seed
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

    limits = {
        "COACHCO2_RATE_LIMIT_EXPORT_PER_HOUR": "1000000",
        "COACHCO2_RATE_LIMIT_IMPORT_PER_HOUR": "1000000",
    }
    with fresh_store(args.database, "fuzz") as store:
        migrate(store.url)
        env = {**os.environ, "DATABASE_URL": store.url}
        created = subprocess.run(
            [str(VENV_BIN / "coachco2"), "operator", "create", "fuzzer"],
            env=env,
            capture_output=True,
            text=True,
        )
        if created.returncode != 0:
            raise SystemExit(created.stderr)
        operator = created.stdout.strip()
        with server(store.url, worker=True, extra_env=limits) as base:
            person = httpx.post(f"{base}/v1/auth/register", json={}).json()["token"]
            api = schemathesis.openapi.from_url(f"{base}/openapi.json")
            checks = [not_a_server_error, response_schema_conformance, content_type_conformance]
            failures: list[dict[str, Any]] = []
            operations = cases = 0
            deadline = time.monotonic() + args.max_minutes * 60
            for result in api.get_all_operations():
                operation = result.ok()
                key = (operation.method.upper(), operation.path)
                if operation.path.startswith(EXCLUDED) or key in ENDING or time.monotonic() > deadline:
                    continue
                operations += 1
                token = operator if operation.path.startswith("/v1/operator") else person
                headers = {"Authorization": f"Bearer {token}"}
                drawn = 0

                @hypothesis_seed(seed)
                @given(case=operation.as_strategy())
                @settings(max_examples=args.examples, deadline=None, suppress_health_check=list(HealthCheck),
                          database=None)  # fmt: skip
                def exercise(case: Any) -> None:
                    nonlocal drawn
                    drawn += 1
                    # called within this iteration only: `operation` and `headers` are this iteration's
                    path = operation.path  # noqa: B023
                    if path.startswith(("/usercache", "/pipeline", "/timeline")) and isinstance(
                        case.body, dict
                    ):
                        case.body.setdefault("user", person)
                    case.call_and_validate(base_url=base, headers=headers, checks=checks)  # noqa: B023

                started = time.monotonic()
                try:
                    exercise()
                except (KeyboardInterrupt, SystemExit):
                    raise
                except BaseException as exc:
                    failures.append({"operation": " ".join(key), "failure": str(exc)[:2000]})
                    log(f"FAIL {' '.join(key)}: {str(exc)[:300]}")
                cases += drawn
                log(f"{' '.join(key)}: {drawn} cases in {time.monotonic() - started:.1f} s")
    emit({"bench": "fuzz", "seed": seed, "database": args.database, "operations": operations,
          "cases": cases, "failures": len(failures), "failed_operations": failures, "machine": machine()})  # fmt: skip


if __name__ == "__main__":
    main()
