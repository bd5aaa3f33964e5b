# Same set-up steps as the Makefile: pinned install, models prepared (offline-capable) at build.
FROM python:3.11-slim

# mediapipe 1.x needs opencv-contrib-python, which loads libGL and glib at import.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 make \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml requirements.lock README.md ./
COPY vision ./vision
COPY service ./service
COPY models ./models
RUN pip install --no-cache-dir -c requirements.lock . \
 && python -m models.prepare --dir /app/models/cache

RUN useradd --create-home --uid 10001 clonus && mkdir -p /data && chown clonus /data
USER clonus
ENV CLONUS_HOST=0.0.0.0 CLONUS_PORT=8000 CLONUS_DATA_DIR=/data CLONUS_MODEL_DIR=/app/models/cache
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --retries=3 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"
CMD ["python", "-m", "service.serve"]
