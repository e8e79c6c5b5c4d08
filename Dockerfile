# The production image: gunicorn for web, the same image for Celery worker and beat.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=studentdata.settings

WORKDIR /app

# Dependencies first (pyproject.toml installs no package of its own), so code
# changes do not reinstall them.
COPY pyproject.toml ./
RUN pip install .

COPY . .

# A non-root user; it owns only var/ (static files, beat schedule, import uploads), not
# the code. The directories exist in the image so the named volumes mounted on them
# start out owned by this user.
RUN useradd --system --uid 10001 --home-dir /app --no-create-home app \
    && mkdir -p /app/var/static /app/var/imports \
    && chown -R app:app /app/var
USER app

EXPOSE 8000
CMD ["gunicorn", "studentdata.wsgi:application", "--bind", "0.0.0.0:8000"]
