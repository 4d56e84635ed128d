"""Client/server capability flags exchanged in the connection handshake.

Values come from MySQL's ``include/mysql_com.h`` (``CLIENT_*`` defines) and MariaDB
Connector/C's ``include/mariadb_com.h`` (``CLIENT_MYSQL`` and the ``MARIADB_CLIENT_*``
extended capabilities).  Both headers agree on every bit of the 32-bit word; where the
two servers use different names for the same bit, the other name is an alias.
"""

from __future__ import annotations

import enum

__all__ = ["MARIADB_CAPABILITY_SHIFT", "Capability", "MariaDBCapability"]


class Capability(enum.IntFlag):
    """The 32-bit ``capability_flags`` word of the handshake (MySQL names)."""

    #: Use the improved Old Password Authentication (assumed set since 4.1.1).
    CLIENT_LONG_PASSWORD = 1 << 0
    #: MariaDB: set by MySQL-compatible clients; when clear, the 4 reserved handshake
    #: bytes carry extended capabilities (see :class:`MariaDBCapability`).
    CLIENT_MYSQL = CLIENT_LONG_PASSWORD
    #: Send found rows instead of affected rows in the OK/EOF packet.
    CLIENT_FOUND_ROWS = 1 << 1
    #: Get all column flags.
    CLIENT_LONG_FLAG = 1 << 2
    #: A database (schema) name can be specified in the handshake response.
    CLIENT_CONNECT_WITH_DB = 1 << 3
    #: Don't allow ``database.table.column``.
    CLIENT_NO_SCHEMA = 1 << 4
    #: The compression protocol (zlib) is supported.
    CLIENT_COMPRESS = 1 << 5
    #: ODBC client (no special behaviour since 3.22).
    CLIENT_ODBC = 1 << 6
    #: Can use ``LOAD DATA LOCAL``.
    CLIENT_LOCAL_FILES = 1 << 7
    #: Let the parser ignore spaces before ``(``.
    CLIENT_IGNORE_SPACE = 1 << 8
    #: The 4.1 protocol.
    CLIENT_PROTOCOL_41 = 1 << 9
    #: Interactive client (``interactive_timeout`` instead of ``wait_timeout``).
    CLIENT_INTERACTIVE = 1 << 10
    #: Switch to TLS after the SSL request packet.
    CLIENT_SSL = 1 << 11
    #: Client-only flag of libmysqlclient; never meaningful on the wire.
    CLIENT_IGNORE_SIGPIPE = 1 << 12
    #: Status flags are sent in OK/EOF packets.
    CLIENT_TRANSACTIONS = 1 << 13
    #: Deprecated: old flag for the 4.1 protocol.
    CLIENT_RESERVED = 1 << 14
    #: 4.1 authentication (MySQL now calls this bit ``CLIENT_RESERVED2``).
    CLIENT_SECURE_CONNECTION = 1 << 15
    CLIENT_RESERVED2 = CLIENT_SECURE_CONNECTION
    #: Multiple statements per ``COM_QUERY`` / ``COM_STMT_PREPARE``.
    CLIENT_MULTI_STATEMENTS = 1 << 16
    #: Multiple result sets for ``COM_QUERY``.
    CLIENT_MULTI_RESULTS = 1 << 17
    #: Multiple result sets and OUT parameters for ``COM_STMT_EXECUTE``.
    CLIENT_PS_MULTI_RESULTS = 1 << 18
    #: Pluggable authentication.
    CLIENT_PLUGIN_AUTH = 1 << 19
    #: Connection attributes in the handshake response.
    CLIENT_CONNECT_ATTRS = 1 << 20
    #: Auth response in the handshake response is a length-encoded string.
    CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA = 1 << 21
    #: The client can handle an account with an expired password (sandbox mode).
    CLIENT_CAN_HANDLE_EXPIRED_PASSWORDS = 1 << 22
    #: Session state change information in OK packets.
    CLIENT_SESSION_TRACK = 1 << 23
    #: MariaDB Connector/C's name for :attr:`CLIENT_SESSION_TRACK`.
    CLIENT_SESSION_TRACKING = CLIENT_SESSION_TRACK
    #: OK packets replace EOF packets.
    CLIENT_DEPRECATE_EOF = 1 << 24
    #: MySQL: result-set metadata may be omitted (``resultset_metadata`` variable).
    CLIENT_OPTIONAL_RESULTSET_METADATA = 1 << 25
    #: zstd compression with a negotiated level.
    CLIENT_ZSTD_COMPRESSION_ALGORITHM = 1 << 26
    #: MariaDB Connector/C's name for :attr:`CLIENT_ZSTD_COMPRESSION_ALGORITHM`.
    CLIENT_ZSTD_COMPRESSION = CLIENT_ZSTD_COMPRESSION_ALGORITHM
    #: MySQL 8.0.23+: query attributes in ``COM_QUERY`` / ``COM_STMT_EXECUTE``.
    CLIENT_QUERY_ATTRIBUTES = 1 << 27
    #: MySQL 8.0.27+: multi-factor authentication (note: no ``CLIENT_`` prefix upstream).
    MULTI_FACTOR_AUTHENTICATION = 1 << 28
    #: Reserved by MySQL to extend the capabilities to 64 bits.  Old MariaDB clients
    #: used this bit as ``CLIENT_PROGRESS`` (now ``MARIADB_CLIENT_PROGRESS``).
    CLIENT_CAPABILITY_EXTENSION = 1 << 29
    CLIENT_PROGRESS_OBSOLETE = CLIENT_CAPABILITY_EXTENSION
    #: Client-only flag: verify the server certificate.
    CLIENT_SSL_VERIFY_SERVER_CERT = 1 << 30
    #: Client-only flag: don't reset options after a failed connect.
    CLIENT_REMEMBER_OPTIONS = 1 << 31


