# The reconciler daemon: `reconciler run` on Fargate.
# Runs non-root and with a read-only root filesystem: the only writable paths
# are the volumes mounted at /var/cache/reconciler (git clone and snapshots) and /tmp.
FROM python:3.11-slim

# git for the manifest repository, openssh-client for SSH deploy keys.
RUN apt-get update \
 && apt-get install -y --no-install-recommends git openssh-client ca-certificates \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY reconciler ./reconciler
RUN pip install --no-cache-dir . \
 && useradd --system --uid 10001 --home-dir /var/cache/reconciler --shell /usr/sbin/nologin reconciler \
 && mkdir -p /var/cache/reconciler \
 && chown reconciler /var/cache/reconciler

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/var/cache/reconciler \
    RECONCILER_CACHE_DIR=/var/cache/reconciler \
    RECONCILER_HTTP_PORT=8080

USER 10001
VOLUME ["/var/cache/reconciler", "/tmp"]
EXPOSE 8080

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status == 200 else 1)"]

# SIGTERM from ECS stops the daemon cleanly (releases the lease) within stopTimeout.
STOPSIGNAL SIGTERM
ENTRYPOINT ["reconciler", "run"]
