"""The document layer of the transcoder (:class:`mywire.transcode.Transcoder`), fed with
hand-built events: the exact bytes of every format for each shape a response can take.

Every expected document is written out here as literal bytes (or, for msgpack, as the
Python value ``msgpack.packb`` must give the same bytes for); nothing is produced by the
code under test.  The row values are simple (a BIGINT and a VARCHAR); the value rules
themselves are tested against the real server in test_transcode_mariadb.py.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import msgpack  # type: ignore[import-untyped]  # no stubs, no py.typed
import pytest

from mywire.errors import MalformedPacket, MywireError, ProtocolError, ServerError
from mywire.events import ColumnDefinition, Err, Event, Ok, ResultsetEnd, ResultsetStart, Rows
from mywire.rows import decode_rows
from mywire.transcode import Transcoder, transcode

from rowbuild import b_int, binary_row, lenenc, text_row

LONGLONG = 8
VAR_STRING = 253
NULL_TYPE = 6
NEWDECIMAL = 246
MORE_RESULTS = 0x0008

COL_A = ColumnDefinition(
    schema="db",
    table="t",
    org_table="tt",
    name="a",
    org_name="oa",
    character_set=63,
    column_length=20,
    type=LONGLONG,
    flags=3,
)
COL_B = ColumnDefinition(name="b", character_set=45, column_length=400, type=VAR_STRING)
COLS = (COL_A, COL_B)

R1 = text_row([b"1", b"x"])
R2 = text_row([b"-2", None])
R3 = text_row([b"3", b'q"\\\n\xc3\xa9'])
BAD = text_row([b"12x", b"y"])  # not an integer

# ---- json / ndjson pieces
FA = (
    b'{"name":"a","org_name":"oa","table":"t","org_table":"tt","database":"db",'
    b'"type":"LONGLONG","length":20,"flags":3,"charset":63,"decimals":0,'
    b'"extended_type":null,"extended_format":null}'
)
FB = (
    b'{"name":"b","org_name":"","table":"","org_table":"","database":"",'
    b'"type":"VAR_STRING","length":400,"flags":0,"charset":45,"decimals":0,'
    b'"extended_type":null,"extended_format":null}'
)
FIELDS = b"[" + FA + b"," + FB + b"]"
J1 = b'[1,"x"]'
J2 = b"[-2,null]"
J3 = b'[3,"q\\"\\\\\\n\xc3\xa9"]'
HEAD = b'{"fields":' + FIELDS + b',"rows":['
ND_HEAD = b'{"fields":' + FIELDS + b"}\n"

# ---- msgpack pieces (the same document as Python values)
MA: dict[str, object] = {
    "name": "a",
    "org_name": "oa",
    "table": "t",
    "org_table": "tt",
    "database": "db",
    "type": "LONGLONG",
    "length": 20,
    "flags": 3,
    "charset": 63,
    "decimals": 0,
    "extended_type": None,
    "extended_format": None,
}
MB: dict[str, object] = {
    "name": "b",
    "org_name": "",
    "table": "",
    "org_table": "",
    "database": "",
    "type": "VAR_STRING",
    "length": 400,
    "flags": 0,
    "charset": 45,
    "decimals": 0,
    "extended_type": None,
    "extended_format": None,
}
M1: list[object] = [1, "x"]
M2: list[object] = [-2, None]
M3: list[object] = [3, 'q"\\\né']

# ---- psdb pieces
PA = (
    b'{"name":"a","type":"INT64","table":"t","orgTable":"tt","database":"db",'
    b'"orgName":"oa","columnLength":20,"charset":63,"flags":3}'
)
PB = b'{"name":"b","type":"VARCHAR","columnLength":400,"charset":45}'
P1 = b'{"lengths":["1","1"],"values":"MXg="}'
P2 = b'{"lengths":["2","-1"],"values":"LTI="}'
P3 = b'{"lengths":["1","6"],"values":"M3EiXArDqQ=="}'
P_HEAD = b'{"result":{"fields":[' + PA + b"," + PB + b'],"rows":['

START = ResultsetStart(columns=COLS)
END = ResultsetEnd(warnings=1)
ONE_RESULTSET: list[Event] = [START, Rows.of([R1, R2]), Rows.of([R3]), END]

SUBQUERY = Err(code=1242, sqlstate="21000", message="Subquery returns more than 1 row")
SUBQUERY_J = (
    b'{"kind":"server","message":"Subquery returns more than 1 row","code":1242,"sqlstate":"21000"}'
)
SUBQUERY_M = {
    "kind": "server",
    "message": "Subquery returns more than 1 row",
    "code": 1242,
    "sqlstate": "21000",
}
MULTI_J = (
    b'{"kind":"multi","message":"the response holds more than one resultset; use multi=True",'
    b'"code":null,"sqlstate":null}'
)
MULTI_M = {
    "kind": "multi",
    "message": "the response holds more than one resultset; use multi=True",
    "code": None,
    "sqlstate": None,
}


def packb(value: object) -> bytes:
    return msgpack.packb(value, use_bin_type=True)  # type: ignore[no-any-return]


def run(events: Sequence[Event], fmt: str, **options: Any) -> tuple[bytes, Transcoder]:
    """Feed every event, then finish; return the whole output and the transcoder."""
    t = Transcoder(fmt, **options)
    out = b"".join(t.feed(e) for e in events) + t.finish()
    return out, t


def json_string(text: str) -> bytes:
    return json.dumps(text, ensure_ascii=False).encode()


def stats_m(affected: int = 0, insert_id: int = 0, warnings: int = 0) -> dict[str, int]:
    return {"rows_affected": affected, "insert_id": insert_id, "warnings": warnings}


# ------------------------------------------------------------------------ one resultset


def test_one_resultset_json_chunk_by_chunk() -> None:
    """Each event's output as it comes: header, rows, the resultset's end, the closing."""
    t = Transcoder("json")
    assert [t.feed(e) for e in ONE_RESULTSET] + [t.finish()] == [
        HEAD,
        J1 + b"," + J2,
        b"," + J3,
        b'],"rows_affected":0,"insert_id":0,"warnings":1',
        b"}",
    ]
    assert t.stopped is None and t.error is None and t.rows == 3 and t.results == 1


def test_one_resultset_every_format() -> None:
    json_doc, _ = run(ONE_RESULTSET, "json")
    assert json_doc == (
        HEAD + J1 + b"," + J2 + b"," + J3 + b'],"rows_affected":0,"insert_id":0,"warnings":1}'
    )
    ndjson, _ = run(ONE_RESULTSET, "ndjson")
    assert ndjson == (
        ND_HEAD
        + J1
        + b"\n"
        + J2
        + b"\n"
        + J3
        + b"\n"
        + b'{"rows_affected":0,"insert_id":0,"warnings":1}\n'
    )
    mp, _ = run(ONE_RESULTSET, "msgpack")
    assert mp == packb({"fields": [MA, MB], "rows": [M1, M2, M3], **stats_m(warnings=1)})
    psdb, _ = run(ONE_RESULTSET, "psdb")
    assert psdb == P_HEAD + P1 + b"," + P2 + b"," + P3 + b"]}}"


def test_msgpack_is_built_at_the_end() -> None:
    t = Transcoder("msgpack")
    assert [t.feed(e) for e in ONE_RESULTSET] == [b"", b"", b"", b""]
    assert t.finish() == packb({"fields": [MA, MB], "rows": [M1, M2, M3], **stats_m(warnings=1)})


def test_binary_rows_give_the_same_document() -> None:
    cells: list[list[bytes | None]] = [
        [b_int(1, 8), lenenc(b"x")],
        [b_int(-2, 8), None],
        [b_int(3, 8), lenenc(b'q"\\\n\xc3\xa9')],
    ]
    events: list[Event] = [
        ResultsetStart(columns=COLS, binary=True),
        Rows.of([binary_row(c) for c in cells]),
        END,
    ]
    for fmt in ("json", "ndjson", "msgpack", "psdb"):
        assert run(events, fmt)[0] == run(ONE_RESULTSET, fmt)[0], fmt


def test_resultset_with_ok_terminator() -> None:
    """Under DEPRECATE_EOF the resultset ends with an OK carrying the statistics."""
    end = ResultsetEnd(warnings=2, ok=Ok(affected_rows=5, last_insert_id=9, warnings=2, eof=True))
    events: list[Event] = [START, Rows.of([R1]), end]
    assert run(events, "json")[0] == (
        HEAD + J1 + b'],"rows_affected":5,"insert_id":9,"warnings":2}'
    )
    assert run(events, "psdb")[0] == (P_HEAD + P1 + b'],"rowsAffected":"5","insertId":"9"}}')


def test_empty_resultset() -> None:
    events: list[Event] = [START, ResultsetEnd()]
    assert run(events, "json")[0] == HEAD + b'],"rows_affected":0,"insert_id":0,"warnings":0}'
    assert run(events, "ndjson")[0] == (
        ND_HEAD + b'{"rows_affected":0,"insert_id":0,"warnings":0}\n'
    )
    assert run(events, "msgpack")[0] == packb({"fields": [MA, MB], "rows": [], **stats_m()})
    # proto3 JSON leaves out an empty repeated field: no "rows".
    assert run(events, "psdb")[0] == b'{"result":{"fields":[' + PA + b"," + PB + b"]}}"


# ------------------------------------------------------------------------ OK only


def test_ok_only() -> None:
    events: list[Event] = [Ok(affected_rows=3, last_insert_id=7, warnings=1)]
    assert run(events, "json")[0] == (
        b'{"fields":[],"rows":[],"rows_affected":3,"insert_id":7,"warnings":1}'
    )
    assert run(events, "ndjson")[0] == (
        b'{"fields":[]}\n{"rows_affected":3,"insert_id":7,"warnings":1}\n'
    )
    assert run(events, "msgpack")[0] == packb({"fields": [], "rows": [], **stats_m(3, 7, 1)})
    assert run(events, "psdb")[0] == b'{"result":{"rowsAffected":"3","insertId":"7"}}'


def test_ok_with_zeros_in_psdb_is_an_empty_result() -> None:
    assert run([Ok()], "psdb")[0] == b'{"result":{}}'
    assert run([Ok(last_insert_id=4)], "psdb")[0] == b'{"result":{"insertId":"4"}}'
    assert run([Ok(affected_rows=4)], "psdb")[0] == b'{"result":{"rowsAffected":"4"}}'


# ------------------------------------------------------------------------ errors

MISSING = Err(code=1146, sqlstate="42S02", message="Table 'test.t' doesn't exist")
MISSING_J = (
    b'{"kind":"server","message":"Table \'test.t\' doesn\'t exist","code":1146,"sqlstate":"42S02"}'
)
MISSING_M = {
    "kind": "server",
    "message": "Table 'test.t' doesn't exist",
    "code": 1146,
    "sqlstate": "42S02",
}


def test_err_first() -> None:
    doc, t = run([MISSING], "json")
    assert doc == b'{"error":' + MISSING_J + b"}"
    assert t.stopped == "error"
    assert isinstance(t.error, ServerError)
    assert (t.error.code, t.error.sqlstate, t.error.message) == (
        1146,
        "42S02",
        "Table 'test.t' doesn't exist",
    )
    assert run([MISSING], "ndjson")[0] == b'{"error":' + MISSING_J + b"}\n"
    assert run([MISSING], "msgpack")[0] == packb({"error": MISSING_M})
    assert run([MISSING], "psdb")[0] == (
        b'{"error":{"message":"Table \'test.t\' doesn\'t exist (errno 1146) '
        b'(sqlstate 42S02)","code":"NOT_FOUND"}}'
    )
    assert run([MISSING], "json", multi=True)[0] == b'[{"error":' + MISSING_J + b"}]"
    assert run([MISSING], "msgpack", multi=True)[0] == packb([{"error": MISSING_M}])


def test_err_in_the_middle_of_a_resultset() -> None:
    events: list[Event] = [START, Rows.of([R1]), SUBQUERY, Rows.of([R2]), END, Ok()]
    doc, t = run(events, "json")
    assert doc == HEAD + J1 + b'],"error":' + SUBQUERY_J + b"}"
    assert t.stopped == "error" and t.rows == 1
    assert run(events, "ndjson")[0] == ND_HEAD + J1 + b'\n{"error":' + SUBQUERY_J + b"}\n"
    assert run(events, "msgpack")[0] == packb(
        {"fields": [MA, MB], "rows": [M1], "error": SUBQUERY_M}
    )
    assert run(events, "psdb")[0] == (
        P_HEAD
        + P1
        + b']},"error":{"message":"Subquery returns more than 1 row (errno 1242) '
        + b'(sqlstate 21000)","code":"UNKNOWN"}}'
    )
    assert run(events, "json", multi=True)[0] == (
        b"[" + HEAD + J1 + b'],"error":' + SUBQUERY_J + b"}]"
    )
    assert run(events, "msgpack", multi=True)[0] == packb(
        [{"fields": [MA, MB], "rows": [M1], "error": SUBQUERY_M}]
    )


def test_events_after_the_error_are_ignored() -> None:
    t = Transcoder("json")
    t.feed(START)
    t.feed(SUBQUERY)
    assert t.feed(Rows.of([R1])) == b""
    assert t.feed(END) == b""
    assert t.feed(Ok()) == b""
    assert t.feed(MISSING) == b""
    assert t.finish() == b"}"
    assert t.finish() == b""
    assert t.feed(START) == b""


def test_err_after_a_complete_result_with_multi() -> None:
    """A later statement fails: its error is a result of its own in the list."""
    events: list[Event] = [START, Rows.of([R1]), ResultsetEnd(status_flags=MORE_RESULTS), MISSING]
    first_j = HEAD + J1 + b'],"rows_affected":0,"insert_id":0,"warnings":0}'
    assert run(events, "json", multi=True)[0] == (
        b"[" + first_j + b',{"error":' + MISSING_J + b"}]"
    )
    first_m = {"fields": [MA, MB], "rows": [M1], **stats_m()}
    # msgpack is "the same map" as json (mywire/transcode.py docstring).
    assert run(events, "msgpack", multi=True)[0] == packb([first_m, {"error": MISSING_M}])


def test_err_after_a_complete_result_without_multi() -> None:
    """Without multi the document is the first result; a later error joins it."""
    events: list[Event] = [START, Rows.of([R1]), ResultsetEnd(status_flags=MORE_RESULTS), MISSING]
    assert run(events, "json")[0] == (
        HEAD + J1 + b'],"rows_affected":0,"insert_id":0,"warnings":0,"error":' + MISSING_J + b"}"
    )
    assert run(events, "msgpack")[0] == packb(
        {"fields": [MA, MB], "rows": [M1], **stats_m(), "error": MISSING_M}
    )


def test_a_row_that_does_not_decode_ends_the_document() -> None:
    """The rows before the bad one are written; the error names the row's index in the
    resultset (not in its chunk) and the offset in the chunk's buffer."""
    chunk = Rows.of([R2, BAD])
    with pytest.raises(MalformedPacket) as info:
        decode_rows(COLS, chunk.data, chunk.spans, binary=False)
    assert str(info.value) == (
        "malformed row 1: column 0 ('a', LONGLONG) at offset 5: b'12x' is not an integer "
        "(optional '-' and ASCII digits)"
    )
    message = (
        "malformed row 2: column 0 ('a', LONGLONG) at offset 5: b'12x' is not an integer "
        "(optional '-' and ASCII digits)"
    )
    events: list[Event] = [START, Rows.of([R1]), chunk, END]
    member = b'{"kind":"error","message":' + json_string(message) + b',"code":null,"sqlstate":null}'
    doc, t = run(events, "json")
    assert doc == HEAD + J1 + b"," + J2 + b'],"error":' + member + b"}"
    assert t.stopped == "error" and isinstance(t.error, MalformedPacket)
    assert str(t.error) == message and t.error.offset == 5
    assert t.rows == 2
    assert run(events, "psdb")[0] == (
        P_HEAD
        + P1
        + b","
        + P2
        + b']},"error":{"message":'
        + json_string(message)
        + b',"code":"UNKNOWN"}}'
    )


