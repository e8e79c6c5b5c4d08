"""The release ledger: what a school year's published releases have told the public, so
that a new release is audited jointly with all of them (REQUIREMENTS 13 and 15).

Two patterns that are each safe alone can expose cells together. A school's count shown
in one release and hidden in the next is known to anyone who assumes it did not change,
and when it did not, that assumption is a disclosure: a group that shrank below n is
the old count of the others subtracted from a new total. So the audit of a new release
credits the attacker with every value an earlier release showed, wherever the cell still
holds that value: such a cell is a known constant in the LP, and hiding it now would
protect nothing, so it is never picked as a complement. A cell hidden once stays hidden
(it starts the new pattern).

A cell hidden in every release stays an unknown of each release: the attacker cannot
tell whether it changed, and equating the hidden cells of two releases would credit
them with knowledge no release gave (it pins zeros in a district whose students moved,
whatever is published). Each published release stores the ledger of every release up to
it, so the next build reads only the latest one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field


@dataclass
class Ledger:
    """Every value a release showed, by key, and every key a release hid."""

    shown: dict[str, set[int]] = field(default_factory=dict)
    hidden: set[str] = field(default_factory=set)
    # The schools of each group a large district's card was protected in, a group at a
    # time (reports/cells.py school_groups): the next release keeps them.
    groups: list[list[str]] = field(default_factory=list)

    def as_json(self) -> dict:
        return {
            "shown": {name: sorted(values) for name, values in self.shown.items()},
            "hidden": sorted(self.hidden),
            **({"groups": self.groups} if self.groups else {}),
        }

    @classmethod
    def from_json(cls, data: Mapping | None) -> Ledger:
        if not data:
            return cls()
        shown = {name: set(values) for name, values in data["shown"].items()}
        groups = [list(group) for group in data.get("groups", ())]
        return cls(shown, set(data["hidden"]), groups)

    def known(self, keys: Sequence[str], counts: Sequence[int]) -> set[int]:
        """The positions of cells whose value an earlier release showed."""
        return {at for at, name in enumerate(keys) if counts[at] in self.shown.get(name, ())}

    def once_hidden(self, keys: Sequence[str]) -> set[int]:
        """The positions of cells an earlier release hid: they stay hidden."""
        return {at for at, name in enumerate(keys) if name in self.hidden}

    def after(
        self,
        keys: Sequence[str],
        counts: Sequence[int],
        hidden: Iterable[int],
        unpublished: Iterable[int] = (),
        groups: Sequence[Sequence[str]] | None = None,
    ) -> Ledger:
        """The ledger once a release of these cells is published with ``hidden`` hidden.
        ``unpublished`` cells were neither shown nor hidden: no page shows them.
        ``groups``: the release's groups of schools (by default, the earlier ones)."""
        hidden, unpublished = set(hidden), set(unpublished)
        shown = {name: set(values) for name, values in self.shown.items()}
        for at, name in enumerate(keys):
            if at not in hidden and at not in unpublished:
                shown.setdefault(name, set()).add(counts[at])
        kept = [list(group) for group in (self.groups if groups is None else groups)]
        return Ledger(shown, self.hidden | {keys[at] for at in hidden - unpublished}, kept)
