# kedro-gpt server image. CPU by default; for CUDA build on a base image that already has Python
# and a CUDA torch (see docs/serving.md):
#   docker build -t kedro-gpt .
#   docker build -t kedro-gpt:cuda --build-arg BASE_IMAGE=pytorch/pytorch:2.7.1-cuda12.6-cudnn9-runtime \
#                --build-arg TORCH_SPEC= .
# Where no registry can be reached, deploy/build_image.sh makes the base from a debootstrap root
# and builds with podman (BASE_IMAGE=localhost/kedro-gpt-base:bookworm, TORCH_INDEX= and the
# local wheels in PIP_FIND_LINKS).
ARG BASE_IMAGE=python:3.11-slim

# ---- build: a virtual environment with torch, kedro-gpt and the serving stack ------------------
FROM ${BASE_IMAGE} AS build
ARG TORCH_SPEC="torch==2.13.0"
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ARG PIP_FIND_LINKS=
# a CA bundle for pip behind a TLS-inspecting proxy (a path the build mounts)
ARG PIP_CERT=
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_FIND_LINKS=${PIP_FIND_LINKS}
RUN python3 -m venv --system-site-packages /opt/venv
WORKDIR /src
RUN if [ -n "$TORCH_SPEC" ]; then \
      /opt/venv/bin/pip install ${PIP_CERT:+--cert "$PIP_CERT"} "$TORCH_SPEC" \
        ${TORCH_INDEX:+--index-url "$TORCH_INDEX"}; fi
COPY pyproject.toml README.md ./
COPY src ./src
RUN /opt/venv/bin/pip install ${PIP_CERT:+--cert "$PIP_CERT"} .

# ---- runtime: the venv, a non-root user, the model mounted at /models ---------------------------
FROM ${BASE_IMAGE}
COPY --from=build /opt/venv /opt/venv
RUN useradd --create-home --uid 10001 kedro && mkdir -p /data/feedback && chown kedro /data/feedback
USER kedro
WORKDIR /home/kedro
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    KEDRO_DISABLE_TELEMETRY=true \
    HF_HUB_OFFLINE=1 \
    KEDRO_GPT_MODEL=/models/model \
    KEDRO_GPT_FEEDBACK_DB=sqlite:////data/feedback/feedback.db \
    KEDRO_GPT_PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"KEDRO_GPT_PORT\"]}/health', timeout=4)"
# KEDRO_GPT_MODEL: a model folder, or models:/NAME@alias with MLFLOW_TRACKING_URI set.
# KEDRO_GPT_API_KEY (optional) makes every /v1 request need "Authorization: Bearer <key>".
# KEDRO_GPT_FEEDBACK_DB: the playground's ratings (mount a volume at /data/feedback, or give a
# PostgreSQL URL: postgresql+psycopg://user:password@host/db, with the `postgres` extra installed).
CMD ["sh", "-c", "exec python -m kedro_gpt.serving.cli serve --host 0.0.0.0 --port \"$KEDRO_GPT_PORT\" --model \"$KEDRO_GPT_MODEL\""]
