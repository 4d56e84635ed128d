"""Generated resultsets end to end: built rows → server connection → bytes delivered
whole, byte by byte or in random chunks → client connection → row chunks → decoded.

This is the resultset path a real client runs, on both backends (the autouse fixture),
and the decoded values must equal the values the rows were built from.
"""

from __future__ import annotations

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mywire.events import ResultsetEnd, ResultsetStart, Rows, StmtExecute
from mywire.rows import decode_rows

from rowbuild import Resultset, same, typed_resultsets
from test_connection import logged_in


@settings(max_examples=60, deadline=None)
@given(
    rs=typed_resultsets(max_rows=8),
    delivery=st.sampled_from(["whole", "bytewise", "chunks"]),
    binary=st.booleans(),
)
def test_generated_resultsets_through_a_connection_pair(
    rs: Resultset, delivery: str, binary: bool
) -> None:
    assume(rs.columns)  # a resultset has at least one column
    pair = logged_in(delivery)
    if binary:
        pair.to_server(pair.client.send(StmtExecute(statement_id=1)))
        payloads = rs.binary_payloads()
    else:
        pair.to_server(pair.client.query("SELECT generated"))
        payloads = rs.text_payloads()
    events = pair.to_client(pair.server.resultset(rs.columns, payloads))
    start, *chunks, end = events
    assert isinstance(start, ResultsetStart) and isinstance(end, ResultsetEnd)
    assert start.columns == rs.columns
    assert start.binary is binary
    rows: list[tuple[object, ...]] = []
    for chunk in chunks:
        assert isinstance(chunk, Rows)
        rows += decode_rows(start.columns, chunk.data, chunk.spans, binary=binary)
    expected = rs.binary_values() if binary else rs.text_values()
    assert same(rows, expected)
