# failed-payments: the bot, for `docker compose up` (see docker-compose.yml) or any orchestrator.
#
#   docker build -t failed-payments .
#   docker run --env-file .env failed-payments            # python app.py run
#   docker run --env-file .env failed-payments python app.py check
#
# Only what the bot runs is in the image: the pinned runtime dependencies of requirements.lock
# (hash-checked) and app.py, bot/, cli/, handlers/, qb/, cb/, mail/. The local stand-ins
# (sandbox/), the tests and the demo's extra dependencies are not: `make demo` is for a
# developer machine.
# tests/test_deployment_files.py checks this file against the settings and the lock files.

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=3000

# Dependencies first, in their own layer: a code change does not reinstall them.
COPY requirements.lock /tmp/requirements.lock
RUN pip install --require-hashes --no-deps -r /tmp/requirements.lock \
    && rm /tmp/requirements.lock

# A system user with no shell and no home; the code stays owned by root, so the bot cannot
# change it.
RUN groupadd --system --gid 10001 bot \
    && useradd --system --uid 10001 --gid bot --no-create-home --shell /usr/sbin/nologin bot

WORKDIR /app
COPY app.py ./
COPY bot/ bot/
COPY cli/ cli/
COPY handlers/ handlers/
COPY qb/ qb/
COPY cb/ cb/
COPY gateway/ gateway/
COPY mail/ mail/

USER 10001:10001

# Slack events (HTTP mode), health and metrics are served on PORT in both modes.
EXPOSE 3000

# /livez answers while the process runs; readiness (Redis, Slack, the last poll) is /readyz,
# for an orchestrator's readiness probe. The slim image has no curl: Python asks.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/livez' % os.environ.get('PORT', '3000'), timeout=4)"]

# SIGTERM (docker stop) lets remedies in flight finish; allow it the stop timeout.
STOPSIGNAL SIGTERM
CMD ["python", "app.py", "run"]
