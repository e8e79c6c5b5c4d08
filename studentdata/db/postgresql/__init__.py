"""PostgreSQL with the session kept in step with the tenant context (base.py)."""