#: Shift that places a :class:`MariaDBCapability` word into the upper half of the
#: 64-bit capability value used by MariaDB Connector/C (``MARIADB_CLIENT_PROGRESS`` is
#: ``1ULL << 32`` there).
MARIADB_CAPABILITY_SHIFT = 32


class MariaDBCapability(enum.IntFlag):
    """MariaDB extended capabilities (MariaDB 10.2+).

    Representation: the values here are those of the *32-bit extended word* exactly as
    it travels on the wire -- in the last 4 of the 10 reserved bytes of the initial
    handshake (server) and of the 23 reserved bytes of the handshake response (client),
    present only when :attr:`Capability.CLIENT_MYSQL` is clear.  MariaDB Connector/C and
    the MariaDB protocol documentation write the same flags as 64-bit values
    (``MARIADB_CLIENT_PROGRESS = 1ULL << 32`` ...); convert with :meth:`to_u64` /
    :meth:`from_u64` (a shift by :data:`MARIADB_CAPABILITY_SHIFT`).
    """

    #: Progress reporting (``1ULL << 32`` in the 64-bit representation).
    MARIADB_CLIENT_PROGRESS = 1 << 0
    #: ``COM_MULTI``; removed from the server (Connector/C: ``MARIADB_CLIENT_RESERVED_1``).
    MARIADB_CLIENT_COM_MULTI = 1 << 1
    MARIADB_CLIENT_RESERVED_1 = MARIADB_CLIENT_COM_MULTI
    #: ``COM_STMT_BULK_EXECUTE`` is supported (10.2+).
    MARIADB_CLIENT_STMT_BULK_OPERATIONS = 1 << 2
    #: Extended type information in column definitions (10.5+).
    MARIADB_CLIENT_EXTENDED_METADATA = 1 << 3
    MARIADB_CLIENT_EXTENDED_TYPE_INFO = MARIADB_CLIENT_EXTENDED_METADATA
    #: Prepared-statement metadata is not resent when unchanged (10.6+).
    MARIADB_CLIENT_CACHE_METADATA = 1 << 4
    #: Bulk execution can return one result per parameter set (11.5+).
    MARIADB_CLIENT_BULK_UNIT_RESULTS = 1 << 5

    def to_u64(self) -> int:
        """Return these flags in MariaDB Connector/C's 64-bit representation."""
        return int(self) << MARIADB_CAPABILITY_SHIFT

    @classmethod
    def from_u64(cls, value: int) -> MariaDBCapability:
        """Extract the extended flags from a 64-bit capability value."""
        return cls((value >> MARIADB_CAPABILITY_SHIFT) & 0xFFFFFFFF)
