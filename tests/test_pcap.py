"""mywire.pcap: reading captures, TCP reassembly and the passive MySQL observer.

Expected values come from reading the captures independently: TShark 4.0.17
(``tshark -r FILE [-d tcp.port==PORT,mysql] -Y mysql -T fields -e mysql.query ...``), and
for what TShark cannot decode (compressed connections captured mid-stream) a walk of the
TCP payloads TShark extracted, inflated with zlib by hand.  They are written here
literally.  Synthetic captures are built with dpkt from the public ones (other link
types, IPv6, pcapng, split/reordered/retransmitted segments): their decode must equal the
original's.  Captures made from the real MariaDB by ``tools/make_captures.py`` (at test
time, into a temporary directory) must decode to what the client libraries returned.
"""

from __future__ import annotations

import collections
import importlib.util
import ipaddress
import json
import os
import random
import shutil
import struct
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import dpkt  # type: ignore[import-untyped]  # no stubs, no py.typed
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mywire.pcap import Capture, CaptureError, Chunk, Decoder, End, Gap, HalfStream, Observer
from mywire.pcap.sniff import looks_like_command, looks_like_greeting

from helpers import raw_frame, zlib_frame

CAPTURES = Path(__file__).parent / "captures" / "public"
ALL_CAPTURES = sorted(p.name for p in CAPTURES.iterdir() if p.suffix in (".pcap", ".pcapng"))

#: Server ports of the captures not on 3306 (SOURCES.md, "MySQL port").
PORTS = {
    "deepflow__171-mysql.pcap": 20130,
    "deepflow__binary-in-sql.pcap": 2883,
    "deepflow__large-response.pcap": 6033,
    "deepflow__mysql-compressed-response.pcap": 30130,
    "deepflow__mysql-database.pcap": 20130,
    "deepflow__mysql-error.pcap": 20130,
    "deepflow__mysql-exec.pcap": 30130,
    "deepflow__mysql-statement-id.pcap": 30130,
    "deepflow__mysql-statement.pcap": 30130,
    "deepflow__mysql-table-alter.pcap": 20130,
    "deepflow__mysql-table-create.pcap": 20130,
    "deepflow__mysql-table-delete.pcap": 20130,
    "deepflow__mysql-table-desc.pcap": 20130,
    "deepflow__mysql-table-destroy.pcap": 20130,
    "deepflow__mysql-table-insert.pcap": 20130,
    "deepflow__mysql-table-select.pcap": 20130,
    "deepflow__mysql-table-update.pcap": 20130,
    "deepflow__mysql.pcap": 20130,
    "deepflow__partial-packet-compressed.pcap": 30130,
    "deepflow__truncate-1024.pcap": 6033,
    "zeek__postgresql__mysql-on-port-5432.pcap": 5432,
}


def records(name: str | Path, **options: Any) -> list[dict[str, Any]]:
    path = name if isinstance(name, Path) else CAPTURES / name
    options.setdefault("ports", (PORTS.get(path.name, 3306),))
    return [r.to_dict() for r in Decoder(path, **options)]


def of_kind(rows: list[dict[str, Any]], kind: str, conn: int | None = None) -> list[dict[str, Any]]:
    return [r for r in rows if r["kind"] == kind and (conn is None or r["conn"] == conn)]


def strip(row: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in ("conn", "dir", "ts", *keys)}


# ======================================================================= the corpus

# Per capture: MySQL connections; commands by name and ERR codes, as TShark counts them
# (mysql.command, mysql.error_code); and the records that say what a capture cannot show.
# Where TShark misreads, the value is ours and the comment says why:
# * compressed connections captured mid-stream: TShark cannot know compression is on
#   (it reports one "command 0"); the commands here come from inflating the frames;
# * caching_sha2_password: TShark takes the client's 1-byte public-key request for
#   command 202; navicat: the sha256_password public-key exchange for command 125.
CORPUS: dict[str, tuple[int, dict[str, int], dict[int, int], dict[str, int]]] = {
    "arkime__mysql-allow.pcap": (1, {"COM_QUERY": 1}, {}, {}),
    "arkime__mysql-deny.pcap": (1, {}, {1045: 1}, {}),
    "arkime__mysql-tls.pcap": (1, {}, {}, {"tls": 1}),
    "deepflow__171-mysql.pcap": (6, {"COM_QUERY": 130, "COM_PING": 260}, {}, {"mid_stream": 6}),
    "deepflow__binary-in-sql.pcap": (1, {"COM_QUERY": 2}, {}, {"mid_stream": 1}),
    "deepflow__large-response.pcap": (1, {"COM_QUERY": 2}, {}, {"mid_stream": 1}),
    "deepflow__mysql-compressed-response.pcap": (1, {"COM_QUERY": 1}, {}, {"mid_stream": 1}),
    "deepflow__mysql-database.pcap": (1, {"COM_QUIT": 1, "COM_QUERY": 4}, {}, {}),
    "deepflow__mysql-error.pcap": (
        1,
        {"COM_QUIT": 1, "COM_INIT_DB": 1, "COM_QUERY": 2},
        {1049: 1},
        {},
    ),
    "deepflow__mysql-exec.pcap": (
        1,
        {"COM_STMT_PREPARE": 1, "COM_STMT_EXECUTE": 1},
        {},
        {"mid_stream": 1},
    ),
    "deepflow__mysql-login-error.pcap": (1, {}, {1040: 1}, {}),
    "deepflow__mysql-statement-id.pcap": (1, {"COM_STMT_PREPARE": 1}, {}, {"mid_stream": 1}),
    # 11 TCP connections, 4 of them keep-alive probes only (no MySQL byte); the capture
    # ends before 3 answers.
    "deepflow__mysql-statement.pcap": (
        7,
        {"COM_QUERY": 2, "COM_STMT_PREPARE": 7, "COM_STMT_EXECUTE": 2, "COM_STMT_CLOSE": 2},
        {},
        {"mid_stream": 7, "incomplete": 3},
    ),
    "deepflow__mysql-table-alter.pcap": (1, {"COM_QUIT": 1, "COM_QUERY": 2}, {}, {}),
    "deepflow__mysql-table-create.pcap": (
        1,
        {"COM_QUIT": 1, "COM_INIT_DB": 1, "COM_QUERY": 5, "COM_FIELD_LIST": 1},
        {},
        {},
    ),
    "deepflow__mysql-table-delete.pcap": (1, {"COM_QUIT": 1, "COM_QUERY": 2}, {}, {}),
    "deepflow__mysql-table-desc.pcap": (1, {"COM_QUIT": 1, "COM_QUERY": 2}, {}, {}),
    "deepflow__mysql-table-destroy.pcap": (1, {"COM_QUIT": 1, "COM_QUERY": 2}, {}, {}),
    "deepflow__mysql-table-insert.pcap": (1, {"COM_QUIT": 1, "COM_QUERY": 2}, {}, {}),
    "deepflow__mysql-table-select.pcap": (1, {"COM_QUIT": 1, "COM_QUERY": 2}, {}, {}),
    "deepflow__mysql-table-update.pcap": (1, {"COM_QUIT": 1, "COM_QUERY": 2}, {}, {}),
    "deepflow__mysql-use.pcap": (1, {"COM_QUERY": 1}, {}, {"mid_stream": 1}),
    "deepflow__mysql.pcap": (1, {"COM_QUIT": 1, "COM_QUERY": 5}, {}, {}),
    "deepflow__partial-packet-compressed.pcap": (1, {"COM_QUERY": 2}, {}, {"mid_stream": 1}),
    "deepflow__truncate-1024.pcap": (
        1,
        {"COM_QUERY": 1, "COM_STMT_PREPARE": 1, "COM_STMT_EXECUTE": 1, "COM_STMT_CLOSE": 1},
        {},
        {"mid_stream": 1},
    ),
    "nDPI__mysql.pcapng": (2, {"COM_QUIT": 1, "COM_QUERY": 1}, {}, {"tls": 1}),
    "zeek__mysql__auth.pcap": (13, {"COM_QUIT": 1, "COM_QUERY": 1}, {1130: 3, 1045: 9}, {}),
    "zeek__mysql__caching_sha2_password-after-auth-switch.pcapng": (
        1,
        {"COM_QUIT": 1, "COM_QUERY": 3, "COM_STATISTICS": 1},
        {},
        {},
    ),
    "zeek__mysql__caching_sha2_password.pcap": (
        3,
        {"COM_QUIT": 2, "COM_QUERY": 6, "COM_FIELD_LIST": 2},
        {1158: 1},
        {},
    ),
    "zeek__mysql__change-user-error.pcap": (
        1,
        {"COM_PING": 1, "COM_CHANGE_USER": 1},
        {1045: 1},
        {},
    ),
    "zeek__mysql__change-user-success.pcap": (
        1,
        {"COM_QUIT": 1, "COM_QUERY": 2, "COM_PING": 2, "COM_CHANGE_USER": 1},
        {},
        {},
    ),
    "zeek__mysql__encrypted.pcap": (1, {}, {}, {"tls": 1}),
    "zeek__mysql__many-query-attrs.pcap": (
        1,
        {"COM_QUIT": 1, "COM_QUERY": 4, "COM_FIELD_LIST": 38},
        {},
        {},
    ),
    "zeek__mysql__mysql-9.0.0-query-attributes.pcap": (
        1,
        {"COM_QUIT": 1, "COM_QUERY": 1, "COM_PING": 1},
        {},
        {},
    ),
    "zeek__mysql__mysql-show-engine-innodb-status-no-password.pcap": (
        1,
        {"COM_QUIT": 1, "COM_QUERY": 2},
        {},
        {},
    ),
    "zeek__mysql__mysql.pcap": (
        1,
        {"COM_QUIT": 1, "COM_INIT_DB": 1, "COM_QUERY": 14, "COM_FIELD_LIST": 1},
        {},
        {},
    ),
    "zeek__mysql__mysql8-navicat-login-failed.pcap": (1, {}, {1045: 1}, {}),
    "zeek__mysql__plain-amazon-rds.pcap": (1, {"COM_QUIT": 1, "COM_QUERY": 2}, {}, {}),
    "zeek__mysql__query-attr.pcap": (1, {"COM_QUERY": 3}, {}, {}),
    "zeek__mysql__selects_with_new_proto.pcap": (1, {"COM_QUIT": 1, "COM_QUERY": 4}, {}, {}),
    "zeek__mysql__tls-12-amazon-rds.pcap": (1, {}, {}, {"tls": 1}),
    "zeek__mysql__tls-13-amazon-rds.pcap": (1, {}, {}, {"tls": 1}),
    "zeek__postgresql__mysql-on-port-5432.pcap": (
        1,
        {"COM_QUIT": 1, "COM_QUERY": 2, "COM_PING": 2, "COM_CHANGE_USER": 1},
        {},
        {},
    ),
}

