"""Abuse limits: fixed-window request counters per client IP or per token, answering 429 with Retry-After.

In one process the counters live in memory; with `COACHCO2_REDIS_URL` they live in Redis (INCR with an
expiry), so that several API processes share them.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Protocol

from fastapi import Depends, Request

from app.core.deps import CurrentUser, SettingsDep
from app.core.lang import Msg
from app.core.metrics import metrics_of
from app.core.problems import ProblemError
from app.settings import Settings


class Limiter(Protocol):
    async def hit(self, key: str, limit: int, window_s: int) -> int | None:
        """Count one request; None when allowed, else the seconds until the window ends."""


class MemoryLimiter:
    """Counters in this process, pruned as their windows end."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self.counts: dict[tuple[str, int], int] = {}
        self.max_keys = max_keys

    async def hit(self, key: str, limit: int, window_s: int) -> int | None:
        now = time.time()
        window = int(now // window_s)
        if len(self.counts) > self.max_keys:
            self.counts = {k: v for k, v in self.counts.items() if k[1] * window_s + window_s > now}
        slot = (key, window)
        self.counts[slot] = self.counts.get(slot, 0) + 1
        if self.counts[slot] > limit:
            return max(1, int((window + 1) * window_s - now))
        return None


class RedisLimiter:
    def __init__(self, url: str) -> None:
        import redis.asyncio as redis

        self.client = redis.from_url(url)

    async def hit(self, key: str, limit: int, window_s: int) -> int | None:
        now = time.time()
        window = int(now // window_s)
        name = f"coachco2:rate:{key}:{window}"
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.incr(name)
            pipe.expire(name, window_s + 1)
            count, _ = await pipe.execute()
        if int(count) > limit:
            return max(1, int((window + 1) * window_s - now))
        return None

    async def close(self) -> None:
        await self.client.aclose()


def make_limiter(settings: Settings) -> Limiter:
    return RedisLimiter(settings.redis_url) if settings.redis_url else MemoryLimiter()


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def enforce(request: Request, key: str, limit: int, window_s: int, what: str) -> None:
    """Count one request under `key`; 429 with Retry-After past `limit` in the window."""
    limiter: Limiter = request.app.state.limiter
    wait = await limiter.hit(key, limit, window_s)
    if wait is not None:
        if (metrics := metrics_of(request.app)) is not None:
            metrics.rate_limited.labels(what).inc()
        raise ProblemError(
            429,
            "rate-limited",
            Msg(
                "Too many {what} requests: at most {limit} per {minutes} minute(s). Retry in {wait} s.",
                "Trop de requêtes « {what} » : au plus {limit} par {minutes} minute(s). Réessayez dans {wait} s.",
                what=what,
                limit=limit,
                minutes=window_s // 60,
                wait=wait,
            ),
            headers={"Retry-After": str(wait)},
        )


def per_ip(name: str, limit_of: Callable[[Settings], int], window_s: int) -> Callable[..., Awaitable[None]]:
    async def dependency(request: Request, settings: SettingsDep) -> None:
        await enforce(request, f"{name}:ip:{client_ip(request)}", limit_of(settings), window_s, name)

    return dependency


def per_token(
    name: str, limit_of: Callable[[Settings], int], window_s: int
) -> Callable[..., Awaitable[None]]:
    async def dependency(request: Request, settings: SettingsDep, user: CurrentUser) -> None:
        await enforce(request, f"{name}:token:{user.token_id}", limit_of(settings), window_s, name)
        await enforce(request, f"{name}:ip:{client_ip(request)}", limit_of(settings) * 4, window_s, name)

    return dependency


RegisterLimit = Annotated[
    None, Depends(per_ip("registration", lambda s: s.rate_limit_register_per_hour, 3600))
]
IngestLimit = Annotated[None, Depends(per_token("ingest", lambda s: s.rate_limit_ingest_per_minute, 60))]
ExportLimit = Annotated[None, Depends(per_token("export", lambda s: s.rate_limit_export_per_hour, 3600))]
ImportLimit = Annotated[None, Depends(per_token("import", lambda s: s.rate_limit_import_per_hour, 3600))]