# ------------------------------------------------------------------------ several results

A_ONLY = ResultsetStart(columns=(COL_A,))
B_ONLY = ResultsetStart(columns=(COL_B,))
THREE: list[Event] = [
    A_ONLY,
    Rows.of([text_row([b"1"])]),
    ResultsetEnd(status_flags=MORE_RESULTS),
    Ok(affected_rows=2, status_flags=MORE_RESULTS),
    B_ONLY,
    Rows.of([text_row([b"y"])]),
    ResultsetEnd(),
]
FIRST_J = b'{"fields":[' + FA + b'],"rows":[[1]],"rows_affected":0,"insert_id":0,"warnings":0}'
OK_J = b'{"fields":[],"rows":[],"rows_affected":2,"insert_id":0,"warnings":0}'
THIRD_J = b'{"fields":[' + FB + b'],"rows":[["y"]],"rows_affected":0,"insert_id":0,"warnings":0}'


def test_multi_is_a_list_of_results() -> None:
    doc, t = run(THREE, "json", multi=True)
    assert doc == b"[" + FIRST_J + b"," + OK_J + b"," + THIRD_J + b"]"
    assert t.stopped is None and t.results == 3 and t.rows == 2
    assert run(THREE, "msgpack", multi=True)[0] == packb(
        [
            {"fields": [MA], "rows": [[1]], **stats_m()},
            {"fields": [], "rows": [], **stats_m(2)},
            {"fields": [MB], "rows": [["y"]], **stats_m()},
        ]
    )
    ndjson = (
        b'{"fields":[' + FA + b"]}\n[1]\n"
        b'{"rows_affected":0,"insert_id":0,"warnings":0}\n'
        b'{"fields":[]}\n{"rows_affected":2,"insert_id":0,"warnings":0}\n'
        b'{"fields":[' + FB + b']}\n["y"]\n'
        b'{"rows_affected":0,"insert_id":0,"warnings":0}\n'
    )
    assert run(THREE, "ndjson", multi=True)[0] == ndjson
    # ndjson writes every result whatever multi says.
    nd, t = run(THREE, "ndjson")
    assert nd == ndjson and t.stopped is None