#: Record kinds that report what a capture cannot show by its nature; "error" is the one
#: unexpected kind.
EXPECTED_ANOMALIES = ("tls", "gap", "incomplete", "mid_stream")


def test_the_corpus_table_covers_every_capture() -> None:
    assert sorted(CORPUS) == ALL_CAPTURES
    assert len(ALL_CAPTURES) == 43
    assert (CAPTURES / "SOURCES.md").is_file()


@pytest.mark.parametrize("name", ALL_CAPTURES)
def test_every_public_capture_decodes_without_unexpected_errors(name: str) -> None:
    decoder = Decoder(CAPTURES / name, ports=(PORTS.get(name, 3306),))
    rows = [r.to_dict() for r in decoder]
    conns, commands, errors, anomalies = CORPUS[name]
    assert of_kind(rows, "error") == []
    assert decoder.summary()["errors"] == 0
    assert decoder.summary()["connections"] == conns
    assert len(of_kind(rows, "open")) == len(of_kind(rows, "close")) == conns
    assert collections.Counter(r["command"] for r in of_kind(rows, "command")) == commands
    assert collections.Counter(r["code"] for r in of_kind(rows, "err")) == errors
    seen = collections.Counter(r["kind"] for r in rows if r["kind"] in EXPECTED_ANOMALIES)
    assert seen == anomalies


@pytest.mark.parametrize("name", ALL_CAPTURES)
def test_ports_only_help_the_sniffer(name: str) -> None:
    # Without --port, the same connections are found by their greeting or first command.
    with_port = records(name)
    sniffed = records(name, ports=(3306,))
    assert [strip(r, "detected_by") for r in sniffed] == [
        strip(r, "detected_by") for r in with_port
    ]


# ==================================================================== exact values


def test_zeek_mysql_session() -> None:
    rows = records("zeek__mysql__mysql.pcap")
    assert rows[0] == {
        "conn": 1,
        "dir": None,
        "ts": 1216281025.136169,
        "kind": "open",
        "client": "192.168.0.254:56162",
        "server": "192.168.0.254:3306",
        "detected_by": "port",
        "from_start": True,
    }
    (hs,) = of_kind(rows, "handshake")
    assert (hs["server_version"], hs["connection_id"], hs["auth_plugin"]) == ("5.0.54", 94, None)
    (login,) = of_kind(rows, "login")
    assert (login["user"], login["database"], login["auth_plugin"]) == ("tfoerste", None, None)
    assert [
        (r["command"], r.get("sql") or r.get("schema") or r.get("table"))
        for r in of_kind(rows, "command")
    ] == [
        ("COM_QUERY", "select @@version_comment limit 1"),
        ("COM_QUERY", "SELECT DATABASE()"),
        ("COM_INIT_DB", "test"),
        ("COM_QUERY", "show databases"),
        ("COM_QUERY", "show tables"),
        ("COM_FIELD_LIST", "agent"),
        (
            "COM_QUERY",
            "create table foo (id BIGINT( 10 ) UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, "
            "animal VARCHAR(64) NOT NULL, name VARCHAR(64) NULL DEFAULT NULL) ENGINE = MYISAM",
        ),
        ("COM_QUERY", 'insert into foo (animal, name) values ("dog", "Goofy")'),
        ("COM_QUERY", 'insert into foo (animal, name) values ("cat", "Garfield")'),
        ("COM_QUERY", "select * from foo"),
        ("COM_QUERY", "delete from foo where name like '%oo%'"),
        ("COM_QUERY", "delete from foo where id = 1"),
        ("COM_QUERY", "select count(*) from foo"),
        ("COM_QUERY", "select * from foo"),
        ("COM_QUERY", "delete from foo"),
        ("COM_QUERY", "drop table foo"),
        ("COM_QUIT", None),
    ]
    results = [r for r in rows if r["kind"] in ("resultset", "ok", "field_list")]
    assert [
        ([f["name"] for f in r["fields"]], r["rows"]) for r in results if r["kind"] == "resultset"
    ] == [
        (["@@version_comment"], [["Gentoo Linux mysql-5.0.54"]]),
        (["DATABASE()"], [[None]]),
        (["Database"], [["information_schema"], ["test"]]),
        (["Tables_in_test"], [["agent"]]),
        (["id", "animal", "name"], [[1, "dog", "Goofy"], [2, "cat", "Garfield"]]),
        (["count(*)"], [[1]]),
        (["id", "animal", "name"], [[2, "cat", "Garfield"]]),
    ]
    assert [
        (r["response_to"], r["affected_rows"], r["insert_id"]) for r in results if r["kind"] == "ok"
    ] == [
        ("login", 0, 0),
        ("COM_INIT_DB", 0, 0),
        ("COM_QUERY", 0, 0),  # create table
        ("COM_QUERY", 1, 1),
        ("COM_QUERY", 1, 2),
        ("COM_QUERY", 1, 0),
        ("COM_QUERY", 0, 0),
        ("COM_QUERY", 1, 0),
        ("COM_QUERY", 0, 0),
    ]
    (fl,) = of_kind(rows, "field_list")
    assert [f["name"] for f in fl["fields"]] == [
        "id",
        "custom_data1",
        "custom_data2",
        "custom_data3",
    ]
    # The transcoder's field metadata: id is BIGINT UNSIGNED (LONGLONG), charset binary.
    foo = [r for r in results if r["kind"] == "resultset" and r["fields"][0]["name"] == "id"][0]
    assert strip(foo["fields"][0]) == {
        "name": "id",
        "org_name": "id",
        "table": "foo",
        "org_table": "foo",
        "database": "test",
        "type": "LONGLONG",
        "length": 10,
        "flags": 16931,
        "charset": 63,
        "decimals": 0,
        "extended_type": None,
        "extended_format": None,
    }
    assert strip(rows[-1]) == {
        "kind": "close",
        "how": {"c2s": "fin", "s2c": "fin"},
        "bytes": {"c2s": 659, "s2c": 1194},
        "tls_bytes": {"c2s": 0, "s2c": 0},
        "retransmitted_bytes": {"c2s": 0, "s2c": 0},
        "lost_bytes": {"c2s": 0, "s2c": 0},
        "skipped_bytes": {"c2s": 0, "s2c": 0},
    }


