"""Codec tests compare against a real PostgreSQL server; they skip when none is reachable."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pyarrow as pa
import pytest

from tests.proxy.codec.oracle import PgOracle, assert_same, connect, encode_cells


@pytest.fixture(scope="session")
def pg() -> Iterator[PgOracle]:
    try:
        conn = connect()
    except RuntimeError as exc:
        pytest.skip(str(exc))
    yield PgOracle(conn)
    conn.close()


Check = Callable[..., None]


@pytest.fixture
def check(pg: PgOracle) -> Check:
    """``check(type_sql, literals, arrow_array)``: our text and binary cells equal PostgreSQL's.

    ``literals`` are SQL literals (None for NULL) cast to ``type_sql``; ``arrow_array`` holds the
    same values as Arrow. Optional ``field`` pins the Arrow field, ``timezone`` the session zone,
    ``formats`` limits the formats compared.
    """

    def run(
        type_sql: str,
        literals: list[str | None],
        arrow_array: pa.Array,
        *,
        field: pa.Field | None = None,
        timezone: str = "UTC",
        formats: tuple[int, ...] = (0, 1),
    ) -> None:
        sql = pg.values(type_sql, literals)
        if timezone != "UTC":
            pg.set_timezone(timezone)
        try:
            for fmt in formats:
                theirs = pg.cells(sql, binary=bool(fmt)).column()
                ours = encode_cells(arrow_array, fmt, field, timezone)
                assert_same(ours, theirs, f"{type_sql} format {fmt}")
        finally:
            if timezone != "UTC":
                pg.set_timezone("UTC")

    return run
