# Coach CO2 API. Serves on port 8000; set DATABASE_URL to a postgresql+asyncpg:// URL in production
# (the default is an embedded SQLite file in the /var/lib/coachco2 volume). compose.yaml runs this image as
# the migrations, the API and the pipeline worker beside PostgreSQL (docs/deployment.md).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /build
COPY pyproject.toml README.md constraints.txt ./
COPY app ./app
COPY migrations ./migrations
RUN pip install -c constraints.txt . \
    && rm -rf /build \
    && useradd --system --home-dir /var/lib/coachco2 --create-home --shell /usr/sbin/nologin coachco2

USER coachco2
WORKDIR /var/lib/coachco2
ENV DATABASE_URL=sqlite+aiosqlite:////var/lib/coachco2/coachco2.db
VOLUME ["/var/lib/coachco2"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"

# `serve` applies the migrations first, then starts uvicorn.
CMD ["coachco2", "serve", "--host", "0.0.0.0", "--port", "8000"]
