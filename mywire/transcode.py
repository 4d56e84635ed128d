"""Resultsets straight from wire bytes to JSON, NDJSON, msgpack or PlanetScale's psdb shape.

Theory of operation
-------------------
A :class:`Transcoder` is fed the events a :class:`~mywire.connection.ClientConnection`
produces for one command (``ResultsetStart``, ``Rows`` chunks, ``ResultsetEnd``, ``Ok``,
``Err``) and returns output bytes as it goes; :meth:`Transcoder.finish` returns the
closing bytes.  Row chunks go to the selected backend's ``transcode_rows`` (one C call
per chunk of many rows; the value rules are in :mod:`mywire._tcspec`), everything else
(field metadata, the document's shape, errors, limits) is written here, once, for both
backends.  Memory is bounded by the chunk and its output, never by the resultset, except
for ``msgpack``, whose document states its row count up front and is therefore built
when the response ends (bounded by ``max_bytes``).

Documents (``json``; ``msgpack`` is the same map)::

    {"fields":[F,...],"rows":[[v,...],...],"rows_affected":N,"insert_id":N,"warnings":N}

with ``multi=True`` a list of such results (one per resultset or OK).  A field ``F`` is
``{"name","org_name","table","org_table","database","type","length","flags","charset",
"decimals","extended_type","extended_format"}``; ``type`` is MySQL's type name without
``MYSQL_TYPE_`` (``LONGLONG``, ``VAR_STRING``, ``NEWDECIMAL``...).  ``ndjson`` writes
per result a header line ``{"fields":[...]}``, one line per row, and a trailer line
``{"rows_affected":N,"insert_id":N,"warnings":N}``.  ``psdb`` writes the Execute response
of PlanetScale's HTTP API without ``session`` and ``timing`` (which a gateway passes to
:meth:`Transcoder.finish` as ``extra``): ``{"result":{"fields":[...],"rows":[...],
"rowsAffected":"N","insertId":"N"}}`` in proto3 JSON.

Errors and limits never cut a document short: a server ERR (also in the middle of a
resultset), a row that does not decode, a lost connection (:meth:`Transcoder.fail`) or a
limit (``max_rows``, ``max_bytes``) ends the output with an ``error`` member
(``{"kind","message","code","sqlstate"}``; in ndjson an ``{"error":...}`` trailer line;
in psdb ``{"message":"... (errno N) (sqlstate S)","code":"<vtrpc code>"}``), and then
:attr:`Transcoder.stopped` says why; later events are ignored.  A document without an
``error`` member is complete.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

import msgpack  # type: ignore[import-untyped]  # no stubs, no py.typed

from . import _backend
from . import _tcspec as T
from .errors import MywireError, ProtocolError, ServerError
from .events import ColumnDefinition, Err, Event, Ok, ResultsetEnd, ResultsetStart, Rows

__all__ = ["FORMATS", "Transcoder", "psdb_error_code", "transcode"]

FORMATS = tuple(T.FORMATS)

#: Output kept back from ``max_bytes`` for the closing bytes and an error member.
CLOSING_RESERVE = 1024

_UNLIMITED = sys.maxsize


def _dumps(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _packb(value: object) -> bytes:
    return msgpack.packb(value, use_bin_type=True)  # type: ignore[no-any-return]


def field_dict(c: ColumnDefinition) -> dict[str, object]:
    """A column's metadata as json/ndjson/msgpack documents carry it."""
    return {
        "name": c.name,
        "org_name": c.org_name,
        "table": c.table,
        "org_table": c.org_table,
        "database": c.schema,
        "type": T.field_type_name(c.type),
        "length": c.column_length,
        "flags": c.flags,
        "charset": c.character_set,
        "decimals": c.decimals,
        "extended_type": c.extended_type,
        "extended_format": c.extended_format,
    }


