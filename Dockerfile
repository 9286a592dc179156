# The trader's image: the worker, the CLI and the simulator (one image, different commands).
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
COPY pyproject.toml README.md ./
COPY models models
COPY workflows workflows
COPY activities activities
COPY workers workers
COPY kalshi kalshi
COPY simulator simulator
COPY rl rl
COPY recording recording
RUN pip install . && mkdir -p /state /recordings && chown nobody:nogroup /state /recordings
USER nobody
ENTRYPOINT ["kalshi-trader"]
