"""Command bytes (``COM_*``) and ``COM_SET_OPTION`` arguments.

Values come from ``enum enum_server_command`` in MySQL's ``include/my_command.h`` and in
MariaDB's ``include/mysql_com.h`` / Connector/C's ``include/mariadb_com.h``.  Codes 0..0x1d
and 0x1f are shared; 0x1e is ``COM_BINLOG_DUMP_GTID`` in MySQL and unimplemented in MariaDB;
0x20 and 0x21 are MySQL only; 0xfa and 0xfe are MariaDB only.
"""

from __future__ import annotations

import enum

__all__ = ["Command", "SetOption"]


class Command(enum.IntEnum):
    """The first byte of a command packet sent by the client."""

    COM_SLEEP = 0x00
    COM_QUIT = 0x01
    COM_INIT_DB = 0x02
    COM_QUERY = 0x03
    COM_FIELD_LIST = 0x04
    COM_CREATE_DB = 0x05
    COM_DROP_DB = 0x06
    COM_REFRESH = 0x07
    COM_SHUTDOWN = 0x08
    COM_STATISTICS = 0x09
    COM_PROCESS_INFO = 0x0A
    COM_CONNECT = 0x0B
    COM_PROCESS_KILL = 0x0C
    COM_DEBUG = 0x0D
    COM_PING = 0x0E
    COM_TIME = 0x0F
    COM_DELAYED_INSERT = 0x10
    COM_CHANGE_USER = 0x11
    COM_BINLOG_DUMP = 0x12
    COM_TABLE_DUMP = 0x13
    COM_CONNECT_OUT = 0x14
    COM_REGISTER_SLAVE = 0x15
    COM_STMT_PREPARE = 0x16
    COM_STMT_EXECUTE = 0x17
    COM_STMT_SEND_LONG_DATA = 0x18
    COM_STMT_CLOSE = 0x19
    COM_STMT_RESET = 0x1A
    COM_SET_OPTION = 0x1B
    COM_STMT_FETCH = 0x1C
    COM_DAEMON = 0x1D
    #: MySQL only.
    COM_BINLOG_DUMP_GTID = 0x1E
    #: MariaDB's name for 0x1e, which it does not implement.
    COM_UNIMPLEMENTED = COM_BINLOG_DUMP_GTID
    COM_RESET_CONNECTION = 0x1F
    #: MySQL 8.0.17+ only (clone plugin).
    COM_CLONE = 0x20
    #: MySQL 8.0.30+ only (group replication).
    COM_SUBSCRIBE_GROUP_REPLICATION_STREAM = 0x21
    #: MariaDB 10.2+ only: execute a prepared statement with many parameter sets.
    COM_STMT_BULK_EXECUTE = 0xFA
    #: MariaDB only, removed from the server (now ``COM_RESERVED_1``); never send it.
    COM_MULTI = 0xFE
    COM_RESERVED_1 = COM_MULTI


class SetOption(enum.IntEnum):
    """The 2-byte argument of ``COM_SET_OPTION`` (``enum enum_mysql_set_option``)."""

    MYSQL_OPTION_MULTI_STATEMENTS_ON = 0
    MYSQL_OPTION_MULTI_STATEMENTS_OFF = 1
