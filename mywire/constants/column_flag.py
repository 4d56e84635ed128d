"""Column definition flags (``*_FLAG``).

Values come from the ``*_FLAG`` defines of MySQL's ``include/mysql_com.h`` and MariaDB
Connector/C's ``include/mariadb_com.h``, which agree.  Column definitions carry the flags
in a 2-byte field, so only bits 0..15 ever arrive over the wire; ``UNIQUE_FLAG`` and
``BINCMP_FLAG`` are server-internal and listed for completeness.  Higher, purely
server-internal bits (``GET_FIXED_FIELDS_FLAG`` ...) are deliberately left out.
"""

from __future__ import annotations

import enum

__all__ = ["ColumnFlag"]


class ColumnFlag(enum.IntFlag):
    """The ``flags`` field of a column definition packet."""

    #: The column can't be NULL.
    NOT_NULL_FLAG = 1 << 0
    #: The column is part of a primary key.
    PRI_KEY_FLAG = 1 << 1
    #: The column is part of a unique key.
    UNIQUE_KEY_FLAG = 1 << 2
    #: The column is part of a (non-unique) key.
    MULTIPLE_KEY_FLAG = 1 << 3
    #: The column is a BLOB or TEXT.
    BLOB_FLAG = 1 << 4
    UNSIGNED_FLAG = 1 << 5
    ZEROFILL_FLAG = 1 << 6
    #: Binary collation / binary string.
    BINARY_FLAG = 1 << 7
    ENUM_FLAG = 1 << 8
    AUTO_INCREMENT_FLAG = 1 << 9
    TIMESTAMP_FLAG = 1 << 10
    SET_FLAG = 1 << 11
    #: The column has no default value.
    NO_DEFAULT_VALUE_FLAG = 1 << 12
    #: The column is set to NOW() on UPDATE.
    ON_UPDATE_NOW_FLAG = 1 << 13
    #: Server-internal: part of some key.
    PART_KEY_FLAG = 1 << 14
    #: The column is numeric (set for clients).
    NUM_FLAG = 1 << 15
    #: Server-internal name of the same bit as :attr:`NUM_FLAG`.
    GROUP_FLAG = NUM_FLAG
    #: Server-internal (parser).
    UNIQUE_FLAG = 1 << 16
    #: Server-internal (parser).
    BINCMP_FLAG = 1 << 17