@pytest.mark.parametrize(
    ("name", "user", "database", "code", "sqlstate", "message"),
    [
        (
            "deepflow__mysql-login-error.pcap",
            "mydemo",
            "mydemo-dn1",
            1040,
            "08004",
            "Too many connections",
        ),
        (
            "arkime__mysql-deny.pcap",
            "user0",
            None,
            1045,
            "28000",
            "Access denied for user 'user0'@'host123.local' (using password: NO)",
        ),
        (
            "zeek__mysql__mysql8-navicat-login-failed.pcap",
            "dsm1",
            None,
            1045,
            "28000",
            "Access denied for user 'dsm1'@'10.21.179.53' (using password: YES)",
        ),
    ],
)
def test_failed_logins(
    name: str, user: str, database: str | None, code: int, sqlstate: str, message: str
) -> None:
    rows = records(name)
    (login,) = of_kind(rows, "login")
    assert (login["user"], login["database"]) == (user, database)
    (err,) = of_kind(rows, "err")
    assert strip(err, "elapsed") == {
        "kind": "err",
        "response_to": "login",
        "code": code,
        "sqlstate": sqlstate,
        "message": message,
    }
    assert err["dir"] == "s2c"


def test_navicat_sha256_password_exchange() -> None:
    kinds = [
        (r["kind"], r.get("auth_plugin"), r.get("bytes"))
        for r in records("zeek__mysql__mysql8-navicat-login-failed.pcap")
    ]
    assert kinds[2:8] == [
        ("login", "caching_sha2_password", None),
        ("auth_switch", "sha256_password", 20),
        ("auth_data", None, 1),  # the public-key request (TShark: "command 125")
        ("auth_more_data", None, 451),  # the PEM key
        ("auth_data", None, 256),  # the RSA-encrypted password
        ("err", None, None),
    ]


def test_errors_before_the_greeting() -> None:
    rows = records("zeek__mysql__auth.pcap")
    first = of_kind(rows, "err")[0]
    assert strip(first, "elapsed") == {
        "kind": "err",
        "response_to": "connect",
        "code": 1130,
        "sqlstate": "",
        "message": "Host 'lumberjack.home' is not allowed to connect to this MySQL server",
    }
    assert [r["user"] for r in of_kind(rows, "login")] == ["root_nope"] * 5 + ["root"] * 5
    assert [r["response_to"] for r in of_kind(rows, "ok")] == ["login"]


def test_change_user_rejected() -> None:
    rows = records("zeek__mysql__change-user-error.pcap")
    (cu,) = [r for r in of_kind(rows, "command") if r["command"] == "COM_CHANGE_USER"]
    assert (cu["user"], cu["auth_plugin"]) == ("root2", "caching_sha2_password")
    (err,) = of_kind(rows, "err")
    assert (err["response_to"], err["code"], err["message"]) == (
        "COM_CHANGE_USER",
        1045,
        "Access denied for user 'root2'@'127.0.0.1' (using password: YES)",
    )


def test_init_db_error() -> None:
    (err,) = of_kind(records("deepflow__mysql-error.pcap"), "err")
    assert (err["response_to"], err["code"], err["sqlstate"], err["message"]) == (
        "COM_INIT_DB",
        1049,
        "42000",
        "Unknown database 'abcd'",
    )


def test_compressed_connection_captured_mid_stream() -> None:
    rows = records("deepflow__mysql-compressed-response.pcap")
    (mid,) = of_kind(rows, "mid_stream")
    assert mid["compression"] == "zlib"
    assert "CLIENT_PROTOCOL_41" in mid["assumed_capabilities"]
    (cmd,) = of_kind(rows, "command")
    assert cmd["sql"] == "SELECT * FROM `az_controller_connection`"
    (rs,) = of_kind(rows, "resultset")
    # Inflated by hand: 5 column definitions, 5 text rows, then a 0xFE OK (status 0x22).
    assert [f["name"] for f in rs["fields"]] == ["id", "az", "region", "controller_ip", "lcuuid"]
    assert rs["rows"][:4] == [
        [5, "ALL", "396531b8-6297-4515-91e6-2969b601c104", "10.50.1.8",
         "636c6e29-eb5a-4b94-86fa-2f30ca97ecec"],
        [15, "ALL", "396531b8-6297-4515-91e6-2969b601c104", "10.50.1.20",
         "2131c5c0-e404-4218-827b-fe2e93979e90"],
        [21, "ALL", "ffffffff-ffff-ffff-ffff-ffffffffffff", "10.1.23.23",
         "ea1d39e8-5924-46da-ae64-c6723146930c"],
        [22, "ALL", "ffffffff-ffff-ffff-ffff-ffffffffffff", "10.1.23.21",
         "01bacea1-646f-4bfc-85df-d64da5febdae"],
    ]  # fmt: skip
    assert rs["rows"][4][:4] == [
        24,
        "ffffffff-ffff-ffff-ffff-ffffffffffff",
        "ffffffff-ffff-ffff-ffff-ffffffffffff",
        "10.1.23.22",
    ]
    assert (rs["row_count"], rs["status_flags"]) == (5, 0x22)


def test_compressed_packets_straddling_frames() -> None:
    rows = records("deepflow__partial-packet-compressed.pcap", max_rows=2)
    first, second = of_kind(rows, "resultset")
    # Inflated by hand: 24 columns, 1992 rows; then `vip`: 7 columns, no row.
    assert (len(first["fields"]), first["row_count"], first["rows_truncated"]) == (24, 1992, True)
    assert first["rows"][0][:9] == [
        632,
        "runc",
        1812,
        25346,
        915,
        "runc",
        "",
        "",
        "2025-04-27 01:26:05",
    ]
    assert (len(second["fields"]), second["row_count"], second["rows"]) == (7, 0, [])


def test_tls_after_ssl_request() -> None:
    rows = records("arkime__mysql-tls.pcap")
    assert [r["kind"] for r in rows] == ["open", "handshake", "ssl_request", "tls", "close"]
    assert rows[1]["server_version"] == "5.7.16"
    assert "CLIENT_SSL" in rows[2]["capabilities"]
    # TShark: frames 8 (156 bytes, client) and 10 (873 bytes, server) are TLS.
    assert rows[-1]["tls_bytes"] == {"c2s": 156, "s2c": 873}


