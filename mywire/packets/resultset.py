"""Resultset metadata: the column-count packet and ColumnDefinition41.

A resultset (COM_QUERY, COM_STMT_EXECUTE) starts with a column-count packet, then one
column definition per column (unless metadata is skipped, see below), then an EOF unless
CLIENT_DEPRECATE_EOF.  A COM_STMT_PREPARE response carries definitions of the same
layout for its parameters and its columns, and COM_FIELD_LIST answers with definitions
that end with the column's default value.

Column count
    A length-encoded integer (so counts over 250 take 3 bytes: ``fc fb 00``).  Two
    capabilities add one byte, ``metadata_follows`` (0 = the definitions are skipped,
    1 = they follow):

    * MariaDB's MARIADB_CLIENT_CACHE_METADATA (extended capability bit 4, 10.6+): the
      byte comes *after* the count (MariaDB "Result Set Packets" page; go-sql-driver
      ``readResultSetHeaderPacket`` reads ``data[n] == 0x01``).
    * MySQL's CLIENT_OPTIONAL_RESULTSET_METADATA (bit 25, 8.0.3+): the MySQL protocol
      documentation (page_protocol_com_query_response_text_resultset) lists the byte
      *before* the count, but the server writes it *after* the count
      (``Protocol_classic::start_result_metadata`` in sql/protocol_classic.cc:
      ``net_store_length(tmp, num_cols)`` then ``*pos = resultset_metadata``), and
      libmysqlclient reads it there (``cli_read_query_result`` calls
      ``net_field_length(&pos)`` and then ``read_com_query_metadata(mysql, pos, ...)``
      reads ``*pos``).  A byte before the count could not work anyway: 0 (no metadata)
      would look like an OK packet.  mywire follows the servers, so both capabilities
      give the same layout.

    Other trailing bytes are ignored: go-sql-driver/mysql#1478 (commit 78e0387) stopped
    rejecting them because the MySQL client ignores them too.  A count of 0 is an OK
    packet, never a column count, and is rejected here.

ColumnDefinition41 (MySQL page_protocol_com_query_response_text_resultset_column_definition;
MariaDB "Result Set Packets", Column Definition Packet)
    catalog (always ``def``), schema, table (alias), org_table, name (alias), org_name:
    length-encoded strings.  With MARIADB_CLIENT_EXTENDED_METADATA (extended capability
    bit 3, MariaDB 10.5+) a length-encoded block follows whose entries are a 1-byte key
    (0 = type name such as ``json``/``uuid``/``inet6``, 1 = format such as ``json``) and
    a length-encoded string; the block is empty when the column has neither (MariaDB
    Connector/Node.js ``ColumnDef`` reads it the same way and skips unknown keys).  Then
    the length of the fixed fields as a length-encoded integer, always 0x0c, and the
    fixed fields: character set (2 bytes, the full 16-bit collation id; go-sql-driver
    keeps only the low byte, see PROTOCOL_NOTES #22), column length (4), type (1), flags
    (2), decimals (1), 2 filler bytes.  COM_FIELD_LIST definitions end with the default
    value as a length-encoded string, 0xFB when the default is NULL.

    ColumnDefinition320 (servers older than 4.1, no CLIENT_PROTOCOL_41) is not supported.

Strings decode as UTF-8 with ``surrogateescape`` (see :mod:`mywire.packets._text`), so
any byte string survives parse -> build.
"""

from __future__ import annotations

from ..codec import Reader, Writer
from ..constants import Capability as C
from ..constants import MariaDBCapability as M
from ..errors import MalformedPacket, UnsupportedFeature
from ..events import ColumnDefinition
from ._text import as_int, dec, enc
from .handshake import EXT_SHIFT

__all__ = [
    "FIXED_FIELDS_LENGTH",
    "build_column_count",
    "build_column_definition",
    "has_extended_metadata",
    "has_metadata_byte",
    "parse_column_count",
    "parse_column_definition",
]

