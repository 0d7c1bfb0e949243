# One image for every myHealth service; the command picks it (myhealth api|processor|collect|migrate).
# Kubernetes probes check health, so there is no HEALTHCHECK.

# tests/image builds this file with a Debian-made stand-in for the official base (which cannot be
# pulled there); everywhere else the default applies.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /src
# Dependencies first, so code changes reuse this layer.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project --no-cache
COPY README.md ./
COPY src ./src
RUN uv sync --frozen --no-dev --no-editable --no-cache

FROM ${PYTHON_IMAGE}
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOST=0.0.0.0
# Not --system: 10001 is above SYS_UID_MAX, and useradd warns about a "system" user there.
RUN groupadd --gid 10001 myhealth \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin myhealth
COPY --from=build /app/.venv /app/.venv
USER 10001:10001
EXPOSE 8080 8081
ENTRYPOINT ["myhealth"]
CMD ["api"]
