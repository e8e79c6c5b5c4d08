"""Fresh planner statistics for the tables an import changed.

Until autovacuum comes round, PostgreSQL plans with the statistics a table had before
the load: a just-imported district's tables look empty, and its first pages (and its
next import) get plans for empty tables. So an import that changed rows analyzes the
tables it changed once it has committed. ANALYZE reads a fixed-size sample, so this is
cheap on small tables and bounded on large ones. Only a table's owner may ANALYZE it:
the application's role asks the owner's ``studentdata_analyze`` (records migration 0019).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from django.db import DatabaseError, connection

from records.importers.report import ImportReport

logger = logging.getLogger(__name__)


def changed_tables(report: ImportReport, entity_models: Mapping[str, Iterable[type]]) -> list[str]:
    """The tables of the entities the report counts as created, updated or ended."""
    tables = {
        model._meta.db_table
        for entity, counts in report.counts.items()
        if counts.get("created", 0) + counts.get("updated", 0) + counts.get("ended", 0)
        for model in entity_models.get(entity, ())
    }
    return sorted(tables)


def analyze_tables(tables: Iterable[str]) -> None:
    """ANALYZE each table (PostgreSQL only); a failure is logged, never raised: the
    import it follows has committed."""
    tables = list(tables)
    if not tables or connection.vendor != "postgresql":
        return
    try:
        with connection.cursor() as cursor:
            for table in tables:
                cursor.execute("SELECT studentdata_analyze(%s::regclass)", [table])
    except DatabaseError as exc:
        logger.warning("ANALYZE after an import failed: %s", type(exc).__name__)
