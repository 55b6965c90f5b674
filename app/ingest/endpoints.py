"""What the phone sends, and how far the pipeline has got with it."""

from __future__ import annotations

from fastapi import APIRouter, Request, status
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.repository import UserPrincipal
from app.core.deps import AUTH_ERRORS, CurrentUser, SessionDep
from app.core.problems import Problem
from app.core.ratelimit import IngestLimit
from app.core.schemas import rfc3339, rfc3339_ms
from app.ingest import repository as store
from app.ingest.columns import read_columns
from app.ingest.reader import Batch, read_batch
from app.ingest.schemas import IngestOut, PipelineOut
from app.ingest.service import ingest_batch

router = APIRouter(prefix="/v1/me", tags=["ingest"])


#: The answers of both forms of the upload, besides 202.
INGEST_ERRORS: dict[int | str, dict[str, object]] = {
    **AUTH_ERRORS,
    400: {"model": Problem, "description": "The body is not valid JSON or not valid gzip."},
    413: {"model": Problem, "description": "The body is larger than the server accepts."},
    429: {"model": Problem, "description": "Too many requests; see Retry-After."},
    415: {"model": Problem, "description": "A Content-Encoding other than gzip."},
    422: {"model": Problem, "description": "A field breaks the contract; nothing was stored."},
    503: {"model": Problem, "description": "The database is out of reach; nothing was stored."},
}


def _request_body(schema: str) -> dict[str, object]:
    """The OpenAPI request body of an upload read from its bytes (not by FastAPI): a named schema."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
        }
    }


async def _ingest(request: Request, session: AsyncSession, user: UserPrincipal, batch: Batch) -> IngestOut:
    """Store a batch read from either form, and wake the pipeline's worker when anything is new."""
    result = await ingest_batch(session, user.user_id, batch)
    if result.accepted:
        request.app.state.worker.wake()
    return IngestOut(
        accepted=result.accepted, duplicates=result.duplicates, activities_received=result.activities_received
    )


@router.post(
    "/locations",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=IngestOut,
    openapi_extra=_request_body("LocationBatchIn"),
    responses=INGEST_ERRORS,
)
async def post_locations(
    request: Request, session: SessionDep, user: CurrentUser, _: IngestLimit
) -> IngestOut:
    """Store a batch of up to 10,000 location points (and optional motion-activity hints).

    The whole request is checked before anything is stored: one invalid field refuses it all with 422.
    Idempotent: a point with the same time as one already held is counted in `duplicates`, not stored
    twice. The body may be sent with `Content-Encoding: gzip`. Processing into trips happens later, off the
    request path; `GET /v1/me/pipeline` tells how far it has got.
    """
    # Read from the JSON bytes into columns, with no Python statement per point (app/ingest/reader.py).
    return await _ingest(request, session, user, read_batch(await request.body()))


@router.post(
    "/locations/columns",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=IngestOut,
    openapi_extra=_request_body("LocationColumnsIn"),
    responses=INGEST_ERRORS,
)
async def post_location_columns(
    request: Request, session: SessionDep, user: CurrentUser, _: IngestLimit
) -> IngestOut:
    """Store a batch of up to 10,000 location points sent as columns: one array per field.

    The same batch as `POST /v1/me/locations`, written `{"ts": [..], "lat": [..], "lon": [..], ...}`
    rather than one object per point: smaller, and cheaper for the server to read. `ts`, `lat` and `lon`
    are required; `accuracy`, `altitude`, `speed` and `heading` may be left out or hold nulls, and every
    column present has as many values as `ts`. Motion-activity hints go in `activities` as columns too.
    Everything else is as for the object form: the same rules per value, one invalid value (named with its
    index, `lat/17`) or a column of another length (named alone, `accuracy`) refuses it all with 422,
    duplicates by time are counted and not stored twice, gzip is accepted, the same rate limit applies.
    """
    # Read from the JSON bytes into columns, with no Python statement per point (app/ingest/columns.py).
    return await _ingest(request, session, user, read_columns(await request.body()))


@router.get("/pipeline", response_model=PipelineOut, responses=AUTH_ERRORS)
async def get_pipeline(session: SessionDep, user: CurrentUser) -> PipelineOut:
    """How many accepted points still wait to be taken into trips, and up to when trips are built."""
    state = await store.pipeline_state(session, user.user_id)
    await session.commit()
    if state is None:
        return PipelineOut(pending_points=0, processed_until=None)
    failing = state.failures > 0
    return PipelineOut(
        pending_points=state.pending_points,
        processed_until=rfc3339_ms(state.processed_until_ms),
        failed_attempts=state.failures,
        next_attempt=rfc3339(state.lease_expires_at) if failing else None,
    )