def psdb_field(c: ColumnDefinition) -> dict[str, object]:
    """A column as a ``vitess.query.Field`` in proto3 JSON (defaults omitted)."""
    vt = T.vitess_type(c)
    items: list[tuple[str, object]] = [
        ("name", c.name),
        ("type", "" if vt == "NULL_TYPE" else vt),
        ("table", c.table),
        ("orgTable", c.org_table),
        ("database", c.schema),
        ("orgName", c.org_name),
        ("columnLength", c.column_length),
        ("charset", c.character_set),
        ("decimals", c.decimals),
        ("flags", c.flags),
    ]
    return {k: v for k, v in items if v}


@lru_cache(maxsize=256)
def _fields_bytes(columns: tuple[ColumnDefinition, ...], fmt: int) -> bytes:
    if fmt == T.F_PSDB:
        return _dumps([psdb_field(c) for c in columns])
    return _dumps([field_dict(c) for c in columns])


#: MySQL error codes → vtrpc.Code names, as Vitess maps them (the rest: UNKNOWN).
_VTRPC_CODES: dict[int, str] = {
    1045: "UNAUTHENTICATED",  # ER_ACCESS_DENIED_ERROR
    1044: "PERMISSION_DENIED",  # ER_DBACCESS_DENIED_ERROR
    1142: "PERMISSION_DENIED",  # ER_TABLEACCESS_DENIED_ERROR
    1143: "PERMISSION_DENIED",  # ER_COLUMNACCESS_DENIED_ERROR
    1227: "PERMISSION_DENIED",  # ER_SPECIFIC_ACCESS_DENIED_ERROR
    1049: "NOT_FOUND",  # ER_BAD_DB_ERROR
    1146: "NOT_FOUND",  # ER_NO_SUCH_TABLE
    1054: "NOT_FOUND",  # ER_BAD_FIELD_ERROR
    1062: "ALREADY_EXISTS",  # ER_DUP_ENTRY
    1050: "ALREADY_EXISTS",  # ER_TABLE_EXISTS_ERROR
    1064: "INVALID_ARGUMENT",  # ER_PARSE_ERROR
    1149: "INVALID_ARGUMENT",  # ER_SYNTAX_ERROR
    1366: "INVALID_ARGUMENT",  # ER_TRUNCATED_WRONG_VALUE_FOR_FIELD
    1406: "INVALID_ARGUMENT",  # ER_DATA_TOO_LONG
    1048: "INVALID_ARGUMENT",  # ER_BAD_NULL_ERROR
    1452: "FAILED_PRECONDITION",  # ER_NO_REFERENCED_ROW_2
    1451: "FAILED_PRECONDITION",  # ER_ROW_IS_REFERENCED_2
    1213: "ABORTED",  # ER_LOCK_DEADLOCK
    1205: "DEADLINE_EXCEEDED",  # ER_LOCK_WAIT_TIMEOUT
    3024: "DEADLINE_EXCEEDED",  # ER_QUERY_TIMEOUT (MySQL)
    1969: "DEADLINE_EXCEEDED",  # ER_STATEMENT_TIMEOUT (MariaDB)
    1317: "CANCELED",  # ER_QUERY_INTERRUPTED
    1040: "RESOURCE_EXHAUSTED",  # ER_CON_COUNT_ERROR
    1290: "READ_ONLY",  # ER_OPTION_PREVENTS_STATEMENT (read-only)
    1792: "READ_ONLY",  # ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION
    2013: "UNAVAILABLE",  # CR_SERVER_LOST
    2006: "UNAVAILABLE",  # CR_SERVER_GONE_ERROR
}


def psdb_error_code(errno: int) -> str:
    """The ``vtrpc.Code`` name PlanetScale's API reports for a MySQL error code."""
    return _VTRPC_CODES.get(errno, "UNKNOWN")


class _Stop(Exception):
    """Internal: the document was ended with an error member; ignore what follows."""