def test_pcapng_with_mariadb_and_a_tls_connection() -> None:
    rows = records("nDPI__mysql.pcapng")
    hs1, hs2 = of_kind(rows, "handshake")
    assert (hs1["conn"], hs1["server_version"], hs1["connection_id"], hs1["auth_plugin"]) == (
        1,
        "5.5.5-10.6.12-MariaDB-0ubuntu0.22.04.1",
        32,
        "mysql_native_password",
    )
    assert (hs2["conn"], hs2["server_version"], hs2["connection_id"], hs2["auth_plugin"]) == (
        2,
        "8.0.36",
        12,
        "caching_sha2_password",
    )
    (login,) = of_kind(rows, "login")
    assert (login["user"], login["auth_plugin"]) == ("admin", "mysql_native_password")
    # MariaDB's extended metadata and metadata caching were negotiated: the column
    # definition carries the extended block and the column count a metadata byte.
    assert "MARIADB_CLIENT_EXTENDED_METADATA" in login["capabilities"]
    (rs,) = of_kind(rows, "resultset")
    assert (rs["fields"][0]["name"], rs["rows"]) == ("@@version_comment", [["Ubuntu 22.04"]])
    assert [r["kind"] for r in rows if r["conn"] == 2][2:4] == ["ssl_request", "tls"]


def test_mid_stream_prepare() -> None:
    rows = records("deepflow__mysql-statement-id.pcap")
    assert rows[0]["from_start"] is False
    (cmd,) = of_kind(rows, "command")
    assert cmd["sql"] == "SELECT * FROM `controller` WHERE ip <> ?"
    (prep,) = of_kind(rows, "prepared")
    # TShark: statement id 510, 20 fields, 1 parameter.
    assert (prep["statement_id"], prep["params"], len(prep["columns"])) == (510, 1, 20)
    assert prep["columns"][:4] == ["id", "state", "name", "description"]


def test_mid_stream_execute_parameters() -> None:
    rows = records("deepflow__mysql-exec.pcap")
    (execute,) = [r for r in of_kind(rows, "command") if r["command"] == "COM_STMT_EXECUTE"]
    # TShark (mysql.exec.field.*, in order): 97 parameters.
    assert len(execute["params"]) == 97
    assert execute["params"][:12] == [
        12,
        24187645952,
        2000,
        0,
        1,
        "master-",
        "499c7536-806d-4d00-aced-abd3fea2da76",
        "master-deepflow-server-6c496bcf44-44mkf",
        "a89e17d0de37c975573dd8a3b49d1764",
        "10.1.23.23",
        "4.19.17",
        "2023-07-14 18:01:57",
    ]
    (ok,) = of_kind(rows, "ok")
    assert (ok["response_to"], ok["info"]) == (
        "COM_STMT_EXECUTE",
        "Records: 5  Duplicates: 0  Warnings: 0",
    )


def test_query_attributes_of_every_type() -> None:
    rows = records("zeek__mysql__mysql-9.0.0-query-attributes.pcap")
    (q,) = [r for r in of_kind(rows, "command") if r["command"] == "COM_QUERY"]
    # By hand from the payload: TINY UNSIGNED 0x2a, a string, DATE 1987-10-18 and
    # DATETIME 1990-09-26 12:13:14 (TShark 4.0 names them but shows no values).
    assert (q["sql"], q["attributes"]) == (
        "SELECT version()",
        {
            "number1": "42",
            "string1": "a string",
            "date1": "1987-10-18",
            "datetime1": "1990-09-26 12:13:14",
        },
    )


@pytest.mark.parametrize(
    ("ports", "detected_by", "connections"),
    [((5432,), "port", 1), ((3306,), "greeting", 1)],
)
def test_mysql_on_a_postgresql_port(
    ports: tuple[int, ...], detected_by: str, connections: int
) -> None:
    rows = records("zeek__postgresql__mysql-on-port-5432.pcap", ports=ports)
    (opened,) = of_kind(rows, "open")
    assert (opened["server"], opened["detected_by"]) == ("127.0.0.1:5432", detected_by)
    assert of_kind(rows, "handshake")[0]["server_version"] == "8.4.2"


def test_no_sniffing_means_ports_only() -> None:
    decoder = Decoder(CAPTURES / "zeek__postgresql__mysql-on-port-5432.pcap", sniff=False)
    assert list(decoder) == []
    assert (decoder.summary()["connections"], decoder.summary()["ignored_connections"]) == (0, 1)


def test_connection_pool_traffic_captured_mid_stream() -> None:
    rows = records("deepflow__171-mysql.pcap", ports=(3306,))
    assert {r["detected_by"] for r in of_kind(rows, "open")} == {"command"}
    assert len(of_kind(rows, "resultset")) == 130
    assert len([r for r in of_kind(rows, "ok") if r["response_to"] == "COM_PING"]) == 260


# ======================================================== synthetic captures (dpkt)

Frame = tuple[float, Any]  # (ts, dpkt IP or IP6 packet)


def read_ip_packets(name: str) -> list[Frame]:
    """The IP packets of a public (Ethernet) capture, read with dpkt."""
    out = []
    with open(CAPTURES / name, "rb") as f:
        for ts, buf in dpkt.pcap.UniversalReader(f):
            out.append((float(ts), dpkt.ethernet.Ethernet(buf).data))
    return out


def to_ipv6(ip: Any) -> Any:
    """The same TCP segment over IPv6 (2001:db8::a.b.c.d)."""
    tcp = ip.data
    tcp.sum = 0
    six = dpkt.ip6.IP6(
        src=ipaddress.IPv6Address("2001:db8::" + str(ipaddress.IPv4Address(ip.src))).packed,
        dst=ipaddress.IPv6Address("2001:db8::" + str(ipaddress.IPv4Address(ip.dst))).packed,
        nxt=6,
        hlim=64,
        data=tcp,
    )
    six.plen = len(bytes(tcp))
    return six


def link_frame(link: str, ip: Any) -> bytes:
    raw = bytes(ip)
    eth_type = 0x86DD if isinstance(ip, dpkt.ip6.IP6) else 0x0800
    if link == "ethernet":
        return bytes(
            dpkt.ethernet.Ethernet(src=b"\x02" * 6, dst=b"\x04" * 6, type=eth_type, data=raw)
        )
    if link == "linux_sll":
        return bytes(dpkt.sll.SLL(type=0, hrd=1, hlen=6, hdr=b"\x02" * 8, ethtype=eth_type)) + raw
    if link == "linux_sll2":
        return (
            bytes(dpkt.sll2.SLL2(ethtype=eth_type, intindex=1, hrd=1, hlen=6, hdr=b"\x02" * 8))
            + raw
        )
    if link == "null":
        return struct.pack("<I", 30 if eth_type == 0x86DD else 2) + raw
    if link == "raw":
        return raw
    raise AssertionError(link)


LINKTYPES = {"ethernet": 1, "null": 0, "raw": 101, "linux_sll": 113, "linux_sll2": 276}


def write_capture(
    path: Path, frames: list[Frame], *, link: str = "ethernet", fmt: str = "pcap"
) -> Path:
    with open(path, "wb") as f:
        if fmt == "pcapng":
            w = dpkt.pcapng.Writer(f, linktype=LINKTYPES[link])
        else:
            w = dpkt.pcap.Writer(f, linktype=LINKTYPES[link], nano=fmt == "pcap-nano")
        for ts, ip in frames:
            w.writepkt(link_frame(link, ip), ts=ts)
    return path


