# The bpo-kpi dashboard (and the CLI, for compose.yaml's `jobs` service) as an image:
#   docker build -t bpo-kpi .
#   docker run --init -p 8501:8501 -v bpo-data:/data \
#     -v "$PWD/secrets.toml:/home/kpi/.streamlit/secrets.toml:ro" \
#     -v "$PWD/bpo_kpi.toml:/config/bpo_kpi.toml:ro" -e BPO_KPI_CONFIG=/config/bpo_kpi.toml bpo-kpi
# or compose.yaml (the dashboard and the ingest / alert jobs).
#
# SIGN-IN: a team server must have sign-in configured. Mount a Streamlit secrets file with an
# [auth] section (your OIDC provider) read-only at /home/kpi/.streamlit/secrets.toml (or mount
# it elsewhere and add `--secrets PATH` to the command), give the configuration
# (BPO_KPI_CONFIG) its [auth] rules (which identity gets which role), and serve on every
# interface of the container with `--address 0.0.0.0` (the command below). Without an [auth]
# section `bpo-kpi serve` refuses that address and the container exits. Secrets are never part
# of the image (.dockerignore keeps them out of the build).

# Build the wheel from the source (only the files .dockerignore lets through).
FROM python:3.11-slim AS build
WORKDIR /src
COPY . .
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    BPO_KPI_DB=/data/bpo_kpi.duckdb \
    BPO_KPI_PSEUDONYM_KEY_FILE=/data/pseudonym.key
# (the pseudonym key of restricted roles is created on the volume on first use, so reviewer
# pseudonyms stay the same across image rebuilds; the dashboard and the jobs share it)
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY deploy/jobs.sh /usr/local/bin/bpo-kpi-jobs

# An unprivileged user; /data (the database, its replica and state file) belongs to it, so a
# new named volume mounted there does too.
RUN chmod 755 /usr/local/bin/bpo-kpi-jobs \
    && useradd --create-home --uid 10001 kpi \
    && install -d -o kpi -g kpi /data /home/kpi/.streamlit
USER kpi
WORKDIR /data
VOLUME /data

EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
    CMD python -c "import urllib.request as u; u.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4)"
CMD ["bpo-kpi", "serve", "--db", "/data/bpo_kpi.duckdb", "--port", "8501", "--address", "0.0.0.0"]
