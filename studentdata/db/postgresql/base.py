"""Django's PostgreSQL backend, keeping the session's row-level-security settings
(records/row_security.py) equal to the Python context's before every statement.

What the session holds is remembered per connection, so a statement only carries the
settings when the context changed since the last one (at most twice a request: the
session's own lookups run before the viewer's district is in force). Then they travel
in front of the statement, in the same round trip. A rollback may undo a setting made
inside the transaction, and a new connection has none, so both forget what was known.
"""

from __future__ import annotations

from django.db.backends.postgresql import base

from records.row_security import UNSET, settings_sql, wanted_settings

# The statements that read or write rows, and so need the settings; they may share a
# round trip (one implicit transaction) with them. Others (transaction control, DDL,
# VACUUM) run as they are: ROLLBACK TO SAVEPOINT must run in an aborted transaction.
# A server-side cursor's DECLARE, and executemany, get the settings as a statement first.
_ROW_STATEMENTS = ("SELECT", "INSERT", "UPDATE", "DELETE", "MERGE", "WITH", "EXECUTE", "EXPLAIN")
_UNKNOWN = object()


class DatabaseOperations(base.DatabaseOperations):
    # A tenant table's rows are grouped by its database key, (district_id, id).
    compiler_module = "studentdata.db.postgresql.compiler"


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.row_security_settings = _UNKNOWN
        self.execute_wrappers.append(self._with_row_security_settings)

    def get_new_connection(self, conn_params):
        connection = super().get_new_connection(conn_params)
        self.row_security_settings = UNSET
        return connection

    def row_security_in_step(self) -> bool:
        """Whether the session holds what the context asks."""
        return wanted_settings() == self.row_security_settings

    def sync_row_security(self) -> None:
        """Put the context's settings into the session now: before work on the raw
        connection (COPY), which passes no statement through Django's cursor."""
        wanted = wanted_settings()
        if wanted != self.row_security_settings:
            self.row_security_settings = _UNKNOWN
            with self.connection.cursor() as cursor:
                cursor.execute(settings_sql(wanted))
            self.row_security_settings = wanted

    def _with_row_security_settings(self, execute, sql, params, many, context):
        wanted = wanted_settings()
        if wanted == self.row_security_settings or not _reads_or_writes_rows(sql):
            return execute(sql, params, many, context)
        if many or getattr(context["cursor"].cursor, "name", None):
            self.sync_row_security()
            return execute(sql, params, many, context)
        self.row_security_settings = _UNKNOWN  # until the pair has run
        result = execute(f"{settings_sql(wanted)}; {sql}", params, many, context)
        self.row_security_settings = wanted
        return result

    def _rollback(self):
        self.row_security_settings = _UNKNOWN
        return super()._rollback()

    def _savepoint_rollback(self, sid):
        self.row_security_settings = _UNKNOWN
        return super()._savepoint_rollback(sid)

    def _close(self):
        self.row_security_settings = _UNKNOWN
        return super()._close()


def _reads_or_writes_rows(sql) -> bool:
    return isinstance(sql, str) and sql.lstrip()[:7].upper().startswith(_ROW_STATEMENTS)