def test_second_resultset_without_multi_is_an_error() -> None:
    """The OK in between is left out; the second resultset ends the document."""
    doc, t = run(THREE, "json")
    assert doc == FIRST_J[:-1] + b',"error":' + MULTI_J + b"}"
    assert t.stopped == "multi" and t.results == 1 and t.rows == 1
    assert isinstance(t.error, MywireError)
    assert run(THREE, "msgpack")[0] == packb(
        {"fields": [MA], "rows": [[1]], **stats_m(), "error": MULTI_M}
    )
    assert run(THREE, "psdb")[0] == (
        b'{"result":{"fields":[' + PA + b'],"rows":[{"lengths":["1"],"values":"MQ=="}]},'
        b'"error":{"message":"the response holds more than one resultset; use multi=True",'
        b'"code":"INVALID_ARGUMENT"}}'
    )


def test_procedure_trailing_ok_is_dropped_without_multi() -> None:
    events: list[Event] = [
        START,
        Rows.of([R1]),
        ResultsetEnd(status_flags=MORE_RESULTS),
        Ok(status_flags=2),
    ]
    single = HEAD + J1 + b'],"rows_affected":0,"insert_id":0,"warnings":0}'
    doc, t = run(events, "json")
    assert doc == single and t.stopped is None and t.results == 1
    assert run(events, "msgpack")[0] == packb({"fields": [MA, MB], "rows": [M1], **stats_m()})
    assert run(events, "psdb")[0] == P_HEAD + P1 + b"]}}"
    assert run(events, "json", multi=True)[0] == (
        b"[" + single + b',{"fields":[],"rows":[],"rows_affected":0,"insert_id":0,"warnings":0}]'
    )
    assert run(events, "ndjson")[0] == (
        ND_HEAD
        + J1
        + b'\n{"rows_affected":0,"insert_id":0,"warnings":0}\n'
        + b'{"fields":[]}\n{"rows_affected":0,"insert_id":0,"warnings":0}\n'
    )


