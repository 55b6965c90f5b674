"""The `coachco2` command: serve the API, migrate the database, manage operator accounts, the
territory's transit networks, its monthly publications and the OpenPATH app's opcodes."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import signal
import sys
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import TypeVar

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app import __version__
from app.accounts import repository as accounts
from app.core.db import Database
from app.core.logs import configure as configure_logs
from app.core.migrate import upgrade
from app.core.schemas import rfc3339
from app.core.settings_errors import describe as describe_settings_errors
from app.openpath.auth import check_name, issue_opcodes, revoke_opcode
from app.settings import get_settings
from app.transit import FEED_NAME, GtfsError, read_gtfs
from app.transit import repository as transit

T = TypeVar("T")


def _migrate() -> None:
    upgrade(get_settings().database_url)


def _in_session(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one session on the configured database and commit it (from synchronous code)."""

    async def run() -> T:
        db = Database(get_settings())
        try:
            async with db.session() as session:
                result = await work(session)
                await session.commit()
                return result
        finally:
            await db.dispose()

    return asyncio.run(run())


def cmd_migrate(_: argparse.Namespace) -> int:
    _migrate()
    print("database is at the latest schema")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    _migrate()
    settings = get_settings()
    configure_logs(settings.log_format)
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        # forwarded headers are believed only from the configured proxies (COACHCO2_TRUSTED_PROXIES)
        proxy_headers=bool(settings.trusted_proxy_list),
        forwarded_allow_ips=settings.trusted_proxy_list or [],
        log_level=args.log_level,
        log_config=None,
        access_log=False,
    )
    return 0


def cmd_operator_create(args: argparse.Namespace) -> int:
    name = args.name.strip()
    if not 1 <= len(name) <= 100:
        print("error: NAME must be 1 to 100 characters", file=sys.stderr)
        return 2
    _migrate()
    try:
        _, secret = _in_session(lambda session: accounts.create_operator(session, name, args.role))
    except IntegrityError:
        print(f"error: an operator named {name!r} already exists", file=sys.stderr)
        return 1
    print(
        f"operator {name!r} created with the role {args.role}. Its token, shown this once (only its hash "
        "is kept):",
        file=sys.stderr,
    )
    print(secret)
    return 0


def cmd_operator_list(_: argparse.Namespace) -> int:
    _migrate()
    for op, last in _in_session(accounts.list_operators):
        print(f"{op.name}\t{op.role}\tcreated {rfc3339(op.created_at)}\tlast used {rfc3339(last) or 'never'}")
    return 0


async def _operator_role(session: AsyncSession, name: str, role: str) -> bool:
    operator = await accounts.find_operator(session, name)
    if operator is None:
        return False
    await accounts.set_operator_role(session, operator.id, role)
    await accounts.record_action(session, None, "operator.role", name, {"role": role})
    return True


def cmd_operator_role(args: argparse.Namespace) -> int:
    _migrate()
    if not _in_session(lambda session: _operator_role(session, args.name, args.role)):
        print(f"error: no operator named {args.name!r}", file=sys.stderr)
        return 1
    print(f"operator {args.name!r} now has the role {args.role}")
    return 0


async def _operator_token(session: AsyncSession, name: str) -> str | None:
    operator = await accounts.find_operator(session, name)
    return None if operator is None else await accounts.issue_operator_token(session, operator)


def cmd_operator_token(args: argparse.Namespace) -> int:
    _migrate()
    secret = _in_session(lambda session: _operator_token(session, args.name))
    if secret is None:
        print(f"error: no operator named {args.name!r}", file=sys.stderr)
        return 1
    print(
        f"a new token for operator {args.name!r}, shown this once (only its hash is kept):", file=sys.stderr
    )
    print(secret)
    return 0


async def _operator_revoke(session: AsyncSession, name: str) -> int | None:
    operator = await accounts.find_operator(session, name)
    return None if operator is None else await accounts.revoke_operator_tokens(session, operator.id)


