# The API image: runtime dependencies only (no embedded PostgreSQL: it always gets a DATABASE_URL; compose.yaml
# applies the migrations with the dbmate image, and `flowcrm db up` works in it too), run as an unprivileged user.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY service ./service
COPY db ./db
# The code and migrations stay owned by root: the service user can read them, not change them.
RUN pip install . \
 && useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin flowcrm
USER flowcrm
# Workers: one per CPU of the container's quota (cgroup), else per CPU; `--workers N` overrides.
ENV HOST=0.0.0.0 PORT=3000 ENVIRONMENT=production MIGRATIONS_DIR=/app/db/migrations
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:3000/health/ready', timeout=2)"
CMD ["flowcrm", "serve"]
