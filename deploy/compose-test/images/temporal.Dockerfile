# Stand-in for temporalio/temporal:1.5.1 (alpine, the CLI at /usr/local/bin/temporal, uid 1000,
# ENTRYPOINT temporal): the CLI binary that `make` builds, on the debootstrap base image.
ARG BASE=kalshi-local/debian:bookworm
FROM ${BASE}
COPY temporal /usr/local/bin/temporal
RUN useradd --uid 1000 --create-home temporal
USER temporal
EXPOSE 7233 8233
ENTRYPOINT ["temporal"]