def cmd_operator_revoke(args: argparse.Namespace) -> int:
    _migrate()
    count = _in_session(lambda session: _operator_revoke(session, args.name))
    if count is None:
        print(f"error: no operator named {args.name!r}", file=sys.stderr)
        return 1
    print(f"revoked {count} token(s) of operator {args.name!r}")
    return 0


async def _reprocess(session: AsyncSession, user: str | None, since_ms: int) -> int:
    from app.pipeline.repository import request_reprocess
    from app.selfdata.repository import log_access

    marked = await request_reprocess(session, [uuid.UUID(user)] if user else None, since_ms)
    await log_access(
        session,
        marked,
        actor="administrator",
        action="reprocess",
        reason="trips built again from the stored points (the modes you corrected are kept)",
    )
    return len(marked)


def cmd_reprocess(args: argparse.Namespace) -> int:
    """Mark people's points for the workers to build their trips again."""
    since_ms = 0
    if args.since:
        try:
            since = datetime.fromisoformat(args.since)
        except ValueError:
            print("error: --since must be a date or an RFC 3339 date-time", file=sys.stderr)
            return 2
        since_ms = round((since if since.tzinfo else since.replace(tzinfo=UTC)).timestamp() * 1000)
    if args.user:
        try:
            uuid.UUID(args.user)
        except ValueError:
            print("error: --user must be a user id (a UUID)", file=sys.stderr)
            return 2
    _migrate()
    count = _in_session(lambda session: _reprocess(session, args.user, since_ms))
    print(f"{count} people's trips will be built again by the workers")
    return 0


def cmd_transit_publish(args: argparse.Namespace) -> int:
    if not FEED_NAME.match(args.name):
        print("error: NAME must be 1 to 40 lower-case letters, digits and dashes", file=sys.stderr)
        return 2
    try:
        network = read_gtfs(args.file)
    except GtfsError as exc:
        print(f"error: {args.file}: {exc}", file=sys.stderr)
        return 1
    _migrate()

    async def publish(session: AsyncSession) -> tuple[object, bool] | None:
        stored = await transit.replace_feed(session, args.name, network)
        if stored is not None:
            action = "transit_feed.replace" if stored[1] else "transit_feed.publish"
            detail = {"stops": len(network.stops), "routes": network.routes}
            await accounts.record_action(session, None, action, args.name, detail)
        return stored

    stored = _in_session(publish)
    if stored is None:
        print(f"error: another publication of {args.name!r} was under way; run this again", file=sys.stderr)
        return 1
    verb = "replaced" if stored[1] else "published"
    print(f"{verb} transit feed {args.name!r}: {len(network.stops)} stops, {network.routes} lines")
    return 0


def cmd_transit_list(_: argparse.Namespace) -> int:
    _migrate()
    for feed in _in_session(transit.list_feeds):
        print(f"{feed.name}\t{feed.stops} stops\t{feed.routes} lines\tpublished {rfc3339(feed.created_at)}")
    return 0


def cmd_transit_withdraw(args: argparse.Namespace) -> int:
    _migrate()

    async def withdraw(session: AsyncSession) -> bool:
        if not await transit.delete_feed(session, args.name):
            return False
        await accounts.record_action(session, None, "transit_feed.withdraw", args.name)
        return True

    if not _in_session(withdraw):
        print(f"error: no transit feed named {args.name!r}", file=sys.stderr)
        return 1
    print(f"withdrew transit feed {args.name!r}")
    return 0