# ------------------------------------------------------------------------ finish(extra)

EXTRA = {"session": {"id": "s1", "n": [1, 2]}, "timing": 0.25}
EXTRA_J = b'"session":{"id":"s1","n":[1,2]},"timing":0.25'


def test_finish_extra() -> None:
    t = Transcoder("json")
    body = b"".join(t.feed(e) for e in ONE_RESULTSET)
    assert t.finish(EXTRA) == b"," + EXTRA_J + b"}"
    assert body.endswith(b'"warnings":1')
    t = Transcoder("psdb")
    body = b"".join(t.feed(e) for e in ONE_RESULTSET)
    assert body + t.finish(EXTRA) == (P_HEAD + P1 + b"," + P2 + b"," + P3 + b"]}," + EXTRA_J + b"}")
    t = Transcoder("psdb")
    assert t.feed(MISSING) + t.finish(EXTRA) == (
        b'{"error":{"message":"Table \'test.t\' doesn\'t exist (errno 1146) '
        b'(sqlstate 42S02)","code":"NOT_FOUND"},' + EXTRA_J + b"}"
    )
    t = Transcoder("ndjson")
    b"".join(t.feed(e) for e in ONE_RESULTSET)
    assert t.finish(EXTRA) == b"{" + EXTRA_J + b"}\n"
    t = Transcoder("msgpack")
    for e in ONE_RESULTSET:
        t.feed(e)
    assert t.finish(EXTRA) == packb(
        {"fields": [MA, MB], "rows": [M1, M2, M3], **stats_m(warnings=1), **EXTRA}
    )


