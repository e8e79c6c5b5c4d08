"""Study keys stored before they were wrapped are wrapped now (access/studies.py)."""

import hashlib
import secrets

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.db import migrations

RAW_KEY_BYTES = 32


def wrap_raw_keys(apps, schema_editor):
    StudyKey = apps.get_model("access", "StudyKey")
    sealer = AESGCM(hashlib.sha256(settings.STUDY_KEY_WRAPPING_KEY.encode()).digest())
    for key in StudyKey.objects.all():
        secret = bytes(key.secret)
        if len(secret) != RAW_KEY_BYTES:
            continue  # already wrapped (nonce + sealed key + tag)
        nonce = secrets.token_bytes(12)
        sealed = sealer.encrypt(nonce, secret, f"study:{key.study_id}".encode())
        StudyKey.objects.filter(pk=key.pk).update(secret=nonce + sealed)


class Migration(migrations.Migration):
    dependencies = [("access", "0015_study_versions_frozen_once_sent")]

    operations = [migrations.RunPython(wrap_raw_keys, migrations.RunPython.noop)]
