"""``limit`` and ``offset``, and the RFC 8288 ``Link`` header of a page."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from records.oneroster_rest.errors import bad_selection

DEFAULT_LIMIT = 100
# Clients in the field ask for 5,000 or 10,000 rows at once: a larger limit is clamped
# to this, never refused (X-Total-Count and Link tell the client to page on).
MAX_LIMIT = 10_000
MAX_OFFSET = 2**31 - 1


@dataclass(frozen=True)
class Paging:
    limit: int
    offset: int


def _number(params, name: str, default: int, minimum: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    # isdigit alone takes "²", which int() refuses: ASCII digits only.
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12 or int(raw) < minimum:
        raise bad_selection(f"The {name} parameter must be a whole number of at least {minimum}.")
    return int(raw)


def parse_paging(params) -> Paging:
    limit = min(_number(params, "limit", DEFAULT_LIMIT, 1), MAX_LIMIT)
    offset = min(_number(params, "offset", 0, 0), MAX_OFFSET)
    return Paging(limit, offset)


def link_header(request, paging: Paging, total: int) -> str:
    """``first``, ``prev``, ``next`` and ``last`` links, each keeping the request's other
    parameters (filter, sort, fields) and carrying ``limit`` and ``offset``."""
    base = request.build_absolute_uri(request.path)
    kept = [(k, v) for k, v in request.GET.items() if k not in {"limit", "offset"}]
    limit = paging.limit

    def link(offset: int, rel: str) -> str:
        query = urlencode([*kept, ("limit", limit), ("offset", offset)])
        return f'<{base}?{query}>; rel="{rel}"'

    last = max(0, (total - 1) // limit * limit) if total else 0
    links = [link(0, "first")]
    if paging.offset > 0:
        links.append(link(max(0, min(paging.offset - limit, last)), "prev"))
    if paging.offset + limit < total:
        links.append(link(paging.offset + limit, "next"))
    links.append(link(last, "last"))
    return ", ".join(links)