# ------------------------------------------------------------------------ psdb fields

NULL_COL = ColumnDefinition(name="n", character_set=63, type=NULL_TYPE)
DEC_COL = ColumnDefinition(
    name="d", character_set=63, type=NEWDECIMAL, column_length=12, decimals=2, flags=0x20
)
U64_COL = ColumnDefinition(name="u", character_set=63, type=LONGLONG, flags=0x20)


def test_psdb_proto3_leaves_out_defaults() -> None:
    """Empty strings, zeros and NULL_TYPE's type are left out; a row of NULLs still has
    ``"values":""``; no rowsAffected/insertId when they are 0."""
    events: list[Event] = [
        ResultsetStart(columns=(NULL_COL, DEC_COL, U64_COL)),
        Rows.of(
            [text_row([None, None, None]), text_row([None, b"-1.50", b"18446744073709551615"])]
        ),
        ResultsetEnd(ok=Ok(last_insert_id=0, affected_rows=0)),
    ]
    assert run(events, "psdb")[0] == (
        b'{"result":{"fields":[{"name":"n","charset":63},'
        b'{"name":"d","type":"DECIMAL","columnLength":12,"charset":63,"decimals":2,"flags":32},'
        b'{"name":"u","type":"UINT64","charset":63,"flags":32}],'
        b'"rows":[{"lengths":["-1","-1","-1"],"values":""},'
        b'{"lengths":["-1","5","20"],"values":"LTEuNTAxODQ0Njc0NDA3MzcwOTU1MTYxNQ=="}]}}'
    )


