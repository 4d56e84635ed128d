"""Session state change types in OK packets (``enum enum_session_state_type``).

Values come from MySQL's ``include/mysql_com.h`` and MariaDB Connector/C's
``include/mariadb_com.h``, which agree (MariaDB never sends ``SESSION_TRACK_GTIDS``).
"""

from __future__ import annotations

import enum

__all__ = ["SessionTrack"]


class SessionTrack(enum.IntEnum):
    """The type byte of one session-state-change entry."""

    SESSION_TRACK_SYSTEM_VARIABLES = 0
    SESSION_TRACK_SCHEMA = 1
    SESSION_TRACK_STATE_CHANGE = 2
    SESSION_TRACK_GTIDS = 3
    SESSION_TRACK_TRANSACTION_CHARACTERISTICS = 4
    SESSION_TRACK_TRANSACTION_STATE = 5
