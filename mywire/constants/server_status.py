"""Server status flags sent in OK, EOF and initial-handshake packets.

Values come from ``enum SERVER_STATUS_flags_enum`` in MySQL's ``include/mysql_com.h`` and
the ``SERVER_*`` defines of MariaDB Connector/C's ``include/mariadb_com.h``; the two agree
on every shared bit, and MariaDB adds :attr:`ServerStatus.SERVER_STATUS_ANSI_QUOTES`.
"""

from __future__ import annotations

import enum

__all__ = ["ServerStatus"]


class ServerStatus(enum.IntFlag):
    """The 16-bit ``status_flags`` field."""

    #: A transaction is active.
    SERVER_STATUS_IN_TRANS = 1 << 0
    #: Autocommit mode is on.
    SERVER_STATUS_AUTOCOMMIT = 1 << 1
    # 1 << 2 is unused (was SERVER_STATUS_MORE_RESULTS in 4.1).
    #: Another result set (or OK packet) follows.
    SERVER_MORE_RESULTS_EXISTS = 1 << 3
    #: MariaDB Connector/C's spelling of :attr:`SERVER_MORE_RESULTS_EXISTS`.
    SERVER_MORE_RESULTS_EXIST = SERVER_MORE_RESULTS_EXISTS
    SERVER_QUERY_NO_GOOD_INDEX_USED = 1 << 4
    SERVER_QUERY_NO_INDEX_USED = 1 << 5
    #: A read-only cursor was opened by ``COM_STMT_EXECUTE``.
    SERVER_STATUS_CURSOR_EXISTS = 1 << 6
    #: The last row of a cursor was sent by ``COM_STMT_FETCH``.
    SERVER_STATUS_LAST_ROW_SENT = 1 << 7
    #: A database was dropped.
    SERVER_STATUS_DB_DROPPED = 1 << 8
    #: ``NO_BACKSLASH_ESCAPES`` sql_mode is active.
    SERVER_STATUS_NO_BACKSLASH_ESCAPES = 1 << 9
    #: A prepared statement's metadata changed since it was prepared.
    SERVER_STATUS_METADATA_CHANGED = 1 << 10
    SERVER_QUERY_WAS_SLOW = 1 << 11
    #: The result set carries OUT parameters of a stored procedure.
    SERVER_PS_OUT_PARAMS = 1 << 12
    #: A read-only transaction is active.
    SERVER_STATUS_IN_TRANS_READONLY = 1 << 13
    #: The OK packet carries session state change information.
    SERVER_SESSION_STATE_CHANGED = 1 << 14
    #: MariaDB only: ``ANSI_QUOTES`` sql_mode is active.
    SERVER_STATUS_ANSI_QUOTES = 1 << 15
