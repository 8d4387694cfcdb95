FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY service ./service
COPY db ./db
RUN pip install --no-cache-dir .
ENV HOST=0.0.0.0 PORT=3000 ENVIRONMENT=production MIGRATIONS_DIR=/app/db/migrations
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:3000/health/ready', timeout=2)"
CMD ["flowcrm", "serve"]
