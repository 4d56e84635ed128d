"""Column / parameter type codes (``enum enum_field_types``).

Values come from MySQL's ``include/field_types.h`` and MariaDB Connector/C's
``include/mariadb_com.h``.  The two agree on every shared code; MySQL adds
``MYSQL_TYPE_TYPED_ARRAY`` (20, replication only), ``MYSQL_TYPE_VECTOR`` (242, 9.0+),
``MYSQL_TYPE_INVALID`` (243) and ``MYSQL_TYPE_BOOL`` (244, server-internal).  MariaDB sends
JSON columns as ``MYSQL_TYPE_BLOB``/``MYSQL_TYPE_STRING`` (extended metadata says
``json``) and uses 245 only internally (``MYSQL_TYPE_VIRTUAL`` in ``.frm`` files).
"""

from __future__ import annotations

import enum

__all__ = ["FieldType"]


class FieldType(enum.IntEnum):
    """The 1-byte ``column_type`` of a column definition / binary-protocol parameter."""

    MYSQL_TYPE_DECIMAL = 0
    MYSQL_TYPE_TINY = 1
    MYSQL_TYPE_SHORT = 2
    MYSQL_TYPE_LONG = 3
    MYSQL_TYPE_FLOAT = 4
    MYSQL_TYPE_DOUBLE = 5
    MYSQL_TYPE_NULL = 6
    MYSQL_TYPE_TIMESTAMP = 7
    MYSQL_TYPE_LONGLONG = 8
    MYSQL_TYPE_INT24 = 9
    MYSQL_TYPE_DATE = 10
    MYSQL_TYPE_TIME = 11
    MYSQL_TYPE_DATETIME = 12
    MYSQL_TYPE_YEAR = 13
    #: Internal to the server; never sent to clients.
    MYSQL_TYPE_NEWDATE = 14
    MYSQL_TYPE_VARCHAR = 15
    MYSQL_TYPE_BIT = 16
    #: Binary log only (fractional-second storage formats).
    MYSQL_TYPE_TIMESTAMP2 = 17
    MYSQL_TYPE_DATETIME2 = 18
    MYSQL_TYPE_TIME2 = 19
    #: MySQL only, replication only (multi-valued indexes).
    MYSQL_TYPE_TYPED_ARRAY = 20
    #: MySQL 9.0+ only.
    MYSQL_TYPE_VECTOR = 242
    #: MySQL only: server-internal placeholders.
    MYSQL_TYPE_INVALID = 243
    MYSQL_TYPE_BOOL = 244
    #: MySQL only on the wire.
    MYSQL_TYPE_JSON = 245
    MYSQL_TYPE_NEWDECIMAL = 246
    MYSQL_TYPE_ENUM = 247
    MYSQL_TYPE_SET = 248
    MYSQL_TYPE_TINY_BLOB = 249
    MYSQL_TYPE_MEDIUM_BLOB = 250
    MYSQL_TYPE_LONG_BLOB = 251
    MYSQL_TYPE_BLOB = 252
    MYSQL_TYPE_VAR_STRING = 253
    MYSQL_TYPE_STRING = 254
    MYSQL_TYPE_GEOMETRY = 255
