"""Building QBO query text safely: quoting, ``IN`` lists, paging clauses."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

MAX_PAGE = 1000
"""QBO answers at most 1000 rows per query."""


def quote(value: str) -> str:
    """A QBO string literal: single quotes, with ``\\`` and ``'`` escaped by a backslash."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def in_clause(field: str, values: Iterable[str]) -> str:
    """``Field in ('a','b')`` with every value quoted."""
    return f"{field} in ({','.join(quote(v) for v in values)})"


def join_where(*conditions: str) -> str:
    """Join non-empty conditions with ``and`` (QBO has no ``or``)."""
    return " and ".join(c.strip() for c in conditions if c and c.strip())


def select(
    entity: str,
    where: str = "",
    *,
    order_by: str | None = None,
    start: int | None = None,
    max_results: int | None = None,
    count: bool = False,
) -> str:
    """``select * | count(*) from Entity [where ...] [orderby ...] [startposition N]
    [maxresults M]``."""
    text = f"select {'count(*)' if count else '*'} from {entity}"  # noqa: S608 - QBO query
    if where.strip():
        text += f" where {where.strip()}"
    if order_by:
        text += f" orderby {order_by}"
    if start is not None:
        text += f" startposition {start}"
    if max_results is not None:
        text += f" maxresults {max_results}"
    return text


def chunks(values: Iterable[str], size: int) -> Iterator[list[str]]:
    """Distinct values in order, ``size`` at a time."""
    if size < 1:
        raise ValueError("chunk size must be at least 1")
    seen: set[str] = set()
    batch: list[str] = []
    for v in values:
        if v in seen:
            continue
        seen.add(v)
        batch.append(v)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
