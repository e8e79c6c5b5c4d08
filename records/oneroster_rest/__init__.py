"""OneRoster REST 1.1 and 1.2 rostering for service providers' clients.

Read-only, OAuth 2 client credentials, every set through ``access.providers.ProviderScope``:
a provider's client sees the rostering rows and the student fields its grants open, and
nothing else — a field outside its grants answers as one that does not exist. The
contract for clients is docs/oneroster-rest.md.
"""
