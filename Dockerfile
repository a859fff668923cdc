# complaintflow: the worker and its HTTP API (one process) in one slim image, run as a non-root user.
#
#   docker build -t complaintflow:0.1.0 .
#   docker run --rm -e KAFKA_BOOTSTRAP_SERVERS=kafka-1:9092 complaintflow:0.1.0           # a worker
#   docker run --rm -e KAFKA_BOOTSTRAP_SERVERS=kafka-1:9092 complaintflow:0.1.0 topics    # any other command
#
# Tables live in /var/lib/complaintflow (COMPLAINTFLOW_DATA_DIR): mount a volume there for the
# rocksdb:// store. The policy and calendar are read from wherever COMPLAINTFLOW_POLICY_FILE and
# COMPLAINTFLOW_CALENDAR_FILE point: mount them under /etc/complaintflow (unset = the shipped ones).
# deploy/compose and deploy/k8s use this image; docs/operations.md says how to run it.

ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
# A C compiler for this stage only: installing compiles the hot modules with mypyc (setup.py).
RUN apt-get update && apt-get install --yes --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml setup.py README.md ./
COPY events events
COPY projections projections
COPY services services
# The project and its pinned runtime dependencies only: no dev extras, no build tools in the final image.
RUN python -m venv /opt/complaintflow && /opt/complaintflow/bin/pip install .

FROM python:${PYTHON_VERSION}-slim
RUN groupadd --system --gid 10001 complaintflow \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/complaintflow --shell /usr/sbin/nologin complaintflow \
    && install --directory --owner 10001 --group 10001 /var/lib/complaintflow /etc/complaintflow
COPY --from=build /opt/complaintflow /opt/complaintflow
ENV PATH=/opt/complaintflow/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    COMPLAINTFLOW_DATA_DIR=/var/lib/complaintflow \
    COMPLAINTFLOW_WEB_HOST=0.0.0.0 \
    COMPLAINTFLOW_WEB_PORT=6066
USER 10001:10001
WORKDIR /var/lib/complaintflow
VOLUME ["/var/lib/complaintflow"]
EXPOSE 6066
# 503 from /healthz (broker unreachable, topics missing) fails the check: urlopen raises on it.
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=4 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ['COMPLAINTFLOW_WEB_PORT'], timeout=4)"]
ENTRYPOINT ["complaintflow"]
CMD ["worker"]
