# usage-exporter: a small image holding only a virtualenv with the exporter and its dependencies.
#
#   docker build -t usage-exporter .
#   docker run -p 9868:9868 -v $PWD/config.yaml:/etc/usage-exporter/config.yaml:ro \
#     -v usage-exporter-state:/var/lib/usage-exporter usage-exporter
#   docker run -p 9868:9868 usage-exporter demo --web.listen-address=0.0.0.0:9868
#
# Keep the config's `state_dir` at /var/lib/usage-exporter (as in config/example.yaml): the
# ledger there is what keeps the counters exact across restarts, so it lives on a volume.

FROM python:3.11-slim AS builder

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH="/opt/venv/bin:$PATH"

RUN python -m venv /opt/venv

WORKDIR /src
COPY pyproject.toml README.md ./
COPY exporter ./exporter
RUN pip install --no-cache-dir .


FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH="/opt/venv/bin:$PATH"

RUN groupadd --system --gid 10001 exporter \
    && useradd --system --no-log-init --uid 10001 --gid exporter \
        --home-dir /var/lib/usage-exporter --no-create-home --shell /usr/sbin/nologin exporter \
    && mkdir -p /etc/usage-exporter /var/lib/usage-exporter \
    && chown exporter:exporter /var/lib/usage-exporter

COPY --from=builder /opt/venv /opt/venv

# A relative `state_dir` (the default is ./usage-exporter-state) also lands on the volume.
WORKDIR /var/lib/usage-exporter
USER 10001:10001
VOLUME /var/lib/usage-exporter
EXPOSE 9868

# The slim image has no curl. Plain HTTP on the default port: with --web.config.file (TLS) or
# another listen address, override the health check too.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9868/healthz', timeout=4)"]

ENTRYPOINT ["usage-exporter"]
CMD ["run", "--config=/etc/usage-exporter/config.yaml"]