def comparable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records without endpoints, capture times, elapsed times and TCP statistics."""
    out = []
    for r in rows:
        d = strip(r, "client", "server", "elapsed", "retransmitted_bytes")
        d.pop("dir", None)
        out.append(d)
    return out


BASE = "zeek__mysql__mysql.pcap"


@pytest.mark.parametrize(
    ("link", "fmt", "v6"),
    [
        ("ethernet", "pcap", True),
        ("linux_sll", "pcap", False),
        ("linux_sll2", "pcap", False),
        ("linux_sll2", "pcap", True),
        ("null", "pcap", False),
        ("null", "pcap", True),
        ("raw", "pcap", False),
        ("raw", "pcap", True),
        ("ethernet", "pcapng", False),
        ("linux_sll", "pcapng", True),
        ("ethernet", "pcap-nano", False),
    ],
)
def test_link_types_ip_versions_and_formats(tmp_path: Path, link: str, fmt: str, v6: bool) -> None:
    frames = read_ip_packets(BASE)
    if v6:
        frames = [(ts, to_ipv6(ip)) for ts, ip in frames]
    path = write_capture(tmp_path / "x.cap", frames, link=link, fmt=fmt)
    rows = records(path, ports=(3306,))
    assert comparable(rows) == comparable(records(BASE))
    assert [r["ts"] for r in rows] == pytest.approx([r["ts"] for r in records(BASE)], abs=1e-6)
    if v6:
        assert (rows[0]["client"], rows[0]["server"]) == (
            "[2001:db8::c0a8:fe]:56162",
            "[2001:db8::c0a8:fe]:3306",
        )
    with Capture(path) as cap:
        assert cap.link_name == link


def resegment(frames: list[Frame], rng: random.Random) -> list[Frame]:
    """Split every data segment in pieces, retransmit some, add overlapping copies and
    shuffle the pieces.  The first data segment of each direction stays whole and
    first: without a SYN it is where the stream starts."""
    out: list[Frame] = []
    seen: set[int] = set()
    for ts, ip in frames:
        tcp = ip.data
        data = bytes(tcp.data)
        if len(data) < 2 or tcp.sport not in seen:
            seen.add(tcp.sport) if data else None
            out.append((ts, ip))
            continue
        cuts = sorted(rng.sample(range(1, len(data)), min(3, len(data) - 1)))
        pieces = []
        for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True):
            pieces.append((a, data[a:b]))
        if rng.random() < 0.5:  # an overlapping copy of two pieces' worth
            a = pieces[0][0]
            pieces.append((a, data[a : cuts[-1]]))
        if rng.random() < 0.5:  # a retransmission
            pieces.append(rng.choice(pieces))
        rng.shuffle(pieces)
        for i, (off, chunk) in enumerate(pieces):
            seg = dpkt.tcp.TCP(
                sport=tcp.sport,
                dport=tcp.dport,
                seq=(tcp.seq + off) % (1 << 32),
                ack=tcp.ack,
                flags=tcp.flags if off + len(chunk) == len(data) else tcp.flags & ~dpkt.tcp.TH_FIN,
                win=tcp.win,
                data=chunk,
            )
            out.append((ts + i * 1e-7, dpkt.ip.IP(src=ip.src, dst=ip.dst, p=6, data=seg)))
    return out


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_reassembly_of_split_reordered_retransmitted_segments(tmp_path: Path, seed: int) -> None:
    print("seed", seed)
    rng = random.Random(seed)
    for name in (BASE, "deepflow__partial-packet-compressed.pcap"):
        frames = resegment(read_ip_packets(name), rng)
        path = write_capture(tmp_path / "x.pcap", frames)
        ports = (PORTS.get(name, 3306),)
        got = records(path, ports=ports, max_rows=3)
        want = records(name, ports=ports, max_rows=3)
        assert comparable(got) == comparable(want)
        assert got[-1]["retransmitted_bytes"] != {"c2s": 0, "s2c": 0} or seed == 0


def test_a_lost_segment_is_a_gap_and_decoding_resumes(tmp_path: Path) -> None:
    frames = read_ip_packets(BASE)
    # Frame 34 (190 bytes) is the server's answer to the first "select * from foo" (TShark).
    del frames[33]
    rows = records(write_capture(tmp_path / "gap.pcap", frames))
    kinds = [(r["kind"], r.get("command") or r.get("reason")) for r in rows]
    i = kinds.index(("gap", "acked"))
    gap = rows[i]
    assert (gap["dir"], gap["bytes"]) == ("s2c", 190)
    # The gap shows when the server's next segment waits and the client acknowledges
    # past the hole, after the next command: both commands are left without an answer;
    # the hunt then starts at the command after, and everything from it decodes.
    assert [r.get("sql") for r in rows[i - 2 : i]] == [
        "select * from foo",
        "delete from foo where name like '%oo%'",
    ]
    assert kinds[i + 1 : i + 5] == [
        ("incomplete", "a gap in the capture"),
        ("incomplete", "a gap in the capture"),
        ("mid_stream", None),
        ("command", "COM_QUERY"),
    ]
    assert rows[i + 4]["sql"] == "delete from foo where id = 1"
    assert [r["kind"] for r in rows[i + 5 :]] == ["ok"] + ["command", "resultset"] * 2 + [
        "command",
        "ok",
    ] * 2 + ["command", "close"]
    assert of_kind(rows, "error") == []
    assert rows[-1]["lost_bytes"] == {"c2s": 0, "s2c": 190}


def test_snap_length_cuts_are_gaps(tmp_path: Path) -> None:
    # TShark: frames 4 (greeting) and 6 (login) are 122 and 132 bytes; the resultsets
    # (frames 10, 18, 20, 22, 34, 46...) are longer and lose their tails.
    path = tmp_path / "snap.pcap"
    with open(CAPTURES / BASE, "rb") as f, open(path, "wb") as out:
        w = dpkt.pcap.Writer(out, snaplen=140)
        for ts, buf in dpkt.pcap.UniversalReader(f):
            w.writepkt(buf[:140], ts=float(ts))
    rows = records(path)
    gaps = of_kind(rows, "gap")
    assert gaps and {g["reason"] for g in gaps} == {"snaplen"}
    assert of_kind(rows, "error") == []
    assert of_kind(rows, "handshake")[0]["server_version"] == "5.0.54"
    assert of_kind(rows, "login")[0]["user"] == "tfoerste"
    assert rows[5]["kind"] == "gap" and rows[5]["bytes"] == 162 - 140


def test_a_file_cut_in_the_middle_of_a_record(tmp_path: Path) -> None:
    data = (CAPTURES / BASE).read_bytes()
    path = tmp_path / "cut.pcap"
    path.write_bytes(data[:3000])
    decoder = Decoder(path)
    rows = [r.to_dict() for r in decoder]
    assert decoder.summary()["truncated_file"] is True
    assert of_kind(rows, "error") == []
    assert rows[-1]["kind"] == "close" and rows[-1]["how"] == {
        "c2s": "capture_end",
        "s2c": "capture_end",
    }


def test_not_a_capture(tmp_path: Path) -> None:
    path = tmp_path / "x.pcap"
    path.write_bytes(b"MWTRACE1 is not a capture")
    with pytest.raises(CaptureError, match="x.pcap: not a pcap or pcapng file"):
        Decoder(path)
    with pytest.raises(FileNotFoundError):
        Decoder(tmp_path / "missing.pcap")


def test_unsupported_link_type(tmp_path: Path) -> None:
    path = tmp_path / "wifi.pcap"
    with open(path, "wb") as f:
        dpkt.pcap.Writer(f, linktype=105).writepkt(b"\x00" * 40, ts=1.0)
    with pytest.raises(CaptureError, match="link type 105 is not supported"):
        Decoder(path)


def build_conversation(tmp_path: Path, turns: list[tuple[str, bytes]], *, port: int = 3306) -> Path:
    """A capture of one connection (SYN to FIN) carrying ``turns``: ("c", bytes) from
    the client, ("s", bytes) from the server, in that order."""
    client, server = b"\x0a\x00\x00\x01", b"\x0a\x00\x00\x02"
    seqs = {"c": 1000, "s": 5000}
    frames: list[Frame] = []

    def seg(who: str, flags: int, data: bytes = b"") -> None:
        src, dst = (client, server) if who == "c" else (server, client)
        sport, dport = (40000, port) if who == "c" else (port, 40000)
        other = "s" if who == "c" else "c"
        tcp = dpkt.tcp.TCP(
            sport=sport, dport=dport, seq=seqs[who], ack=seqs[other], flags=flags, data=data
        )
        frames.append((100.0 + len(frames) / 1000, dpkt.ip.IP(src=src, dst=dst, p=6, data=tcp)))
        seqs[who] += len(data) + (1 if flags & (dpkt.tcp.TH_SYN | dpkt.tcp.TH_FIN) else 0)

    seg("c", dpkt.tcp.TH_SYN)
    seg("s", dpkt.tcp.TH_SYN | dpkt.tcp.TH_ACK)
    for who, data in turns:
        seg(who, dpkt.tcp.TH_ACK | dpkt.tcp.TH_PUSH, data)
    seg("c", dpkt.tcp.TH_FIN | dpkt.tcp.TH_ACK)
    seg("s", dpkt.tcp.TH_FIN | dpkt.tcp.TH_ACK)
    return write_capture(tmp_path / "conv.pcap", frames)


OK = b"\x00\x00\x00\x02\x00\x00\x00"


def test_malformed_traffic_is_an_error_record_and_decoding_goes_on(tmp_path: Path) -> None:
    start = read_first_payloads(BASE)
    path = build_conversation(
        tmp_path,
        [
            ("s", start["handshake"]),
            ("c", start["login"]),
            ("s", start["ok"]),
            ("c", pkt(0, b"\x0e")),
            ("s", pkt(1, OK)),
            ("c", pkt(0, b"\x19\x01")),  # COM_STMT_CLOSE without its statement id
            ("c", pkt(0, b"\x03SELECT 2")),
            ("s", pkt(1, OK)),
        ],
    )
    decoder = Decoder(path)
    rows = [r.to_dict() for r in decoder]
    assert [(r["kind"], r.get("command") or r.get("response_to")) for r in rows] == [
        ("open", None),
        ("handshake", None),
        ("login", None),
        ("ok", "login"),
        ("command", "COM_PING"),
        ("ok", "COM_PING"),
        ("error", None),
        ("mid_stream", None),
        ("command", "COM_QUERY"),
        ("ok", "COM_QUERY"),
        ("close", None),
    ]
    assert strip(rows[6]) == {
        "kind": "error",
        "error": "TruncatedPacket",
        "message": "truncated packet: expected 4-byte integer at offset 1, 1 bytes left",
    }
    assert rows[6]["dir"] == "c2s"
    assert decoder.summary()["errors"] == 1


def read_first_payloads(name: str) -> dict[str, bytes]:
    """The greeting, login and login OK of a capture, as TShark shows them (frames 4,
    6 and 8 of zeek__mysql__mysql.pcap), read with dpkt."""
    frames = read_ip_packets(name)
    data = [bytes(ip.data.data) for _, ip in frames]
    nonempty = [d for d in data if d]
    return {"handshake": nonempty[0], "login": nonempty[1], "ok": nonempty[2]}


# =============================================================== TCP reassembly


def chunks(items: list[Chunk | Gap | End]) -> list[tuple[str, int, bytes | int | str]]:
    out: list[tuple[str, int, bytes | int | str]] = []
    for it in items:
        if isinstance(it, Chunk):
            out.append(("chunk", it.offset, it.data))
        elif isinstance(it, Gap):
            out.append(("gap", it.offset, it.size))
        else:
            out.append(("end", 0, it.how))
    return out


def test_in_order_with_syn_and_fin() -> None:
    s = HalfStream()
    assert s.segment(1.0, 99, b"", syn=True) == []
    assert chunks(s.segment(2.0, 100, b"abc")) == [("chunk", 0, b"abc")]
    assert chunks(s.segment(3.0, 103, b"de", fin=True)) == [
        ("chunk", 3, b"de"),
        ("end", 0, "fin"),
    ]
    assert (s.delivered, s.retransmitted, s.lost) == (5, 0, 0)


def test_out_of_order_segments_wait() -> None:
    s = HalfStream()
    s.segment(1.0, 0, b"", syn=True)
    assert s.segment(2.0, 4, b"def") == []
    assert s.buffered == 3
    assert chunks(s.segment(3.0, 1, b"abc")) == [("chunk", 0, b"abc"), ("chunk", 3, b"def")]
    assert s.buffered == 0


def test_retransmissions_are_dropped() -> None:
    s = HalfStream()
    s.segment(1.0, 0, b"", syn=True)
    s.segment(2.0, 1, b"abcd")
    assert s.segment(3.0, 1, b"abcd") == []
    assert s.segment(4.0, 3, b"cd") == []
    assert s.retransmitted == 6


def test_overlaps_are_trimmed_and_first_bytes_win() -> None:
    s = HalfStream()
    s.segment(1.0, 0, b"", syn=True)
    s.segment(2.0, 1, b"abcd")
    # Overlaps delivered bytes: only the new part comes out.
    assert chunks(s.segment(3.0, 3, b"XXef")) == [("chunk", 4, b"ef")]
    # Two waiting segments that overlap each other: the one captured first keeps its bytes.
    assert s.segment(4.0, 9, b"ijkl") == []
    assert s.segment(5.0, 11, b"YYmn") == []
    assert chunks(s.segment(6.0, 7, b"gh")) == [
        ("chunk", 6, b"gh"),
        ("chunk", 8, b"ijkl"),
        ("chunk", 12, b"mn"),
    ]
    assert s.retransmitted == 2 + 2


def test_sequence_numbers_wrap() -> None:
    s = HalfStream()
    s.segment(1.0, 0xFFFFFFFE, b"", syn=True)
    assert chunks(s.segment(2.0, 0xFFFFFFFF, b"ab")) == [("chunk", 0, b"ab")]
    assert chunks(s.segment(3.0, 3, b"d")) == []
    assert chunks(s.segment(4.0, 1, b"cc")) == [("chunk", 2, b"cc"), ("chunk", 4, b"d")]


def test_a_hole_acknowledged_by_the_peer_is_a_gap() -> None:
    s = HalfStream()
    s.segment(1.0, 0, b"", syn=True)
    s.segment(2.0, 1, b"ab")
    s.segment(3.0, 6, b"fg")  # bytes 2..4 never captured
    assert s.acknowledged(4.0, 3) == []  # the peer has not seen past the hole yet
    assert chunks(s.acknowledged(5.0, 8)) == [("gap", 2, 3), ("chunk", 5, b"fg")]
    assert s.lost == 3


def test_a_hole_is_given_up_when_the_buffer_is_full() -> None:
    s = HalfStream(max_buffer=4)
    s.segment(1.0, 0, b"", syn=True)
    assert s.segment(2.0, 3, b"cde") == []
    assert chunks(s.segment(3.0, 6, b"fg")) == [
        ("gap", 0, 2),
        ("chunk", 2, b"cde"),
        ("chunk", 5, b"fg"),
    ]


def test_the_end_of_the_capture_flushes_holes() -> None:
    s = HalfStream()
    s.segment(1.0, 0, b"", syn=True)
    s.segment(2.0, 5, b"ef", fin=True)
    assert chunks(s.flush(9.0)) == [("gap", 0, 4), ("chunk", 4, b"ef"), ("end", 0, "fin")]


def test_a_fin_after_missing_bytes() -> None:
    s = HalfStream()
    s.segment(1.0, 0, b"", syn=True)
    s.segment(2.0, 1, b"ab")
    assert s.segment(3.0, 6, b"", fin=True) == []
    assert chunks(s.flush(4.0)) == [("gap", 2, 3), ("end", 0, "fin")]


def test_rst_ends_the_stream() -> None:
    s = HalfStream()
    s.segment(1.0, 0, b"", syn=True)
    s.segment(2.0, 5, b"xy")
    assert chunks(s.segment(3.0, 1, b"", rst=True)) == [
        ("gap", 0, 4),
        ("chunk", 4, b"xy"),
        ("end", 0, "rst"),
    ]
    assert s.segment(4.0, 1, b"late") == []


def test_snap_length_hole() -> None:
    s = HalfStream()
    s.segment(1.0, 0, b"", syn=True)
    assert chunks(s.segment(2.0, 1, b"ab", missing=3)) == [("chunk", 0, b"ab"), ("gap", 2, 3)]
    assert chunks(s.segment(3.0, 6, b"f")) == [("chunk", 5, b"f")]


def test_mid_stream_start_ignores_empty_segments() -> None:
    # A keep-alive probe carries the sequence number before the next byte.
    s = HalfStream()
    assert s.segment(1.0, 99, b"") == []
    assert not s.started
    assert chunks(s.segment(2.0, 100, b"abc")) == [("chunk", 0, b"abc")]


# ======================================================================= observer


def test_recognisers() -> None:
    assert looks_like_command(b"\x09\x00\x00\x00\x03SELECT 1")
    assert looks_like_command(b"\x01\x00\x00\x00\x0e")
    assert not looks_like_command(b"\x01\x00\x00\x01\x0e")  # sequence id 1
    assert not looks_like_command(b"GET / HTTP/1.1\r\n\r\n")
    assert not looks_like_command(b"\x09\x00\x00\x00\x03\x00\x00\x00\x00\x00\x00\x00\x00")
    hs = read_first_payloads(BASE)["handshake"]
    assert looks_like_greeting(hs)
    assert not looks_like_greeting(hs[:20])


@given(
    st.lists(
        st.tuples(st.sampled_from(["c2s", "s2c"]), st.binary(max_size=64)),
        max_size=12,
    ),
    st.booleans(),
)
def test_the_observer_never_raises(feed: list[tuple[str, bytes]], from_start: bool) -> None:
    obs = Observer(from_start=from_start)
    kinds = []
    for i, (direction, data) in enumerate(feed):
        if data:
            kinds += [n.kind for n in obs.data(direction, float(i), data)]
    kinds += [n.kind for n in obs.finish(99.0)]
    assert obs.errors == kinds.count("error")


def hand_observer(pairs: list[tuple[str, bytes]], from_start: bool = True) -> list[tuple[str, Any]]:
    obs = Observer(from_start=from_start, max_rows=None)
    out = []
    for i, (direction, data) in enumerate(pairs):
        out += obs.data(direction, float(i), data)
    out += obs.finish(99.0)
    return [(n.kind, dict(n.details)) for n in out]


def pkt(seq: int, body: bytes) -> bytes:
    return len(body).to_bytes(3, "little") + bytes([seq]) + body


def test_pipelined_commands_pair_with_their_answers() -> None:
    ok = OK
    notes = hand_observer(
        [
            ("c2s", pkt(0, b"\x0e") + pkt(0, b"\x03DO 1")),
            ("s2c", pkt(1, ok)),
            ("s2c", pkt(1, b"\xff\x7a\x04#42000Syntax")),
        ],
        from_start=False,
    )
    assert [(k, d.get("response_to"), d.get("command")) for k, d in notes] == [
        ("mid_stream", None, None),
        ("command", None, "COM_PING"),
        ("command", None, "COM_QUERY"),
        ("ok", "COM_PING", None),
        ("err", "COM_QUERY", None),
    ]
    assert notes[-1][1]["code"] == 1146


def test_an_answer_captured_before_its_request_waits_for_it() -> None:
    ok = b"\x00\x00\x00\x02\x00\x00\x00"
    notes = hand_observer(
        [
            ("c2s", pkt(0, b"\x0e")),
            ("s2c", pkt(1, ok)),
            ("s2c", pkt(1, ok)),
            ("c2s", pkt(0, b"\x0e")),
        ],
        from_start=False,
    )
    assert [(k, d.get("response_to")) for k, d in notes] == [
        ("mid_stream", None),
        ("command", None),
        ("ok", "COM_PING"),
        ("command", None),
        ("ok", "COM_PING"),
    ]


def test_an_answer_to_nothing_is_an_error_at_the_end() -> None:
    ok = b"\x00\x00\x00\x02\x00\x00\x00"
    notes = hand_observer([("c2s", pkt(0, b"\x0e")), ("s2c", pkt(1, ok) + pkt(2, ok))], False)
    assert [k for k, _ in notes] == ["mid_stream", "command", "ok", "error"]
    assert notes[-1][1] == {
        "error": "MalformedPacket",
        "message": "the server sent 7 bytes that answer no command",
    }


def test_an_idle_err_needs_no_request() -> None:
    notes = hand_observer(
        [
            ("c2s", pkt(0, b"\x0e")),
            ("s2c", pkt(1, b"\x00\x00\x00\x02\x00\x00\x00")),
            ("s2c", pkt(0, b"\xff\x13\x10#HY000Timeout")),
        ],
        False,
    )
    assert notes[-1] == ("err", {"code": 4115, "sqlstate": "HY000", "message": "Timeout"})


def test_mid_stream_learns_deprecate_eof_and_binary_rows() -> None:
    # A BIGINT column, charset binary.
    col = b"\x03def\x00\x00\x00\x01a\x00\x0c\x3f\x00\x0b\x00\x00\x00\x08\x00\x00\x00\x00\x00"
    prepare_ok = b"\x00\x07\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00"
    execute = b"\x17\x07\x00\x00\x00\x00\x01\x00\x00\x00"
    notes = hand_observer(
        [
            ("c2s", pkt(0, b"\x16SELECT 1")),
            ("s2c", pkt(1, prepare_ok) + pkt(2, col)),
            ("c2s", pkt(0, execute)),
            (
                "s2c",
                pkt(1, b"\x01")
                + pkt(2, col)
                + pkt(3, b"\x00\x00" + (5).to_bytes(8, "little"))
                + pkt(4, b"\xfe\x00\x00\x02\x00\x00\x00"),
            ),
        ],
        False,
    )
    kinds = [k for k, _ in notes]
    assert kinds == ["mid_stream", "command", "prepared", "command", "resultset"]
    rs = notes[-1][1]
    assert (rs["rows"], rs["row_count"], rs["fields"][0]["type"]) == ([[5]], 1, "LONGLONG")
    assert notes[3][1]["sql"] == "SELECT 1"


def eof(status: int, warnings: int = 0) -> bytes:
    return b"\xfe" + warnings.to_bytes(2, "little") + status.to_bytes(2, "little")


def text_col(name: bytes, ftype: int = 0x03, charset: int = 63) -> bytes:
    return (
        b"\x03def\x00\x00\x00"
        + bytes([len(name)])
        + name
        + b"\x00\x0c"
        + charset.to_bytes(2, "little")
        + b"\x0b\x00\x00\x00"
        + bytes([ftype])
        + b"\x00\x00\x00\x00\x00"
    )


def test_local_infile() -> None:
    notes = hand_observer(
        [
            ("c2s", pkt(0, b"\x03LOAD DATA LOCAL INFILE 'f.csv' INTO TABLE t")),
            ("s2c", pkt(1, b"\xfbf.csv")),
            ("c2s", pkt(2, b"a,b\n") + pkt(3, b"c,d\n") + pkt(4, b"")),
            ("s2c", pkt(5, b"\x00\x02\x00\x02\x00\x00\x00")),
        ],
        from_start=False,
    )
    assert [
        (k, d.get("filename") or d.get("bytes") or d.get("affected_rows")) for k, d in notes
    ] == [
        ("mid_stream", None),
        ("command", None),
        ("local_infile", "f.csv"),
        ("infile_data", 8),
        ("ok", 2),
    ]


def test_multiple_results_with_classic_eof() -> None:
    more, last = 0x0002 | 0x0008, 0x0002
    notes = hand_observer(
        [
            ("c2s", pkt(0, b"\x03SELECT 1; SELECT 'two'")),
            (
                "s2c",
                pkt(1, b"\x01")
                + pkt(2, text_col(b"1"))
                + pkt(3, eof(more))
                + pkt(4, b"\x011")
                + pkt(5, eof(more))
                + pkt(6, b"\x01")
                + pkt(7, text_col(b"two", 0xFD, 33))
                + pkt(8, eof(last))
                + pkt(9, b"\x03two")
                + pkt(10, eof(last)),
            ),
        ],
        from_start=False,
    )
    first, second = [d for k, d in notes if k == "resultset"]
    assert (first["rows"], first["more_results"], first["status_flags"]) == ([[1]], True, more)
    assert (second["rows"], "more_results" in second) == ([["two"]], False)
    assert second["fields"][0]["type"] == "VAR_STRING"


def test_cursor_then_fetch() -> None:
    prepare_ok = b"\x00\x09\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00"  # 1 column, 0 params
    col = text_col(b"n", 0x08)  # BIGINT
    notes = hand_observer(
        [
            ("c2s", pkt(0, b"\x16SELECT n FROM t")),
            ("s2c", pkt(1, prepare_ok) + pkt(2, col) + pkt(3, eof(0x0002))),
            ("c2s", pkt(0, b"\x17\x09\x00\x00\x00\x01\x01\x00\x00\x00")),  # CURSOR_TYPE_READ_ONLY
            ("s2c", pkt(1, b"\x01") + pkt(2, col) + pkt(3, eof(0x0042))),
            ("c2s", pkt(0, b"\x1c\x09\x00\x00\x00\x0a\x00\x00\x00")),  # fetch 10
            (
                "s2c",
                pkt(1, b"\x00\x00" + (7).to_bytes(8, "little"))
                + pkt(2, b"\x00\x00" + (8).to_bytes(8, "little"))
                + pkt(3, eof(0x0082)),
            ),
        ],
        from_start=False,
    )
    assert [k for k, _ in notes] == [
        "mid_stream",
        "command",
        "prepared",
        "command",
        "resultset",
        "command",
        "resultset",
    ]
    opened, fetched = notes[4][1], notes[6][1]
    assert (opened["cursor"], opened["rows"], opened["status_flags"]) == (True, [], 0x42)
    assert (fetched["response_to"], fetched["rows"], fetched["status_flags"]) == (
        "COM_STMT_FETCH",
        [[7], [8]],
        0x82,
    )
    assert notes[5][1] == {"command": "COM_STMT_FETCH", "statement_id": 9, "num_rows": 10}


def test_compression_negotiated_at_login(tmp_path: Path) -> None:
    start = read_first_payloads(BASE)
    login = bytearray(start["login"])
    login[4] |= 0x20  # CLIENT_COMPRESS (the server offers it: TShark, frame 4)
    resultset = (
        pkt(1, b"\x01")
        + pkt(2, text_col(b"x"))
        + pkt(3, eof(2))
        + pkt(4, b"\x0242")
        + pkt(5, eof(2))
    )
    path = build_conversation(
        tmp_path,
        [
            ("s", start["handshake"]),
            ("c", bytes(login)),
            ("s", start["ok"]),
            ("c", raw_frame(0, pkt(0, b"\x03SELECT 42 AS x"))),
            ("s", zlib_frame(1, resultset)),
            ("c", raw_frame(0, pkt(0, b"\x01"))),
        ],
    )
    rows = records(path)
    assert [r["kind"] for r in rows] == [
        "open",
        "handshake",
        "login",
        "ok",
        "command",
        "resultset",
        "command",
        "close",
    ]
    assert "CLIENT_COMPRESS" in rows[2]["capabilities"]
    assert (rows[4]["sql"], rows[5]["rows"]) == ("SELECT 42 AS x", [[42]])


# ============================================= captures made from the real MariaDB

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def made_captures(
    mariadb_dsn: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ModuleType, Path]]:
    """Every scenario of tools/make_captures.py, recorded once for this module."""
    if shutil.which("tcpdump") is None or os.geteuid() != 0:
        message = "recording captures needs tcpdump and root"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    spec = importlib.util.spec_from_file_location(
        "make_captures", REPO / "tools" / "make_captures.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_captures"] = module
    try:
        spec.loader.exec_module(module)
        out = tmp_path_factory.mktemp("made")
        dsn = os.environ.get("MYWIRE_TEST_DSN", module.DEFAULT_DSN)
        for name in module.SCENARIOS:
            module.record(name, out, dsn)
        yield module, out
    finally:
        del sys.modules["make_captures"]


def _answers(rows: list[dict[str, Any]]) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Each command (and each login) with the answers that followed it on its connection."""
    out: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    last: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        if r["kind"] in ("command", "login"):
            answers: list[dict[str, Any]] = []
            out.append((r, answers))
            last[r["conn"]] = answers
        elif r["kind"] in ("resultset", "ok", "err") and r["conn"] in last:
            last[r["conn"]].append(r)
    return out


