# govrag service image: the pinned CPU stack, the migrations run before the service starts.
#   docker build -t govrag .            (compose.yaml builds it for you)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# catdoc reads legacy .doc files; without it they fail with a clear reason.
RUN apt-get update \
    && apt-get install -y --no-install-recommends catdoc \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# torch first and alone, from the CPU index: no other package may pull a CUDA build.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu

# The dependencies before the code, so a code change does not reinstall them. The editable install keeps
# `policies/` and `migrations/` where the code looks for them (beside the packages, under /app).
COPY pyproject.toml constraints.txt README.md ./
COPY govrag/__init__.py govrag/__init__.py
COPY retrieval/__init__.py retrieval/__init__.py
COPY ingest/__init__.py ingest/__init__.py
COPY clients/python clients/python
RUN pip install -c constraints.txt -e ./clients/python -e '.[ray,s3]'
COPY alembic.ini ./
COPY govrag govrag
COPY retrieval retrieval
COPY ingest ingest
COPY migrations migrations
COPY policies policies
COPY deploy/entrypoint.sh /usr/local/bin/govrag-entrypoint

RUN useradd --system --uid 10001 --home-dir /var/lib/govrag --create-home govrag \
    && chmod 0755 /usr/local/bin/govrag-entrypoint
USER govrag

ENV GOVRAG_DATA_DIR=/var/lib/govrag \
    GOVRAG_POLICY_DIR=/app/policies \
    GOVRAG_AUTO_MIGRATE=false
VOLUME ["/var/lib/govrag"]
EXPOSE 8000

HEALTHCHECK --interval=10s --timeout=3s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import urllib.request, sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"]

# The entrypoint reads *_FILE secrets into the environment, runs `govrag db upgrade`, then execs the command.
ENTRYPOINT ["govrag-entrypoint"]
CMD ["govrag", "serve", "--host", "0.0.0.0", "--port", "8000"]