async def _worker_loop(index: int = 0) -> None:
    from app.core import offload
    from app.core.metrics import Metrics, serve_metrics
    from app.core.tracing import provider_from_settings, tracer_of
    from app.pipeline.worker import PipelineWorker

    settings = get_settings()
    db = Database(settings)
    worker = PipelineWorker.from_settings(db, settings)
    # its own metrics (the Nth process of `--processes` on the port after the N-1th's) and traces
    provider = provider_from_settings(settings)
    worker.metrics, worker.tracer = Metrics(db), tracer_of(provider)
    port = settings.worker_metrics_port
    metrics_server = await serve_metrics(worker.metrics, settings, port + index) if port else None
    if settings.gc_tuning:
        from app.core.gctuning import tune_for_serving

        tune_for_serving()
    # SIGTERM through the event loop (its wake-up file descriptor): the loop stops at once, whichever
    # thread the signal reaches (the worker-process pool's threads among them)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    running = asyncio.create_task(worker.run_forever())
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (running, stopping):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        if metrics_server is not None:
            await metrics_server.stop()
        await db.dispose()
        offload.shutdown()
        if provider is not None:
            provider.shutdown()


def _stop_on_sigterm() -> None:
    def _raise(_signum: int, _frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _raise)


def _worker_process(index: int = 0) -> None:
    _stop_on_sigterm()
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        asyncio.run(_worker_loop(index))


def cmd_worker(args: argparse.Namespace) -> int:
    """Run pipeline workers alone (with COACHCO2_WORKER_IN_PROCESS=false on the API processes)."""
    configure_logs(get_settings().log_format)
    _migrate()
    if args.processes == 1:
        _worker_process()
        return 0
    children = [multiprocessing.Process(target=_worker_process, args=(i,)) for i in range(args.processes)]
    for child in children:
        child.start()
    _stop_on_sigterm()
    try:
        for child in children:
            child.join()
    except (KeyboardInterrupt, SystemExit):
        # A worker stopped mid-person loses nothing: its lease expires and another worker redoes it.
        for child in children:
            child.terminate()
        for child in children:
            child.join(timeout=10)
    return 0


async def _recompute(user: str | None) -> tuple[int, int]:
    from zoneinfo import ZoneInfo

    from app.footprint.service import recompute_user
    from app.selfdata.repository import everyone, log_access
    from app.trips.service import trips_changed

    settings = get_settings()
    db = Database(settings)
    people = legs = 0
    try:
        async with db.session() as session:
            ids = [uuid.UUID(user)] if user else await everyone(session)
        for user_id in ids:
            async with db.session() as session:
                legs += await recompute_user(session, settings.emission_policy, user_id)
                await trips_changed(session, user_id, ZoneInfo(settings.timezone))
                await log_access(
                    session,
                    [user_id],
                    actor="administrator",
                    action="recompute",
                    reason=f"emission figures recomputed with {settings.emission_policy.label}",
                )
                await session.commit()
            people += 1
    finally:
        await db.dispose()
    return people, legs


def cmd_emissions_recompute(args: argparse.Namespace) -> int:
    """Recompute stored figures with the factor set, components and territory factors in force now."""
    _migrate()
    settings = get_settings()
    people, legs = asyncio.run(_recompute(args.user))
    print(f"recomputed {legs} legs of {people} people with {settings.emission_policy.label}")
    return 0


def cmd_emissions_sets(_: argparse.Namespace) -> int:
    from app.emissions import FACTOR_SETS

    current = get_settings().factor_set
    for factor_set in FACTOR_SETS.values():
        mark = "*" if factor_set.id == current else " "
        name = f"{factor_set.name}, version {factor_set.version}"
        print(f"{mark} {factor_set.id}\t{name}: {factor_set.description}")
    return 0


def cmd_purge(_: argparse.Namespace) -> int:
    """Delete raw points past each person's retention (the worker also does this about once an hour)."""
    import time

    from app.selfdata.retention import purge_all

    _migrate()

    async def run() -> tuple[int, int]:
        db = Database(get_settings())
        try:
            result = await purge_all(db, int(time.time() * 1000))
            return result.people, result.points
        finally:
            await db.dispose()

    people, points = asyncio.run(run())
    print(f"purged {points} points of {people} people")
    return 0


