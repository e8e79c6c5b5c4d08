"""English and Spanish: the browser's language, or the one chosen with the switcher."""

from __future__ import annotations

import pytest


@pytest.mark.django_db
def test_the_browsers_language_is_used(client):
    assert "Skip to content" in client.get("/").content.decode()
    spanish = client.get("/", HTTP_ACCEPT_LANGUAGE="es-MX,es;q=0.9").content.decode()
    assert "Saltar al contenido" in spanish
    assert '<html lang="es">' in spanish


@pytest.mark.django_db
def test_the_switcher_keeps_the_choice(client):
    response = client.post("/i18n/setlang/", {"language": "es", "next": "/"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert "Saltar al contenido" in client.get("/").content.decode()
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert "Skip to content" in client.get("/", HTTP_ACCEPT_LANGUAGE="es").content.decode()


@pytest.mark.django_db
def test_an_unknown_language_falls_back_to_english(client):
    client.post("/i18n/setlang/", {"language": "xx", "next": "/"})
    assert "Skip to content" in client.get("/").content.decode()


def test_every_spanish_catalogue_is_complete_and_compiled():
    """No family-facing string is left untranslated, and each .mo matches its .po."""
    from pathlib import Path

    import polib

    root = Path(__file__).resolve().parent.parent
    catalogues = list(root.glob("*/locale/es/LC_MESSAGES/django.po"))
    assert len(catalogues) >= 3
    for po_path in catalogues:
        po = polib.pofile(str(po_path))
        missing = [e.msgid for e in po if not e.translated() and not e.obsolete]
        assert missing == [], f"{po_path}: untranslated {missing[:5]}"
        mo = polib.mofile(str(po_path.with_suffix(".mo")))
        compiled = {e.msgid: e.msgstr for e in mo}
        stale = [e.msgid for e in po.translated_entries() if compiled.get(e.msgid) != e.msgstr]
        assert stale == [], f"{po_path.with_suffix('.mo')}: recompile ({stale[:3]})"


def test_a_word_reads_the_same_in_every_catalogue():
    """The first catalogue Django finds wins, so two translations of one word would differ
    by page; each msgid has one Spanish rendering across the project."""
    from pathlib import Path

    import polib

    root = Path(__file__).resolve().parent.parent
    renderings: dict[str, set[str]] = {}
    for po_path in root.glob("*/locale/es/LC_MESSAGES/django.po"):
        for entry in polib.pofile(str(po_path)):
            if entry.msgstr and not entry.msgid_plural and entry.msgctxt is None:
                renderings.setdefault(entry.msgid, set()).add(entry.msgstr)
    assert {m: r for m, r in renderings.items() if len(r) > 1} == {}