# ------------------------------------------------------------------------ limits


def limit_j(kind: str, message: str) -> bytes:
    return (
        b'{"kind":"limit","message":"' + message.encode() + b'","code":null,"sqlstate":null,'
        b'"limit":"' + kind.encode() + b'"}'
    )


ROW_LIMIT_J = limit_j("max_rows", "Row count exceeded 3")
ROW_LIMIT_M = {
    "kind": "limit",
    "message": "Row count exceeded 3",
    "code": None,
    "sqlstate": None,
    "limit": "max_rows",
}
FOUR: list[Event] = [START, Rows.of([R1, R2]), Rows.of([R3, R1]), END]


def test_max_rows_exactly_at_the_limit_is_complete() -> None:
    for fmt in ("json", "ndjson", "msgpack", "psdb"):
        doc, t = run(ONE_RESULTSET, fmt, max_rows=3)
        assert doc == run(ONE_RESULTSET, fmt)[0], fmt
        assert t.stopped is None and t.rows == 3, fmt


def test_max_rows_one_over() -> None:
    doc, t = run(FOUR, "json", max_rows=3)
    assert doc == HEAD + J1 + b"," + J2 + b"," + J3 + b'],"error":' + ROW_LIMIT_J + b"}"
    assert t.stopped == "max_rows" and t.rows == 3
    assert run(FOUR, "ndjson", max_rows=3)[0] == (
        ND_HEAD + J1 + b"\n" + J2 + b"\n" + J3 + b'\n{"error":' + ROW_LIMIT_J + b"}\n"
    )
    assert run(FOUR, "msgpack", max_rows=3)[0] == packb(
        {"fields": [MA, MB], "rows": [M1, M2, M3], "error": ROW_LIMIT_M}
    )
    assert run(FOUR, "psdb", max_rows=3)[0] == (
        P_HEAD
        + P1
        + b","
        + P2
        + b","
        + P3
        + b']},"error":{"message":"Row count exceeded 3","code":"ABORTED"}}'
    )
    # The limit inside one chunk.
    in_one: list[Event] = [START, Rows.of([R1, R2, R3, R1]), END]
    assert run(in_one, "json", max_rows=3)[0] == doc


def test_max_rows_counts_every_result() -> None:
    doc, t = run(THREE, "json", multi=True, max_rows=1)
    limit = limit_j("max_rows", "Row count exceeded 1")
    assert doc == (
        b"["
        + FIRST_J
        + b","
        + OK_J
        + b',{"fields":['
        + FB
        + b'],"rows":[],"error":'
        + limit
        + b"}]"
    )
    assert t.stopped == "max_rows"