def _matches(command: dict[str, Any], want: dict[str, Any]) -> bool:
    if command["kind"] == "login":
        return want.get("statement") == "login"
    sql = command.get("sql", command["command"])
    if "statement_prefix" in want:
        return str(sql).startswith(want["statement_prefix"])
    return bool(sql == want["statement"])


SCENARIO_NAMES = [
    "mariadb-every-type",
    "mariadb-errors-and-results",
    "mariadb-failed-logins",
    "mariadb-compression",
    "mariadb-prepared-lifecycle",
    "mariadb-change-user-reset",
    "mariadb-big-rows",
]


@pytest.mark.mariadb
@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_captures_made_from_mariadb_decode_to_what_the_client_got(
    made_captures: tuple[ModuleType, Path], name: str
) -> None:
    module, out = made_captures
    assert sorted(module.SCENARIOS) == sorted(SCENARIO_NAMES)
    expected = json.loads((out / f"{name}.expected.json").read_text())
    rows = records(out / f"{name}.pcap", ports=(expected["port"],), max_rows=None)
    assert of_kind(rows, "error") == []
    assert of_kind(rows, "gap") == [] and of_kind(rows, "incomplete") == []
    commands = _answers(rows)
    at = 0
    for want in expected["results"]:
        while not (commands[at][1] and _matches(commands[at][0], want)):
            at += 1
        answers = commands[at][1]
        got = answers.pop(0)
        context = (want.get("statement", want.get("statement_prefix")), got)
        if "error" in want:
            assert (got["kind"], got["code"]) == ("err", want["error"]), context
        elif "affected_rows" in want:
            assert (got["kind"], got["affected_rows"]) == ("ok", want["affected_rows"]), context
        elif "length" in want:
            assert got["kind"] == "resultset", context
            assert [len(v) for v in got["rows"][0]] == [want["length"]]
        else:
            assert got["kind"] == "resultset", context
            if "fields" in want:
                assert [f["name"] for f in got["fields"]] == want["fields"]
            assert got["rows"] == want["rows"], context
        if not answers:
            at += 1


