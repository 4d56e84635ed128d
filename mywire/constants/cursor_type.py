"""``flags`` byte of ``COM_STMT_EXECUTE`` (``enum enum_cursor_type``).

Values come from MySQL's ``include/mysql_com.h`` (plus ``PARAMETER_COUNT_AVAILABLE``,
MySQL 8.0.26+ with ``CLIENT_QUERY_ATTRIBUTES``) and MariaDB Connector/C's
``include/mariadb_stmt.h``.
"""

from __future__ import annotations

import enum

__all__ = ["CursorType"]


class CursorType(enum.IntFlag):
    """Cursor request flags of ``COM_STMT_EXECUTE``."""

    CURSOR_TYPE_NO_CURSOR = 0
    CURSOR_TYPE_READ_ONLY = 1 << 0
    CURSOR_TYPE_FOR_UPDATE = 1 << 1
    CURSOR_TYPE_SCROLLABLE = 1 << 2
    #: MySQL only: the parameter count is sent explicitly (query attributes).
    PARAMETER_COUNT_AVAILABLE = 1 << 3
