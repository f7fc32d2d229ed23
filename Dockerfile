# fhircrm: the API (`fhircrm serve`) and the worker (`fhircrm worker`) from one image.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
COPY profiles ./profiles
COPY subscriptions ./subscriptions
# Editable, so the repository folders the code reads (profiles/, subscriptions/) stay beside it.
RUN pip install --no-cache-dir -e . && mkdir -p /data && useradd --system --home /app fhircrm && chown fhircrm /data
ENV FHIRCRM_EHR_SUBSCRIPTIONS_DIR=/app/subscriptions
USER fhircrm
EXPOSE 8000
CMD ["fhircrm", "serve", "--host", "0.0.0.0", "--port", "8000"]
