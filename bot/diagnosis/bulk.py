"""Bulk questions to QuickBooks: many chunked ``IN`` queries, sent as QBO batch items.

A ``BulkAsk`` is one question ("every ``cls`` whose ``field`` is one of ``values``, and
``extra_where``"); ``Bulk.run`` answers a round of them at once — as query items of QBO batch
requests (30 items a request, ``chunk`` values an item) or, without batch, as concurrent
chunked queries. An item whose answer fills a page (1,000 rows) is read again with paging, so
nothing is cut off. ``QBOReader`` is the part of ``qb.client.QBOClient`` the fetch needs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from qb.models import Entity
from qb.query import MAX_PAGE, chunks, in_clause, join_where, select
from qb.wire import BatchItem, BatchResult

E = TypeVar("E", bound=Entity)


class QBOReader(Protocol):
    """The part of ``qb.client.QBOClient`` the facts need."""

    async def get(self, cls: type[E], id: str) -> E: ...

    async def query(
        self, cls: type[E], where: str = "", *, order_by: str | None = None
    ) -> list[E]: ...

    async def query_in(
        self,
        cls: type[E],
        field: str,
        values: Iterable[str],
        *,
        extra_where: str = "",
        chunk: int = 100,
    ) -> list[E]: ...

    async def batch(
        self, items: list[BatchItem], *, request_id: str | None = None
    ) -> list[BatchResult]: ...

    async def cdc(
        self, entities: Sequence[str], changed_since: datetime
    ) -> Mapping[str, Sequence[Entity]]: ...

    def web_url(self, entity_type: str, id: str) -> str: ...


@dataclass(frozen=True)
class BulkAsk:
    """One bulk question: every ``cls`` whose ``field`` is one of ``values`` (and
    ``extra_where``)."""

    cls: type[Entity]
    field: str
    values: list[str]
    extra_where: str = ""


class Bulk:
    """Runs several bulk questions at once: as query items of QBO batch requests (30 queries
    a request) or, without batch, as concurrent chunked ``IN`` queries."""

    def __init__(self, qbo: QBOReader, *, use_batch: bool, chunk: int) -> None:
        self.qbo = qbo
        self.use_batch = use_batch
        self.chunk = chunk

    async def run(self, asks: Sequence[BulkAsk]) -> list[list[Any]]:
        """The rows each ask finds, in the asks' order."""
        live = [a for a in asks if a.values]
        if not self.use_batch:
            answers = await asyncio.gather(
                *(
                    self.qbo.query_in(
                        a.cls, a.field, a.values, extra_where=a.extra_where, chunk=self.chunk
                    )
                    for a in live
                )
            )
            got = dict(zip((id(a) for a in live), answers, strict=True))
            return [list(got.get(id(a), [])) for a in asks]

        items: list[BatchItem] = []
        owners: list[tuple[int, BulkAsk, str]] = []
        for n, a in enumerate(asks):
            for g in chunks(a.values, self.chunk):
                where = join_where(in_clause(a.field, g), a.extra_where)
                items.append(
                    BatchItem(
                        bid=f"q{len(items)}",
                        query=select(a.cls.entity_name, where, start=1, max_results=MAX_PAGE),
                    )
                )
                owners.append((n, a, where))
        out: list[list[Any]] = [[] for _ in asks]
        if not items:
            return out
        results = await self.qbo.batch(items)
        for res, (n, a, where) in zip(results, owners, strict=True):
            if res.error is not None:
                raise res.error
            if len(res.entities) >= MAX_PAGE:  # a full page: read this one with paging
                out[n].extend(await self.qbo.query(a.cls, where))
            else:
                out[n].extend(res.entities)
        return out


__all__ = ["Bulk", "BulkAsk", "QBOReader"]
