from django.db import migrations, models

# A bundle built before a directory change must not be served after it: the build
# records when it read the data and under which designation. Rows built before this
# migration keep NULL (``access.deliveries.delivery_gone_reason`` then falls back to
# the request's time and treats the designation as unknown).


class Migration(migrations.Migration):
    dependencies = [("access", "0010_provider_tenant_keys")]

    operations = [
        migrations.AddField(
            model_name="csvdelivery",
            name="data_as_of",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="csvdelivery",
            name="directory_fields",
            field=models.JSONField(blank=True, null=True),
        ),
    ]
