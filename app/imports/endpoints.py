"""A person brings the history other services kept about them."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from app.core.deps import AUTH_ERRORS, CurrentUser, SessionDep, SettingsDep
from app.core.lang import Msg
from app.core.problems import Problem, not_found
from app.core.ratelimit import ImportLimit
from app.core.uploads import save_upload
from app.imports import repository
from app.imports.parsers import detect_format
from app.imports.schemas import ImportList, ImportOut
from app.imports.service import run_import, upload_path
from app.models import Import

router = APIRouter(prefix="/v1/me/imports", tags=["imports"])


def import_out(row: Import) -> ImportOut:
    return ImportOut(
        id=row.id,
        status=row.status,
        filename=row.filename,
        format=row.format,
        size_bytes=row.size_bytes,
        points_read=row.points_read,
        points_accepted=row.points_accepted,
        duplicates=row.duplicates,
        activities=row.activities,
        error=row.error,
        created_at=row.created_at,
        finished_at=row.finished_at,
    )


def _head(path: Path) -> bytes:
    with path.open("rb") as f:
        return f.read(64 * 1024)


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ImportOut,
    responses={
        **AUTH_ERRORS,
        413: {"model": Problem, "description": "The file is larger than the server accepts."},
        422: {"model": Problem, "description": "Not a supported file, or no file."},
    },
    openapi_extra={
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                        "required": ["file"],
                    }
                },
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            }
        }
    },
)
async def upload(
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    user: CurrentUser,
    _: ImportLimit,
) -> ImportOut:
    """Upload a history file: GPX 1.0/1.1, GeoJSON (points or lines with times), Google Takeout
    `Records.json` or the on-device `Timeline.json`. Send it as multipart (`file` field) or as the raw body
    (with `?filename=`). The answer is the import's id and state: it is checked, then stored in one go,
    deduplicated against what is already held, and taken into trips by the normal pipeline. Follow it at
    `GET /v1/me/imports/{id}`. A bad or foreign file fails with a message naming what is wrong, and nothing
    of it is stored."""
    # End the token check's transaction before the body arrives: on SQLite it holds the write lock, which
    # other people's writes would wait behind for as long as the upload takes.
    await session.commit()
    folder = Path(settings.import_dir)
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    import_id = uuid.uuid4()
    target = upload_path(folder, import_id)
    try:
        filename, size = await save_upload(
            request, target, settings.max_import_bytes, Msg("the history file", "le fichier d'historique")
        )
        # a file of no known format answers 422 (core/problems)
        fmt = await asyncio.to_thread(lambda: detect_format(_head(target)))
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(target.unlink)
        raise
    row = Import(
        id=import_id,
        user_id=user.user_id,
        status="received",
        filename=filename[:255],
        format=fmt,
        size_bytes=size,
    )
    await repository.add(session, row)
    out = import_out(row)
    await session.commit()
    app = request.app
    task = asyncio.create_task(
        run_import(app.state.db, import_id, user.user_id, target, wake=app.state.worker.wake)
    )
    app.state.import_tasks.add(task)
    app.state.imports_running[import_id] = task
    task.add_done_callback(app.state.import_tasks.discard)
    task.add_done_callback(lambda _: app.state.imports_running.pop(import_id, None))
    response.headers["Location"] = f"/v1/me/imports/{import_id}"
    return out


@router.get("", response_model=ImportList, responses=AUTH_ERRORS)
async def list_imports(
    session: SessionDep, user: CurrentUser, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> ImportList:
    """The person's imports, newest first."""
    out = [import_out(r) for r in await repository.of_user(session, user.user_id, limit)]
    await session.commit()
    return ImportList(imports=out)


@router.get("/{import_id}", response_model=ImportOut, responses={**AUTH_ERRORS, 404: {"model": Problem}})
async def get_import(session: SessionDep, user: CurrentUser, import_id: uuid.UUID) -> ImportOut:
    """One import's progress and outcome."""
    row = await repository.get(session, user.user_id, import_id)
    await session.commit()
    if row is None:
        raise not_found(Msg("No import", "Aucun import"))
    return import_out(row)
