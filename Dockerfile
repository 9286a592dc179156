# The trader's image: the worker, the CLI and the simulator (one image, different commands).
#
# PYTHON_IMAGE is any Debian-like image with Python 3.11 and its venv module: the official python image by
# default; `make compose-test` passes a local stand-in built from Debian packages (deploy/compose-test/).
ARG PYTHON_IMAGE=python:3.11-slim
FROM ${PYTHON_IMAGE}
WORKDIR /app
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH
# Dependencies first, from pyproject.toml alone: a code change rebuilds only the layers below.
COPY pyproject.toml README.md ./
RUN python3 -m venv /opt/venv \
    && python3 -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
       > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt && rm /tmp/requirements.txt
COPY models models
COPY workflows workflows
COPY activities activities
COPY workers workers
COPY kalshi kalshi
COPY simulator simulator
COPY rl rl
COPY recording recording
COPY trading trading
RUN pip install --no-deps . && mkdir -p /state /recordings && chown nobody:nogroup /state /recordings
USER nobody
ENTRYPOINT ["kalshi-trader"]
