"""``/healthz/`` answers "ok" without touching the database, for GET and HEAD only."""

import pytest


@pytest.mark.django_db
def test_healthz_answers_ok_without_a_query(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz/")
    assert (response.status_code, response.content) == (200, b"ok")
    assert "no-store" in response["Cache-Control"]
    assert client.head("/healthz/").status_code == 200
    assert client.post("/healthz/").status_code == 405
