# One image for every AzuraForge service; docker-compose.yml picks the command
# (`forge scheduler`, `forge trainer`, `forge gateway`). Build: docker build -t azuraforge .
# Runtime only: the tests and the PyTorch they compare against are not installed.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    FORGE_DATA_DIR=/data \
    MPLBACKEND=Agg

# Dependencies first, so that a change to the code does not reinstall them.
WORKDIR /opt/azuraforge
COPY pyproject.toml README.md ./
RUN python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt

COPY forge_core forge_core
COPY forge_learner forge_learner
COPY apps apps
COPY protos protos
COPY scheduler scheduler
COPY trainer trainer
COPY gateway gateway
COPY forge_cli forge_cli
RUN pip install --no-deps . \
    && useradd --create-home --uid 10001 forge \
    && mkdir -p /data \
    && chown forge:forge /data

USER forge
WORKDIR /data
VOLUME ["/data"]
# scheduler, trainer, gateway
EXPOSE 50051 50052 8080
CMD ["forge", "--help"]
