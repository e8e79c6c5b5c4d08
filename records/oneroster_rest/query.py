"""A client's filter and sort applied to the grant's rows, and one ordered page across
the sources of a resource (students and staff are both ``users``; student and teacher
places are both ``enrollments``).

The grant's restriction is each source's base queryset; the client's whole filter is
one Q ANDed onto it, so an ``OR`` can only choose among rows the grant already gives.
A clause on a student field also requires that the provider may read that field of the
student (``ProviderScope.readable``): a hidden value can neither match nor order.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from functools import reduce

from django.db.models import (
    BooleanField,
    Case,
    CharField,
    DateField,
    DateTimeField,
    F,
    IntegerField,
    Q,
    QuerySet,
    Value,
    When,
)

from records.oneroster_rest.errors import (
    INVALID_FILTER_FIELD,
    INVALID_SORT_FIELD,
    OneRosterError,
    bad_filter,
)
from records.oneroster_rest.fields import (
    BOOL,
    DATE,
    DATETIME,
    INTEGER,
    OPERATOR_LOOKUPS,
    STUDENT,
    V1P1,
    Context,
    Field,
    Related,
    typed_value,
)
from records.oneroster_rest.grammar import FIELD_NAME, Filter, parse_filter

OUTPUT_FIELDS = {
    BOOL: BooleanField,
    DATE: DateField,
    DATETIME: DateTimeField,
    INTEGER: IntegerField,
}


@dataclass(frozen=True)
class Source:
    """One kind of row of a resource, restricted to what the grants give. ``whole_reach``:
    the rows are every student the grants reach, as ``ProviderScope.students`` gives them
    (so their number may come from ``ProviderScope.student_total``)."""

    kind: str
    rows: QuerySet
    whole_reach: bool = False


@dataclass(frozen=True)
class Sort:
    field: Field
    descending: bool = False


@dataclass(frozen=True)
class Narrowing:
    """A parsed, checked filter: each clause with its field and typed value."""

    clauses: tuple[tuple[Field, str, object], ...] = ()
    joiner: str = "AND"


def check_filter(text: str | None, names: dict[str, Field]) -> Narrowing:
    """The filter checked against the names this client may use; a name it may not
    use answers exactly as one that does not exist."""
    if text is None:
        return Narrowing()
    parsed: Filter = parse_filter(text)
    clauses = []
    for clause in parsed.clauses:
        spec = names.get(clause.field)
        if spec is None or not spec.filter:
            raise bad_filter(f"Unknown filter field {clause.field!r}.")
        clauses.append((spec, clause.op, typed_value(spec, clause.op, clause.value)))
    return Narrowing(tuple(clauses), parsed.joiner)


def check_sort(params, names: dict[str, Field], version: str) -> Sort:
    code = INVALID_SORT_FIELD if version == V1P1 else INVALID_FILTER_FIELD
    order = params.get("orderBy", "asc")
    if order not in {"asc", "desc"}:
        raise OneRosterError(400, code, "The orderBy parameter must be 'asc' or 'desc'.")
    name = params.get("sort")
    if name is None:
        return Sort(names["sourcedId"], order == "desc")
    spec = names.get(name) if FIELD_NAME.fullmatch(name) else None
    if spec is None or not spec.sort:
        raise OneRosterError(400, code, f"Unknown sort field {name!r}.")
    return Sort(spec, order == "desc")


def _output_field(spec: Field):
    return OUTPUT_FIELDS.get(spec.kind, CharField)()


def _guard(ctx: Context, source: Source, spec: Field) -> Q | None:
    """For a student field of a category: the students whose field the provider may read."""
    if source.kind != STUDENT or spec.category is None:
        return None
    return ctx.scope.readable(spec.category, spec.directory_field)


def _expression(ctx: Context, source: Source, spec: Field):
    """The sortable value of ``spec`` on ``source``'s rows: NULL where the row has none
    or the provider may not read it."""
    build = spec.sources.get(source.kind)
    if build is None or isinstance(build, Related):
        return Value(None, output_field=_output_field(spec))
    expression = build(ctx)
    guard = _guard(ctx, source, spec)
    if guard is not None:
        expression = Case(
            When(guard, then=expression), default=Value(None), output_field=_output_field(spec)
        )
    return expression


def narrowed(ctx: Context, source: Source, narrowing: Narrowing) -> QuerySet:
    """``source``'s rows with the client's filter ANDed on as one group."""
    if not narrowing.clauses:
        return source.rows
    annotations, tests = {}, []
    for index, (spec, op, value) in enumerate(narrowing.clauses):
        build = spec.sources.get(source.kind)
        lookup = OPERATOR_LOOKUPS[op]
        if build is None:
            test = Q(pk__in=[])  # the name does not describe this kind of row
        elif isinstance(build, Related):
            test = build.build(ctx, lookup, value)
            test = ~test if op == "!=" else test
        else:
            alias = f"or_filter{index}"
            annotations[alias] = build(ctx)
            test = Q(**{f"{alias}{lookup}": value})
            if op == "!=":
                test = ~test & Q(**{f"{alias}__isnull": False})
        guard = _guard(ctx, source, spec)
        tests.append(test & guard if guard is not None else test)
    combine = operator.and_ if narrowing.joiner == "AND" else operator.or_
    return source.rows.annotate(**annotations).filter(reduce(combine, tests))


def keys(ctx: Context, sources: list[Source], names: dict[str, Field], narrowing, sort: Sort):
    """One queryset of ``(sort value, sourcedId, kind, pk)`` over every source, in the
    page's order: sort value, then sourcedId, kind and pk so that paging is stable."""
    parts = []
    for source in sources:
        rows = narrowed(ctx, source, narrowing)
        parts.append(
            rows.annotate(
                or_sort=_expression(ctx, source, sort.field),
                or_sid=_expression(ctx, source, names["sourcedId"]),
                or_kind=Value(source.kind, output_field=CharField()),
                or_pk=F("pk"),
            ).values_list("or_sort", "or_sid", "or_kind", "or_pk")
        )
    ordered = parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]
    first = F("or_sort").desc(nulls_last=True) if sort.descending else F("or_sort").asc()
    return ordered.order_by(first, "or_sid", "or_kind", "or_pk")


def total(ctx: Context, sources: list[Source], narrowing: Narrowing) -> int:
    return sum(_count(ctx, source, narrowing) for source in sources)


def _count(ctx: Context, source: Source, narrowing: Narrowing) -> int:
    """The rows of one source the filter gives: the grants' whole reach unfiltered (a sync
    client's walk) from the head counts where they serve, else counted."""
    if source.whole_reach and not narrowing.clauses:
        kept = ctx.scope.student_total()
        if kept is not None:
            return kept
    return narrowed(ctx, source, narrowing).count()


def lookup_one(ctx: Context, sources: list[Source], names: dict[str, Field], sourced_id: str):
    """``(kind, pk)`` of the row with this sourcedId among the sources, or None."""
    for source in sources:
        expression = _expression(ctx, source, names["sourcedId"])
        pk = (
            source.rows.annotate(or_sid=expression)
            .filter(or_sid=sourced_id)
            .values_list("pk", flat=True)
            .first()
        )
        if pk is not None:
            return source.kind, pk
    return None


def sourced_id_expression(ctx: Context, source: Source, spec: Field):
    """The sourcedId of ``source``'s rows (``spec``: the resource's sourcedId name)."""
    return _expression(ctx, source, spec)