def test_max_rows_zero() -> None:
    assert run([START, END], "json", max_rows=0)[0] == run([START, END], "json")[0]
    doc, t = run(ONE_RESULTSET, "json", max_rows=0)
    assert doc == HEAD + b'],"error":' + limit_j("max_rows", "Row count exceeded 0") + b"}"


IN_ONE_CHUNK: list[Event] = [START, Rows.of([R1, R2, R3]), END]


@pytest.mark.parametrize("chunks", ["2+1", "3"])
@pytest.mark.parametrize("fmt", ["json", "ndjson", "psdb"])
def test_max_bytes_boundary(fmt: str, chunks: str) -> None:
    """Everything before the closing fits in max_bytes - CLOSING_RESERVE (1024): at
    exactly that size the document is complete, one byte less drops the last row
    (whether the rows come in one chunk or two)."""
    events = ONE_RESULTSET if chunks == "2+1" else IN_ONE_CHUNK
    head, rows, sep, tail = {
        "json": (HEAD, [J1, J2, J3], b",", b'],"rows_affected":0,"insert_id":0,"warnings":1}'),
        "ndjson": (
            ND_HEAD,
            [J1 + b"\n", J2 + b"\n", J3 + b"\n"],
            b"",
            b'{"rows_affected":0,"insert_id":0,"warnings":1}\n',
        ),
        "psdb": (P_HEAD, [P1, P2, P3], b",", b"]}}"),
    }[fmt]
    exact = 1024 + len(head) + len(sep.join(rows))
    doc, t = run(events, fmt, max_bytes=exact)
    assert doc == head + sep.join(rows) + tail
    assert t.stopped is None
    doc, t = run(events, fmt, max_bytes=exact - 1)
    message = f"Response size exceeded {exact - 1} bytes"
    assert t.stopped == "max_bytes" and t.rows == 2
    if fmt == "json":
        assert doc == head + J1 + b"," + J2 + b'],"error":' + limit_j("max_bytes", message) + b"}"
    elif fmt == "ndjson":
        assert doc == (
            head + J1 + b"\n" + J2 + b'\n{"error":' + limit_j("max_bytes", message) + b"}\n"
        )
    else:
        assert doc == (
            head
            + P1
            + b","
            + P2
            + b']},"error":{"message":"'
            + message.encode()
            + b'","code":"RESOURCE_EXHAUSTED"}}'
        )


def test_max_bytes_before_the_first_row() -> None:
    """The header alone leaves no room: no rows, the error."""
    doc, t = run(ONE_RESULTSET, "json", max_bytes=1024 + len(HEAD))
    assert (
        doc
        == HEAD
        + b'],"error":'
        + limit_j("max_bytes", f"Response size exceeded {1024 + len(HEAD)} bytes")
        + b"}"
    )
    assert t.rows == 0


def test_max_bytes_msgpack_stops() -> None:
    doc, t = run(ONE_RESULTSET, "msgpack", max_bytes=1024)
    assert t.stopped == "max_bytes"
    got = msgpack.unpackb(doc)
    assert got["error"] == {
        "kind": "limit",
        "message": "Response size exceeded 1024 bytes",
        "code": None,
        "sqlstate": None,
        "limit": "max_bytes",
    }
    assert got["rows"] == [M1, M2, M3][: len(got["rows"])]
    assert len(doc) <= 1024


# ------------------------------------------------------------------------ fail / finish


def test_fail_after_partial_output() -> None:
    lost = ConnectionResetError("Connection reset by peer")
    lost_j = b'{"kind":"error","message":"Connection reset by peer","code":null,"sqlstate":null}'
    t = Transcoder("json")
    body = t.feed(START) + t.feed(Rows.of([R1]))
    assert body == HEAD + J1
    assert t.fail(lost) == b'],"error":' + lost_j
    assert t.fail(lost) == b""
    assert t.feed(END) == b""
    assert t.finish() == b"}"
    assert t.stopped == "error" and t.error is lost
    expected = {
        "ndjson": ND_HEAD + J1 + b'\n{"error":' + lost_j + b"}\n",
        "psdb": P_HEAD
        + P1
        + b']},"error":{"message":"Connection reset by peer","code":"UNKNOWN"}}',
    }
    for fmt, want in expected.items():
        t = Transcoder(fmt)
        out = t.feed(START) + t.feed(Rows.of([R1])) + t.fail(lost) + t.finish()
        assert out == want, fmt
    t = Transcoder("msgpack")
    t.feed(START)
    t.feed(Rows.of([R1]))
    assert t.fail(lost) == b""
    assert t.finish() == packb(
        {
            "fields": [MA, MB],
            "rows": [M1],
            "error": {
                "kind": "error",
                "message": "Connection reset by peer",
                "code": None,
                "sqlstate": None,
            },
        }
    )