#: The length-encoded integer before the fixed fields of ColumnDefinition41.
FIXED_FIELDS_LENGTH = 0x0C
_EXT_METADATA = int(M.MARIADB_CLIENT_EXTENDED_METADATA) << EXT_SHIFT
_CACHE_METADATA = int(M.MARIADB_CLIENT_CACHE_METADATA) << EXT_SHIFT
_KEY_TYPE = 0
_KEY_FORMAT = 1


def _mariadb(capabilities: int, flag: int) -> bool:
    # Extended capabilities exist only when CLIENT_MYSQL is clear (PROTOCOL_NOTES #28).
    return not capabilities & C.CLIENT_MYSQL and bool(capabilities & flag)


def has_extended_metadata(capabilities: int) -> bool:
    """True when column definitions carry MariaDB's extended metadata block."""
    return _mariadb(capabilities, _EXT_METADATA)


def has_metadata_byte(capabilities: int) -> bool:
    """True when column-count packets (and a MySQL prepare OK) carry a metadata-follows
    byte: MySQL's CLIENT_OPTIONAL_RESULTSET_METADATA or MariaDB's
    MARIADB_CLIENT_CACHE_METADATA."""
    return bool(capabilities & C.CLIENT_OPTIONAL_RESULTSET_METADATA) or _mariadb(
        capabilities, _CACHE_METADATA
    )


def _require_41(capabilities: int) -> None:
    if not capabilities & C.CLIENT_PROTOCOL_41:
        raise UnsupportedFeature(
            "ColumnDefinition320 (no CLIENT_PROTOCOL_41, servers before 4.1) is not supported"
        )


# --------------------------------------------------------------------------- column count


def parse_column_count(payload: bytes, capabilities: int) -> tuple[int, bool]:
    """Parse a column-count packet.

    Returns:
        ``(count, metadata_follows)``; ``metadata_follows`` is always True unless a
        metadata-follows byte is negotiated (see the module docstring) and says 0.

    Raises:
        MalformedPacket: count 0, a 0xFB/0xFF length prefix, or a metadata-follows byte
            other than 0 or 1.
        TruncatedPacket: the count, or the negotiated metadata-follows byte, is missing.
    """
    r = Reader(payload)
    count = r.lenenc_int()
    if count == 0:
        raise MalformedPacket(
            "malformed packet: column count 0 at offset 0",
            offset=0,
            expected="a column count of at least 1",
        )
    follows = True
    if has_metadata_byte(capabilities):
        at = r.offset
        flag = r.int1()
        if flag > 1:
            raise MalformedPacket(
                f"malformed packet: metadata-follows byte {flag} at offset {at}",
                offset=at,
                expected="metadata-follows byte 0 or 1",
            )
        follows = flag == 1
    # Anything else after the count is ignored (go-sql-driver/mysql#1478).
    return count, follows


def build_column_count(count: int, capabilities: int, *, metadata_follows: bool = True) -> bytes:
    """Build a column-count packet (server role).

    Raises:
        ValueError: ``count`` is not in 1..2**64-1, or ``metadata_follows`` is False
            without a capability that can say so.
    """
    if not 0 < count < 1 << 64:
        raise ValueError(f"column count {count} is out of range (1..2**64-1)")
    w = Writer().lenenc_int(count)
    if has_metadata_byte(capabilities):
        w.int1(1 if metadata_follows else 0)
    elif not metadata_follows:
        raise ValueError(
            "skipping metadata needs CLIENT_OPTIONAL_RESULTSET_METADATA or "
            "MARIADB_CLIENT_CACHE_METADATA"
        )
    return w.getvalue()


# ---------------------------------------------------------------------- column definition


def _parse_extended(r: Reader, payload: bytes) -> tuple[str | None, str | None]:
    block = r.lenenc_str()
    end = r.offset
    sub = Reader(payload[:end], end - len(block))  # error offsets stay payload offsets
    ext_type = ext_format = None
    while not sub.at_end():
        key, value = sub.unpack("BS")
        if key == _KEY_TYPE:
            ext_type = dec(value)
        elif key == _KEY_FORMAT:
            ext_format = dec(value)
        # Unknown keys are skipped, as MariaDB Connector/Node.js does.
    return ext_type, ext_format


