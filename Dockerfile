# One image for the API, the Ray head and the Ray workers: the job processes import finder.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    FINDER_DATA_DIR=/data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY finder ./finder
COPY service ./service
RUN pip install --no-cache-dir '.[service]' \
    && useradd --create-home --uid 1000 finder \
    && mkdir -p /data && chown finder:finder /data

USER finder
EXPOSE 8000
CMD ["finder", "serve", "--host", "0.0.0.0", "--port", "8000"]
