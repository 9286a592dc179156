# Stand-in for python:3.11-slim: Debian bookworm's Python 3.11 with venv, on the debootstrap base image.
ARG BASE=kalshi-local/debian:bookworm
FROM ${BASE}
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       python3 python3-venv python-is-python3 ca-certificates \
    && rm -rf /var/lib/apt/lists/*
CMD ["python3"]