def parse_column_definition(
    payload: bytes, capabilities: int, *, field_list: bool = False
) -> ColumnDefinition:
    """Parse a ColumnDefinition41 packet.

    Args:
        payload: the packet's payload.
        capabilities: the negotiated capabilities (64-bit, MariaDB's extended ones
            shifted left by 32): CLIENT_PROTOCOL_41 is required;
            MARIADB_CLIENT_EXTENDED_METADATA adds the extended block.
        field_list: the packet answers COM_FIELD_LIST, so a default value follows (a
            missing one reads as None, as does 0xFB).

    Raises:
        UnsupportedFeature: no CLIENT_PROTOCOL_41 (ColumnDefinition320).
        MalformedPacket, TruncatedPacket: the bytes do not match the layout (including a
            fixed-fields length other than 0x0c and bytes after the last field).
    """
    _require_41(capabilities)
    r = Reader(payload)
    catalog, schema, table, org_table, name, org_name = r.unpack("6S")
    ext_type = ext_format = None
    if has_extended_metadata(capabilities):
        ext_type, ext_format = _parse_extended(r, payload)
    at = r.offset
    fixed = r.lenenc_int()
    if fixed != FIXED_FIELDS_LENGTH:
        raise MalformedPacket(
            f"malformed packet: fixed-fields length {fixed} at offset {at}",
            offset=at,
            expected="fixed-fields length 0x0c",
        )
    charset, length, ftype, flags, decimals = r.unpack("HIBHB2x")
    default = None
    if field_list and not r.at_end():
        default = r.lenenc_str_or_null()
    r.expect_end()
    return ColumnDefinition(
        catalog=dec(catalog),
        schema=dec(schema),
        table=dec(table),
        org_table=dec(org_table),
        name=dec(name),
        org_name=dec(org_name),
        character_set=as_int(charset),
        column_length=as_int(length),
        type=as_int(ftype),
        flags=as_int(flags),
        decimals=as_int(decimals),
        extended_type=ext_type,
        extended_format=ext_format,
        default_value=default,
    )


def build_column_definition(
    col: ColumnDefinition, capabilities: int, *, field_list: bool = False
) -> bytes:
    """Build a ColumnDefinition41 packet (server role).

    The extended block is written with MARIADB_CLIENT_EXTENDED_METADATA (empty when the
    column has no extended type or format); with ``field_list`` the default value is
    written (0xFB for None).

    Raises:
        UnsupportedFeature: no CLIENT_PROTOCOL_41.
        ValueError: extended metadata without MARIADB_CLIENT_EXTENDED_METADATA, a
            default value without ``field_list``, or a field out of range.
    """
    _require_41(capabilities)
    extended = has_extended_metadata(capabilities)
    if not extended and (col.extended_type is not None or col.extended_format is not None):
        raise ValueError("extended_type/extended_format need MARIADB_CLIENT_EXTENDED_METADATA")
    if not field_list and col.default_value is not None:
        raise ValueError("default_value is only sent in COM_FIELD_LIST answers (field_list)")
    w = Writer().pack(
        "6S",
        enc(col.catalog),
        enc(col.schema),
        enc(col.table),
        enc(col.org_table),
        enc(col.name),
        enc(col.org_name),
    )
    if extended:
        block = Writer()
        if col.extended_type is not None:
            block.pack("BS", _KEY_TYPE, enc(col.extended_type))
        if col.extended_format is not None:
            block.pack("BS", _KEY_FORMAT, enc(col.extended_format))
        w.pack("S", block.getvalue())
    w.pack(
        "LHIBHB2x",
        FIXED_FIELDS_LENGTH,
        col.character_set,
        col.column_length,
        col.type,
        col.flags,
        col.decimals,
    )
    if field_list:
        w.pack("R", col.default_value)
    return w.getvalue()