class Transcoder:
    """Incremental transcoder for the events of one command's response.

    Args:
        format: ``"json"``, ``"ndjson"``, ``"msgpack"`` or ``"psdb"``.
        multi: write a list of results (json, msgpack); without it the document is the
            first result, a later OK (such as a procedure's closing OK) is left out,
            and a second resultset ends the document with an error.
        int64_as_string: LONGLONG columns as strings (for JavaScript clients).
        decimal_as_number: DECIMAL as numbers instead of exact strings.
        max_rows: end the output with a ``limit`` error when a row beyond this many
            arrives.
        max_bytes: end the output with a ``limit`` error before it would exceed this
            many bytes (``CLOSING_RESERVE`` of it is kept for the closing).

    ``feed`` never raises for what the server sent: errors become the document's
    ``error`` member.  The output is complete when :attr:`stopped` is None.
    """

    def __init__(
        self,
        format: str = "json",
        *,
        multi: bool = False,
        int64_as_string: bool = False,
        decimal_as_number: bool = False,
        max_rows: int | None = None,
        max_bytes: int | None = None,
    ) -> None:
        if format not in T.FORMATS:
            raise ValueError(f"unknown format {format!r}; expected one of {', '.join(FORMATS)}")
        if format == "psdb" and multi:
            raise ValueError("the psdb format has no multi-result form")
        if max_bytes is not None and max_bytes < CLOSING_RESERVE:
            raise ValueError(f"max_bytes must be at least {CLOSING_RESERVE}")
        if max_rows is not None and max_rows < 0:
            raise ValueError("max_rows must not be negative")
        self.format = format
        self._fmt = T.FORMATS[format]
        self.multi = multi
        self._int64_as_string = int64_as_string
        self._decimal_as_number = decimal_as_number
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        #: Rows written so far (all results).
        self.rows = 0
        #: Bytes of output so far (msgpack: of the document being built).
        self.size = 0
        #: Why the output ended early (``"error"``, ``"max_rows"``, ``"max_bytes"``,
        #: ``"multi"``), or None.
        self.stopped: str | None = None
        #: The error that ended the output, if any.
        self.error: BaseException | None = None
        self._results = 0  # results begun
        self._elements = 0  # top-level elements of a multi document (results, lone errors)
        self._tspec: T.TSpec | None = None
        self._binary = False
        self._in_rows = False  # between ResultsetStart and ResultsetEnd
        self._rows_open = False  # json/psdb: the rows array is open
        self._result_rows = 0
        self._started = False  # the document's first bytes were written
        self._result_open = False  # a result object is open
        self._members = 0  # members written in the open result object
        self._finished = False
        # msgpack: the document, as results of Python values and row chunks.
        self._mp_results: list[dict[str, Any]] = []
        self._mp_rows: list[bytes] = []

    # ------------------------------------------------------------------ public
    @property
    def results(self) -> int:
        """Results (resultsets and OKs) begun so far."""
        return self._results

    @property
    def elements(self) -> int:
        """Elements of the list a ``multi`` document holds so far (results, and an error
        that came after the last result)."""
        return self._elements

    def feed(self, event: Event) -> bytes:
        """Take one event; return the output it produced (often ``b""``)."""
        if self.stopped is not None or self._finished:
            return b""
        out: list[bytes] = []
        try:
            if isinstance(event, Rows):
                self._rows(event, out)
            elif isinstance(event, ResultsetStart):
                self._start(event.columns, event.binary, out)
            elif isinstance(event, ResultsetEnd):
                if self._in_rows:
                    ok = event.ok
                    self._close_rows(out)
                    self._stats(
                        ok.affected_rows if ok else 0,
                        ok.last_insert_id if ok else 0,
                        event.warnings,
                        out,
                    )
            elif isinstance(event, Ok):
                self._ok(event, out)
            elif isinstance(event, Err):
                self._fail(ServerError(event.code, event.sqlstate, event.message), "server", out)
        except _Stop:
            pass
        except MywireError as exc:  # a row that does not decode: the chunk is dropped
            try:
                self._fail(exc, "error", out)
            except _Stop:
                pass
        return self._emit(out)

    def fail(self, error: BaseException) -> bytes:
        """End the output with ``error`` (a lost connection, a timeout, ...)."""
        if self.stopped is not None or self._finished:
            return b""
        out: list[bytes] = []
        kind = "server" if isinstance(error, ServerError) else "error"
        try:
            self._fail(error, kind, out)
        except _Stop:
            pass
        return self._emit(out)

    def finish(self, extra: Mapping[str, object] | None = None) -> bytes:
        """Close the document and return its last bytes.

        ``extra`` adds members to the outermost object (json without ``multi``, psdb:
        a gateway's ``session`` and ``timing``; msgpack without ``multi``), or a last
        line (ndjson).  A response that ended inside a resultset ends with an error.
        """
        if self._finished:
            return b""
        out: list[bytes] = []
        if self.stopped is None and self._in_rows:
            lost = ProtocolError(
                "the response ended inside a resultset",
                offset=0,
                expected="the end of the resultset",
            )
            try:
                self._fail(lost, "error", out)
            except _Stop:
                pass
        self._finished = True
        fmt = self._fmt
        if fmt == T.F_MSGPACK:
            return self._finish_msgpack(extra)
        if fmt == T.F_NDJSON:
            if extra:
                out.append(_dumps(dict(extra)) + b"\n")
            return self._emit(out)
        if not self._started:
            self._begin_document(out)
        if fmt == T.F_JSON and self.multi:
            if self._result_open:
                out.append(b"}")
            out.append(b"]")
            return self._emit(out)
        if fmt == T.F_PSDB and self._result_open:
            out.append(b"}")
            self._result_open = False
        for key, value in (extra or {}).items():
            out.append(b"," + _dumps(key) + b":" + _dumps(value))
        out.append(b"}")
        return self._emit(out)

    # ------------------------------------------------------------------ pieces
    def _emit(self, out: list[bytes]) -> bytes:
        if self._fmt == T.F_MSGPACK:
            return b""
        data = b"".join(out)
        self.size += len(data)
        return data

    def _member(self, out: list[bytes], member: bytes) -> None:
        out.append(b"," + member if self._members else member)
        self._members += 1

    def _begin_document(self, out: list[bytes]) -> None:
        """The document's opening: the psdb wrapper, or json's "{" / "["."""
        self._started = True
        if self._fmt == T.F_PSDB:
            out.append(b'{"result":{')
            self._result_open = True
        elif self._fmt == T.F_JSON:
            out.append(b"[" if self.multi else b"{")
            self._result_open = not self.multi

    def _begin_result(self, out: list[bytes]) -> None:
        """Open a result (or refuse a second one without ``multi``)."""
        if not self._started:
            self._begin_document(out)
        self._results += 1
        if self._results > 1 and not self.multi and self._fmt != T.F_NDJSON:
            self._results -= 1
            self._fail(
                MywireError("the response holds more than one resultset; use multi=True"),
                "multi",
                out,
            )
        self._elements += 1
        if self._fmt == T.F_JSON and self.multi:
            out.append(b",{" if self._elements > 1 else b"{")
            self._result_open = True
            self._members = 0
        elif self._fmt == T.F_MSGPACK:
            self._mp_results.append({})
            self._result_open = True

    def _start(self, columns: tuple[ColumnDefinition, ...], binary: bool, out: list[bytes]) -> None:
        self._begin_result(out)
        self._tspec = T.tspec_for(columns, self._int64_as_string, self._decimal_as_number)
        self._binary = binary
        self._in_rows = True
        self._result_rows = 0
        fmt = self._fmt
        fields = _fields_bytes(columns, fmt)
        if fmt == T.F_JSON:
            self._member(out, b'"fields":' + fields)
            self._member(out, b'"rows":[')
            self._rows_open = True
        elif fmt == T.F_NDJSON:
            out.append(b'{"fields":' + fields + b"}\n")
        elif fmt == T.F_PSDB:
            if columns:
                self._member(out, b'"fields":' + fields)
        else:
            self._mp_results[-1]["fields"] = [field_dict(c) for c in columns]
            self._mp_rows = []
            self.size += len(fields)

    def _rows(self, event: Rows, out: list[bytes]) -> None:
        if not self._in_rows or self._tspec is None:
            return
        spans = event.spans
        total = len(spans) // 2
        first = 0
        while first < total:
            count = total - first
            if self.max_rows is not None and self.rows + count > self.max_rows:
                count = self.max_rows - self.rows
                if count == 0:
                    self._fail(MywireError(f"Row count exceeded {self.max_rows}"), "max_rows", out)
            if self._fmt == T.F_PSDB and not self._rows_open:
                self._member(out, b'"rows":[')
                self._rows_open = True
            budget = _UNLIMITED
            if self.max_bytes is not None:
                pending = sum(map(len, out))
                budget = max(self.max_bytes - CLOSING_RESERVE - self.size - pending, 0)
            try:
                data, done = _backend.IMPL.transcode_rows(
                    self._tspec,
                    event.data,
                    spans,
                    first,
                    count,
                    binary=self._binary,
                    fmt=self._fmt,
                    sep=self._result_rows > 0,
                    budget=budget,
                )
            except MywireError as exc:
                self._bad_row(exc, event, first, budget, out)
                raise
            if self._fmt == T.F_MSGPACK:
                self._mp_rows.append(data)
                self.size += len(data)
            else:
                out.append(data)
            self._result_rows += done
            self.rows += done
            first += done
            if done < count:
                self._fail(
                    MywireError(f"Response size exceeded {self.max_bytes} bytes"),
                    "max_bytes",
                    out,
                )

    def _bad_row(
        self, exc: MywireError, event: Rows, first: int, budget: int, out: list[bytes]
    ) -> None:
        """Write the rows of the chunk before the one that does not decode, and restate
        the error with the row's index in the resultset (raised by the caller)."""
        details = getattr(exc, "row_details", None)
        if details is None or self._tspec is None:
            return
        status, row, column, offset, a, b = details
        if row > first:
            data, done = _backend.IMPL.transcode_rows(
                self._tspec,
                event.data,
                event.spans,
                first,
                row - first,
                binary=self._binary,
                fmt=self._fmt,
                sep=self._result_rows > 0,
                budget=budget,
            )
            if self._fmt == T.F_MSGPACK:
                self._mp_rows.append(data)
                self.size += len(data)
            else:
                out.append(data)
            self._result_rows += done
            self.rows += done
        # the failing row's index in the resultset: the rows written so far
        restated = T.row_error(
            self._tspec, event.data, status, self._result_rows, column, offset, a, b
        )
        exc.args = restated.args

    def _close_rows(self, out: list[bytes]) -> None:
        """Close the current resultset's rows."""
        if self._rows_open:
            out.append(b"]")
            self._rows_open = False
        if self._fmt == T.F_MSGPACK and self._mp_results:
            self._mp_results[-1]["rows"] = (self._result_rows, self._mp_rows)
            self._mp_rows = []
        self._in_rows = False

    def _stats(self, affected: int, insert_id: int, warnings: int, out: list[bytes]) -> None:
        fmt = self._fmt
        if fmt == T.F_JSON:
            stats = (affected, insert_id, warnings)
            self._member(out, b'"rows_affected":%d,"insert_id":%d,"warnings":%d' % stats)
            if self.multi:
                out.append(b"}")
                self._result_open = False
        elif fmt == T.F_NDJSON:
            out.append(
                b'{"rows_affected":%d,"insert_id":%d,"warnings":%d}\n'
                % (affected, insert_id, warnings)
            )
        elif fmt == T.F_PSDB:
            if affected:
                self._member(out, b'"rowsAffected":"%d"' % affected)
            if insert_id:
                self._member(out, b'"insertId":"%d"' % insert_id)
        else:
            result = self._mp_results[-1]
            result["rows_affected"] = affected
            result["insert_id"] = insert_id
            result["warnings"] = warnings
            self.size += 48
            self._result_open = False

    def _ok(self, ok: Ok, out: list[bytes]) -> None:
        if self._results >= 1 and not self.multi and self._fmt != T.F_NDJSON:
            return  # e.g. the OK that closes a CALL: the first result stands
        self._begin_result(out)
        self._tspec = None
        self._result_rows = 0
        fmt = self._fmt
        if fmt == T.F_JSON:
            self._member(out, b'"fields":[],"rows":[]')
            self._members += 1
        elif fmt == T.F_NDJSON:
            out.append(b'{"fields":[]}\n')
        elif fmt == T.F_MSGPACK:
            self._mp_results[-1]["fields"] = []
            self._mp_results[-1]["rows"] = (0, [])
        self._stats(ok.affected_rows, ok.last_insert_id, ok.warnings, out)

    def _fail(self, error: BaseException, kind: str, out: list[bytes]) -> None:
        """Write the error member, mark the output stopped, and raise _Stop."""
        self.error = error
        self.stopped = "error" if kind in ("server", "error") else kind
        if self._in_rows:
            self._close_rows(out)
        fmt = self._fmt
        if fmt == T.F_NDJSON:
            out.append(b'{"error":' + _dumps(_error_dict(error, kind)) + b"}\n")
        elif fmt == T.F_MSGPACK:
            # A lone error element in a list; without multi the error joins the result.
            if not self._mp_results or (self.multi and not self._result_open):
                self._mp_results.append({})
                self._elements += 1
            self._mp_results[-1]["error"] = _error_dict(error, kind)
            self._result_open = False
        elif fmt == T.F_PSDB:
            member = b'"error":' + _dumps(_psdb_error(error, kind))
            if not self._started:  # nothing to report but the error: no "result"
                self._started = True
                out.append(b"{" + member)
            else:
                if self._result_open:
                    out.append(b"}")
                    self._result_open = False
                out.append(b"," + member)
        else:
            if not self._started:
                self._begin_document(out)
            member = b'"error":' + _dumps(_error_dict(error, kind))
            if self.multi:
                if self._result_open:
                    out.append(b"," + member + b"}" if self._members else member + b"}")
                else:
                    out.append(b",{" + member + b"}" if self._elements else b"{" + member + b"}")
                    self._elements += 1
                self._result_open = False
            else:
                self._member(out, member)
        raise _Stop

    def _finish_msgpack(self, extra: Mapping[str, object] | None) -> bytes:
        pieces: list[bytes] = []
        results = self._mp_results or [{}]
        if self.multi:
            pieces.append(_array_header(len(results)))
        else:
            results = results[:1]
            if extra:
                results[0].update(extra)
        for result in results:
            pieces.append(_map_header(len(result)))
            for key, value in result.items():
                pieces.append(_packb(key))
                if key == "rows":
                    count, chunks = value
                    pieces.append(_array_header(count))
                    pieces.extend(chunks)
                else:
                    pieces.append(_packb(value))
        data = b"".join(pieces)
        self.size = len(data)
        return data