def cmd_publications_publish(_: argparse.Namespace) -> int:
    """Make the territory's monthly publications that are due now (the worker does it about hourly)."""
    from app.models import Publication, ZoneSet
    from app.statistics.publications import month_label, publish_due

    _migrate()
    settings = get_settings()

    def show(zs: ZoneSet, pub: Publication) -> None:
        summary = pub.body["summary"]
        print(
            f"published {zs.name} {month_label(pub.month)}: {summary['cells_published']} cells published, "
            f"{summary['cells_suppressed']} suppressed"
        )

    async def run() -> int:
        db = Database(settings)
        try:
            return await publish_due(db, settings, report=show)
        finally:
            await db.dispose()

    made = asyncio.run(run())
    print(f"{made} publication(s) made" if made else "no publication was due")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    """Import a history file for a person, as `POST /v1/me/imports` does, with a progress bar."""
    from pathlib import Path

    from app.imports import repository as imports_store
    from app.imports.parsers import ImportFormatError
    from app.imports.progress import ProgressBar
    from app.imports.service import Checked, alive, check, store_file
    from app.models import Import, utcnow
    from app.selfdata import repository as people

    path = Path(args.file)
    if not path.is_file():
        print(f"error: no file at {path}", file=sys.stderr)
        return 2
    try:
        user_id = uuid.UUID(args.user)
    except ValueError:
        print("error: --user takes a user id (a UUID)", file=sys.stderr)
        return 2
    _migrate()
    size = path.stat().st_size

    async def run() -> int:
        db = Database(get_settings())
        try:
            async with db.session() as session:
                if await people.user(session, user_id) is None:
                    print(f"error: no person with id {user_id}", file=sys.stderr)
                    return 1
                row = Import(
                    user_id=user_id,
                    status="checking",
                    filename=path.name[:255],
                    size_bytes=size,
                )
                await imports_store.add(session, row)
                await session.commit()
            try:
                async with alive(db, user_id, row.id):
                    checking = ProgressBar("checking")
                    checked: Checked = await asyncio.to_thread(check, path, None, checking)
                    checking.finish()
                    async with db.session() as session:
                        await imports_store.heartbeat(
                            session,
                            user_id,
                            row.id,
                            status="storing",
                            format=checked.format,
                            points_read=checked.points,
                        )
                        await session.commit()
                    storing = ProgressBar("storing ")
                    accepted, activities = await store_file(db, user_id, row.id, path, storing)
                    storing.finish()
            except ImportFormatError as exc:
                sys.stderr.write("\n")
                async with db.session() as session:
                    await imports_store.heartbeat(
                        session, user_id, row.id, status="failed", error=exc.message, finished_at=utcnow()
                    )
                    await session.commit()
                print(f"error: {exc.message}; nothing was stored", file=sys.stderr)
                return 1
            async with db.session() as session:
                await imports_store.heartbeat(
                    session,
                    user_id,
                    row.id,
                    status="done",
                    finished_at=utcnow(),
                    duplicates=checked.points - accepted,
                )
                await session.commit()
            print(
                f"imported {checked.format}: {checked.points} points read, {accepted} new, "
                f"{checked.points - accepted} already held, {activities} activities"
            )
            return 0
        finally:
            await db.dispose()

    return asyncio.run(run())


def cmd_demo(args: argparse.Namespace) -> int:
    """Fill the store with simulated residents of La Rochelle, through the real pipeline."""
    from app.demo import DEMO_OPERATOR, run_demo

    if not (1 <= args.users <= 5000 and 1 <= args.days <= 366):
        print("error: --users takes 1 to 5000 and --days 1 to 366", file=sys.stderr)
        return 2
    _migrate()
    settings = get_settings()

    async def run() -> int:
        db = Database(settings)
        try:
            result = await run_demo(db, settings, args.users, args.days, seed=args.seed)
        finally:
            await db.dispose()
        print(f"{result.people} simulated residents, {result.points} points, processed into trips")
        if result.operator_created:
            print(f"operator {DEMO_OPERATOR!r} created; its token, to sign in at /dashboard (shown once):",
                  file=sys.stderr)  # fmt: skip
        else:
            print(f"operator {DEMO_OPERATOR!r} was there from an earlier run: a new token for it, to sign in at "
                  f"/dashboard (shown once; its earlier tokens stay valid until `coachco2 operator revoke "
                  f"{DEMO_OPERATOR}`):", file=sys.stderr)  # fmt: skip
        print(result.operator_token)  # the last line: the token alone
        return 0

    return asyncio.run(run())