def test_fail_with_a_server_error() -> None:
    """A lost connection reported as CR_SERVER_LOST is a server error (UNAVAILABLE)."""
    gone = ServerError(2013, "HY000", "Lost connection to server")
    t = Transcoder("json")
    assert t.fail(gone) + t.finish() == (
        b'{"error":{"kind":"server","message":"Lost connection to server","code":2013,'
        b'"sqlstate":"HY000"}}'
    )
    t = Transcoder("psdb")
    assert t.feed(START) + t.fail(gone) + t.finish() == (
        b'{"result":{"fields":[' + PA + b"," + PB + b']},"error":{"message":'
        b'"Lost connection to server (errno 2013) (sqlstate HY000)","code":"UNAVAILABLE"}}'
    )


def test_finish_inside_a_resultset_is_an_error() -> None:
    ended = (
        b'{"kind":"error","message":"the response ended inside a resultset","code":null,'
        b'"sqlstate":null}'
    )
    events: list[Event] = [START, Rows.of([R1])]
    doc, t = run(events, "json")
    assert doc == HEAD + J1 + b'],"error":' + ended + b"}"
    assert t.stopped == "error" and isinstance(t.error, ProtocolError)
    assert run(events, "ndjson")[0] == ND_HEAD + J1 + b'\n{"error":' + ended + b"}\n"
    assert run(events, "psdb")[0] == (
        P_HEAD
        + P1
        + b']},"error":{"message":"the response ended inside a resultset","code":"UNKNOWN"}}'
    )
    assert run(events, "msgpack")[0] == packb(
        {
            "fields": [MA, MB],
            "rows": [M1],
            "error": {
                "kind": "error",
                "message": "the response ended inside a resultset",
                "code": None,
                "sqlstate": None,
            },
        }
    )
    assert run(events, "json", multi=True)[0] == b"[" + HEAD + J1 + b'],"error":' + ended + b"}]"


# ------------------------------------------------------------------------ options


def test_int64_as_string_and_decimal_as_number() -> None:
    events: list[Event] = [
        ResultsetStart(columns=(COL_A, DEC_COL)),
        Rows.of([text_row([b"-9223372036854775808", b"-012.50"]), text_row([None, b"0.00"])]),
        ResultsetEnd(),
    ]
    doc, _ = run(events, "json", int64_as_string=True, decimal_as_number=True)
    assert doc.endswith(
        b'"rows":[["-9223372036854775808",-12.50],[null,0.00]],'
        b'"rows_affected":0,"insert_id":0,"warnings":0}'
    )
    mp, _ = run(events, "msgpack", int64_as_string=True, decimal_as_number=True)
    assert msgpack.unpackb(mp)["rows"] == [["-9223372036854775808", -12.5], [None, 0.0]]
    plain, _ = run(events, "json")
    assert plain.endswith(
        b'"rows":[[-9223372036854775808,"-012.50"],[null,"0.00"]],'
        b'"rows_affected":0,"insert_id":0,"warnings":0}'
    )


def test_constructor_refuses_bad_options() -> None:
    with pytest.raises(
        ValueError,
        match=r"^unknown format 'xml'; expected one of "
        r"json, ndjson, msgpack, psdb$",
    ):
        Transcoder("xml")
    with pytest.raises(ValueError, match="^the psdb format has no multi-result form$"):
        Transcoder("psdb", multi=True)
    with pytest.raises(ValueError, match="^max_bytes must be at least 1024$"):
        Transcoder("json", max_bytes=1023)
    with pytest.raises(ValueError, match="^max_rows must not be negative$"):
        Transcoder("json", max_rows=-1)


def test_transcode_function_is_the_transcoder() -> None:
    for fmt in ("json", "ndjson", "msgpack", "psdb"):
        assert transcode(ONE_RESULTSET, fmt) == run(ONE_RESULTSET, fmt)[0]
    assert transcode(THREE, "json", multi=True) == run(THREE, "json", multi=True)[0]