def test_a_reused_pair_of_endpoints_is_a_new_connection(tmp_path: Path) -> None:
    start = read_first_payloads(BASE)
    turns = [
        ("s", start["handshake"]),
        ("c", start["login"]),
        ("s", start["ok"]),
        ("c", pkt(0, b"\x01")),
    ]
    one = read_ip_packets_of(build_conversation(tmp_path, turns))
    # The same conversation again, later, from the same client port (new sequence numbers).
    again = []
    for ts, ip in one:
        tcp = dpkt.tcp.TCP(bytes(ip.data))
        tcp.seq, tcp.ack = (
            (tcp.seq + 777) % (1 << 32),
            (tcp.ack + 777) % (1 << 32) if tcp.ack else 0,
        )
        again.append((ts + 60, dpkt.ip.IP(src=ip.src, dst=ip.dst, p=6, data=tcp)))
    rows = records(write_capture(tmp_path / "twice.pcap", one + again))
    assert [(r["conn"], r["kind"]) for r in rows if r["kind"] in ("open", "login", "close")] == [
        (1, "open"),
        (1, "login"),
        (1, "close"),
        (2, "open"),
        (2, "login"),
        (2, "close"),
    ]


def read_ip_packets_of(path: Path) -> list[Frame]:
    with open(path, "rb") as f:
        return [(float(ts), dpkt.ethernet.Ethernet(buf).data) for ts, buf in dpkt.pcap.Reader(f)]


def test_other_protocols_are_ignored(tmp_path: Path) -> None:
    http = [
        ("c", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("s", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"),
    ] * 3
    decoder = Decoder(build_conversation(tmp_path, http, port=8080))
    assert list(decoder) == []
    summary = decoder.summary()
    assert (summary["connections"], summary["ignored_connections"]) == (0, 1)


def test_tls_captured_mid_stream() -> None:
    client_hello = b"\x16\x03\x01\x00\x05hello"
    notes = hand_observer([("c2s", client_hello), ("s2c", b"\x16\x03\x03\x00\x02ok")], False)
    assert notes == [
        ("tls", {"note": "TLS records captured mid-stream; the connection is not decoded"})
    ]