def cmd_openpath_opcodes(args: argparse.Namespace) -> int:
    study = args.study or get_settings().openpath_study
    try:
        check_name(study, "study")
        check_name(args.subgroup, "subgroup")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not 1 <= args.count <= 100_000:
        print("error: --count must be 1 to 100000", file=sys.stderr)
        return 2
    if study != get_settings().openpath_study:
        print(
            f"note: this server serves the study {get_settings().openpath_study!r} "
            "(COACHCO2_OPENPATH_STUDY); these opcodes name another one",
            file=sys.stderr,
        )
    _migrate()
    codes = _in_session(lambda session: issue_opcodes(session, study, args.subgroup, args.count))
    print(f"{len(codes)} opcode(s) of {study}/{args.subgroup}, shown this once (only their hash is kept):",
          file=sys.stderr)  # fmt: skip
    for code in codes:
        print(code)
    return 0


def cmd_openpath_revoke(args: argparse.Namespace) -> int:
    _migrate()
    if not _in_session(lambda session: revoke_opcode(session, args.opcode.strip())):
        print("error: no live opcode like that here", file=sys.stderr)
        return 1
    print("opcode revoked: the phone is signed out (its data stays, the person's to export or erase)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="coachco2",
        description="Coach CO2 backend. The database comes from DATABASE_URL (default: SQLite in ./var/).",
    )
    parser.add_argument("--version", action="version", version=f"coachco2 {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="apply migrations, then serve the API")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    serve.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser("worker", help="run the pipeline worker alone, in one or more processes")
    worker.add_argument("--processes", type=int, default=1, help="worker processes to run (default 1)")
    worker.set_defaults(func=cmd_worker)

    emissions = sub.add_parser("emissions", help="emission factor sets and stored figures")
    em_sub = emissions.add_subparsers(dest="emissions_command", required=True)
    recompute = em_sub.add_parser(
        "recompute", help="recompute every stored figure with the factors in force (after changing them)"
    )
    recompute.add_argument("--user", help="only this person's figures (their user id)")
    recompute.set_defaults(func=cmd_emissions_recompute)
    sets = em_sub.add_parser("sets", help="list the factor sets (* marks the one in force)")
    sets.set_defaults(func=cmd_emissions_sets)

    importing = sub.add_parser(
        "import", help="import a GPX, GeoJSON or Google location history file for a person"
    )
    importing.add_argument("file", help="the file to import")
    importing.add_argument("--user", required=True, help="the person's user id")
    importing.set_defaults(func=cmd_import)

    demo = sub.add_parser(
        "demo", help="fill the store with simulated residents of the La Rochelle agglomeration"
    )
    demo.add_argument("--users", type=int, default=50, help="residents to simulate (default 50)")
    demo.add_argument(
        "--days",
        type=int,
        default=14,
        help="days to simulate, ending with the last day of last month, which is then published (default 14)",
    )
    demo.add_argument(
        "--seed", type=int, default=2026, help="random seed (the same seed gives the same residents)"
    )
    demo.set_defaults(func=cmd_demo)

    reprocess = sub.add_parser(
        "reprocess", help="build trips again from the stored points (after publishing a transit network)"
    )
    reprocess.add_argument("--user", help="only this person (their user id)")
    reprocess.add_argument(
        "--since", help="only trips from this date on (YYYY-MM-DD or RFC 3339; UTC when no offset)"
    )
    reprocess.set_defaults(func=cmd_reprocess)

    purge = sub.add_parser("purge", help="delete raw points past each person's retention period")
    purge.set_defaults(func=cmd_purge)

    migrate = sub.add_parser("migrate", help="apply the database migrations")
    migrate.set_defaults(func=cmd_migrate)

    operator = sub.add_parser("operator", help="manage the territory's operator accounts")
    op_sub = operator.add_subparsers(dest="operator_command", required=True)
    create = op_sub.add_parser("create", help="create an operator and print its token once")
    create.add_argument("name", help="a unique name, e.g. the team or tool that will use the token")
    create.add_argument(
        "--role",
        choices=accounts.OPERATOR_ROLES,
        default=accounts.ADMIN,
        help="admin (the default) publishes transit feeds, emission factors and zone sets for the "
        "territory; analyst reads statistics only",
    )
    create.set_defaults(func=cmd_operator_create)
    role = op_sub.add_parser("role", help="change an operator's role")
    role.add_argument("name")
    role.add_argument("role", choices=accounts.OPERATOR_ROLES)
    role.set_defaults(func=cmd_operator_role)
    listing = op_sub.add_parser("list", help="list operators")
    listing.set_defaults(func=cmd_operator_list)
    token = op_sub.add_parser(
        "token", help="give an existing operator another token and print it once (its others stay valid)"
    )
    token.add_argument("name")
    token.set_defaults(func=cmd_operator_token)
    revoke = op_sub.add_parser("revoke", help="revoke every token of an operator")
    revoke.add_argument("name")
    revoke.set_defaults(func=cmd_operator_revoke)

    publications = sub.add_parser(
        "publications", help="the territory's exact monthly publications over its official zone sets"
    )
    pub_sub = publications.add_subparsers(dest="publications_command", required=True)
    pub_publish = pub_sub.add_parser("publish", help="make the publications that are due now, and list them")
    pub_publish.set_defaults(func=cmd_publications_publish)

    transit_cmd = sub.add_parser("transit", help="the territory's public transport networks (GTFS feeds)")
    tr_sub = transit_cmd.add_subparsers(dest="transit_command", required=True)
    publish = tr_sub.add_parser("publish", help="publish (or replace) a GTFS zip under a name")
    publish.add_argument("name", help="1 to 40 lower-case letters, digits and dashes, e.g. yelo")
    publish.add_argument("file", help="the GTFS zip")
    publish.set_defaults(func=cmd_transit_publish)
    tr_list = tr_sub.add_parser("list", help="list the published feeds")
    tr_list.set_defaults(func=cmd_transit_list)
    withdraw = tr_sub.add_parser("withdraw", help="withdraw a feed")
    withdraw.add_argument("name")
    withdraw.set_defaults(func=cmd_transit_withdraw)

    openpath = sub.add_parser("openpath", help="sign-in codes (opcodes) for the OpenPATH phone app")
    op_cmds = openpath.add_subparsers(dest="openpath_command", required=True)
    opcodes = op_cmds.add_parser("opcodes", help="issue new opcodes and print them once")
    opcodes.add_argument("--study", help="the study name (default COACHCO2_OPENPATH_STUDY)")
    opcodes.add_argument(
        "--subgroup", default="default", help="one of the study's subgroups (default: default)"
    )
    opcodes.add_argument("--count", type=int, default=1, help="how many (default 1)")
    opcodes.set_defaults(func=cmd_openpath_opcodes)
    op_revoke = op_cmds.add_parser("revoke", help="revoke an opcode (the phone is signed out)")
    op_revoke.add_argument("opcode")
    op_revoke.set_defaults(func=cmd_openpath_revoke)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        get_settings()
    except ValidationError as exc:  # one line per refused setting, no traceback
        for line in describe_settings_errors(exc):
            print(line, file=sys.stderr)
        return 2
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