def _array_header(n: int) -> bytes:
    if n < 16:
        return bytes([0x90 | n])
    if n < 0x10000:
        return b"\xdc" + n.to_bytes(2, "big")
    return b"\xdd" + n.to_bytes(4, "big")


def _map_header(n: int) -> bytes:
    if n < 16:
        return bytes([0x80 | n])
    if n < 0x10000:
        return b"\xde" + n.to_bytes(2, "big")
    return b"\xdf" + n.to_bytes(4, "big")


def _error_dict(error: BaseException, kind: str) -> dict[str, object]:
    if isinstance(error, ServerError):
        return {
            "kind": "server",
            "message": error.message,
            "code": error.code,
            "sqlstate": error.sqlstate,
        }
    result: dict[str, object] = {
        "kind": "limit" if kind in ("max_rows", "max_bytes") else kind,
        "message": str(error),
        "code": None,
        "sqlstate": None,
    }
    if kind in ("max_rows", "max_bytes"):
        result["limit"] = kind
    return result


def _psdb_error(error: BaseException, kind: str) -> dict[str, object]:
    if isinstance(error, ServerError):
        return {
            "message": f"{error.message} (errno {error.code}) (sqlstate {error.sqlstate})",
            "code": psdb_error_code(error.code),
        }
    if kind == "max_rows":
        return {"message": str(error), "code": "ABORTED"}
    if kind == "max_bytes":
        return {"message": str(error), "code": "RESOURCE_EXHAUSTED"}
    return {"message": str(error), "code": "UNKNOWN" if kind != "multi" else "INVALID_ARGUMENT"}


def transcode(events: Iterable[Event], format: str = "json", **options: Any) -> bytes:
    """Transcode a whole response's events at once (see :class:`Transcoder`)."""
    t = Transcoder(format, **options)
    parts = [t.feed(ev) for ev in events]
    parts.append(t.finish())
    return b"".join(parts)
