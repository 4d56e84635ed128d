#!/usr/bin/env python3
"""Generate ``mywire/constants/charset.py`` and ``mywire/constants/er.py``.

Sources:

* MySQL: the pure-Python wheel of ``mysql-connector-python`` (version pinned below, checked
  against a pinned SHA-256), fetched with ``pip download`` into a temporary directory.
  ``mysql/connector/charsets.py`` provides the collation table (``MYSQL_CHARACTER_SETS``)
  and ``mysql/connector/errorcode.py`` the server error codes.  MySQL character-set
  ``maxlen`` values are the hand-kept :data:`MYSQL_CHARSET_MAXLEN` table below.
* MariaDB: the server's ``errmsg-utf8.txt`` (default ``/usr/share/mysql/errmsg-utf8.txt``)
  for error codes and a live MariaDB server, queried through the ``mariadb`` command-line
  client, for collations (``information_schema``) and character-set ``maxlen`` values.

Usage::

    python tools/gen_constants.py                 # regenerate both files
    python tools/gen_constants.py --check         # exit 1 if the files would change
    python tools/gen_constants.py --wheel PATH    # use an already downloaded wheel

The server is given by ``--dsn`` (default: ``$MYWIRE_TEST_DSN`` or
``mysql://root@127.0.0.1:3306/test``).  The rendering functions (:func:`render_charset`,
:func:`render_er`) are pure, so tests can re-render the committed data without any network.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from urllib.parse import unquote, urlsplit

REPO_ROOT = Path(__file__).resolve().parent.parent
CHARSET_PY = REPO_ROOT / "mywire" / "constants" / "charset.py"
ER_PY = REPO_ROOT / "mywire" / "constants" / "er.py"

MYSQL_CONNECTOR_VERSION = "26.10.0"
MYSQL_CONNECTOR_WHEEL = f"mysql_connector_python-{MYSQL_CONNECTOR_VERSION}-py2.py3-none-any.whl"
MYSQL_CONNECTOR_SHA256 = "85643c8a38b7d089ed30b270d842b96a2529354eebea4aa4d8e4755a630487e8"

DEFAULT_ERRMSG = Path("/usr/share/mysql/errmsg-utf8.txt")
DEFAULT_DSN = "mysql://root@127.0.0.1:3306/test"

#: ``(id, charset, collation name, is_default)``
CollationRow = tuple[int, str, str, bool]

#: Python codec for each server character set; ``None`` where Python has no faithful
#: codec (or for ``binary``, whose values are bytes, not text).
CHARSET_CODECS: dict[str, str | None] = {
    "armscii8": None,  # ARMSCII-8 Armenian: no Python codec
    "ascii": "ascii",
    "big5": "big5",
    "binary": None,  # not text
    "cp1250": "cp1250",
    "cp1251": "cp1251",
    "cp1256": "cp1256",
    "cp1257": "cp1257",
    "cp850": "cp850",
    "cp852": "cp852",
    "cp866": "cp866",
    "cp932": "cp932",
    "dec8": None,  # DEC Multinational: no Python codec
    "eucjpms": None,  # EUC-JP with Microsoft extensions: euc_jp would mis-decode those
    "euckr": "euc_kr",
    "gb18030": "gb18030",
    "gb2312": "gb2312",
    "gbk": "gbk",
    "geostd8": None,  # GEOSTD8 Georgian: no Python codec
    "greek": "iso8859_7",
    "hebrew": "iso8859_8",
    "hp8": None,  # HP Roman-8: no Python codec
    "keybcs2": None,  # Kamenicky: no Python codec
    "koi8r": "koi8_r",
    "koi8u": "koi8_u",
    # MySQL/MariaDB "latin1" is Windows-1252, not ISO-8859-1: bytes 0x80..0x9f are the
    # cp1252 punctuation (euro sign, curly quotes ...).  The server maps the five bytes
    # cp1252 leaves undefined (0x81 0x8d 0x8f 0x90 0x9d) to the matching C1 controls,
    # which Python's strict cp1252 rejects; decoders may want errors="surrogateescape"
    # or a fallback for those.
    "latin1": "cp1252",
    "latin2": "iso8859_2",
    "latin5": "iso8859_9",
    "latin7": "iso8859_13",
    "macce": "mac_latin2",
    "macroman": "mac_roman",
    "sjis": "shift_jis",
    "swe7": None,  # 7-bit Swedish: no Python codec
    "tis620": "tis_620",
    "ucs2": "utf-16-be",  # UCS-2, big-endian, no BOM
    "ujis": "euc_jp",
    "utf16": "utf-16-be",  # big-endian, no BOM
    "utf16le": "utf-16-le",
    "utf32": "utf-32-be",  # big-endian, no BOM
    "utf8mb3": "utf-8",  # BMP-only subset of UTF-8
    "utf8mb4": "utf-8",
}

#: Bytes per character (``MAXLEN`` of ``SHOW CHARACTER SET``) of MySQL 8.x character sets.
MYSQL_CHARSET_MAXLEN: dict[str, int] = {
    "armscii8": 1,
    "ascii": 1,
    "big5": 2,
    "binary": 1,
    "cp1250": 1,
    "cp1251": 1,
    "cp1256": 1,
    "cp1257": 1,
    "cp850": 1,
    "cp852": 1,
    "cp866": 1,
    "cp932": 2,
    "dec8": 1,
    "eucjpms": 3,
    "euckr": 2,
    "gb18030": 4,
    "gb2312": 2,
    "gbk": 2,
    "geostd8": 1,
    "greek": 1,
    "hebrew": 1,
    "hp8": 1,
    "keybcs2": 1,
    "koi8r": 1,
    "koi8u": 1,
    "latin1": 1,
    "latin2": 1,
    "latin5": 1,
    "latin7": 1,
    "macce": 1,
    "macroman": 1,
    "sjis": 2,
    "swe7": 1,
    "tis620": 1,
    "ucs2": 2,
    "ujis": 3,
    "utf16": 4,
    "utf16le": 4,
    "utf32": 4,
    "utf8mb3": 3,
    "utf8mb4": 4,
}

_NAME_RE = re.compile(r"[A-Z][A-Z0-9_]*\Z")
_COLLATION_RE = re.compile(r"[a-z0-9_]+\Z")


class GenerationError(Exception):
    """A source did not look the way this script expects."""


# --------------------------------------------------------------------------------------
# Parsing sources
# --------------------------------------------------------------------------------------


def parse_errmsg(text: str) -> dict[int, str]:
    """Parse MariaDB's ``errmsg-utf8.txt`` into ``{code: symbolic name}``.

    The format (read by the server's ``comp_err``): ``start-error-number N`` sets the
    code of the next entry, ``skip-to-error-number N`` jumps forward to ``N``; every line
    starting in column 0 with an upper-case identifier begins one entry and takes the next
    code (optionally followed by SQLSTATE / ODBC state); indented lines are the messages
    in each language; ``#`` starts a comment.
    """
    errors: dict[int, str] = {}
    code: int | None = None
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line[0] in " \t#":
            continue
        words = line.split()
        keyword = words[0]
        if keyword in ("start-error-number", "skip-to-error-number"):
            new_code = int(words[1])
            if code is not None and new_code < code:
                raise GenerationError(f"line {lineno}: {keyword} goes backwards")
            code = new_code
        elif keyword in ("languages", "default-language", "character-set"):
            continue
        elif _NAME_RE.match(keyword):
            if code is None:
                raise GenerationError(f"line {lineno}: entry before start-error-number")
            if keyword in errors.values():
                raise GenerationError(f"line {lineno}: duplicate name {keyword}")
            errors[code] = keyword
            code += 1
        else:
            raise GenerationError(f"line {lineno}: unexpected line {line!r}")
    return errors


def _module_int_constants(source: str) -> dict[str, int]:
    """Return the ``NAME = <int>`` assignments at the top level of a module."""
    constants: dict[str, int] = {}
    for node in ast.parse(source).body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and isinstance(node.value, ast.Constant)
            and type(node.value.value) is int
        ):
            constants[node.targets[0].id] = node.value.value
    return constants


def parse_connector_errorcode(source: str) -> dict[int, str]:
    """Parse Connector/Python's ``errorcode.py`` into ``{code: name}`` (server errors only).

    ``CR_*`` client errors are skipped: they live in the hand-written ``cr.py``.
    """
    errors: dict[int, str] = {}
    for name, code in _module_int_constants(source).items():
        if name.startswith("_") or name.startswith("CR_"):
            continue
        if not _NAME_RE.match(name):
            raise GenerationError(f"unexpected errorcode name {name!r}")
        if code in errors:
            raise GenerationError(f"errorcode {code} defined twice ({errors[code]}, {name})")
        errors[code] = name
    return errors


def _module_literal(source: str, name: str) -> object:
    """Evaluate the literal assigned to ``name`` at the top level of a module."""
    for node in ast.parse(source).body:
        target: ast.expr | None = None
        value: ast.expr | None = None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign):
            target, value = node.target, node.value
        if isinstance(target, ast.Name) and target.id == name and value is not None:
            return ast.literal_eval(value)
    raise GenerationError(f"{name} not found")


def connector_mysql_version(source: str) -> str:
    """Return the ``_MYSQL_VERSION`` a Connector/Python generated module was made from."""
    version = _module_literal(source, "_MYSQL_VERSION")
    if not isinstance(version, tuple):
        raise GenerationError("_MYSQL_VERSION is not a tuple")
    return ".".join(str(part) for part in version)


def parse_connector_charsets(source: str) -> list[CollationRow]:
    """Parse ``MYSQL_CHARACTER_SETS`` (index = collation id) of Connector/Python."""
    table = _module_literal(source, "MYSQL_CHARACTER_SETS")
    if not isinstance(table, list):
        raise GenerationError("MYSQL_CHARACTER_SETS is not a list")
    rows: list[CollationRow] = []
    for collation_id, entry in enumerate(table):
        if entry is None:
            continue
        if not (
            isinstance(entry, tuple)
            and len(entry) == 3
            and isinstance(entry[0], str)
            and isinstance(entry[1], str)
            and isinstance(entry[2], bool)
        ):
            raise GenerationError(f"bad MYSQL_CHARACTER_SETS entry {collation_id}: {entry!r}")
        rows.append((collation_id, entry[0], entry[1], entry[2]))
    return rows


# --------------------------------------------------------------------------------------
# Fetching sources
# --------------------------------------------------------------------------------------


def download_connector_wheel(dest: Path) -> Path:
    """``pip download`` the pinned pure-Python Connector/Python wheel into ``dest``."""
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--no-deps",
        "--only-binary=:all:",
        "--platform",
        "any",
        "--implementation",
        "py",
        "--python-version",
        "3.11",
        "--dest",
        str(dest),
        f"mysql-connector-python=={MYSQL_CONNECTOR_VERSION}",
    ]
    subprocess.run(cmd, check=True)
    wheel = dest / MYSQL_CONNECTOR_WHEEL
    if not wheel.is_file():
        raise GenerationError(f"pip did not produce {MYSQL_CONNECTOR_WHEEL}")
    return wheel


def read_connector_wheel(wheel: Path) -> tuple[str, str]:
    """Verify the wheel's hash; return the text of ``charsets.py`` and ``errorcode.py``."""
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != MYSQL_CONNECTOR_SHA256:
        raise GenerationError(f"{wheel.name}: sha256 {digest} != pinned {MYSQL_CONNECTOR_SHA256}")
    with zipfile.ZipFile(wheel) as archive:
        charsets = archive.read("mysql/connector/charsets.py").decode("utf-8")
        errorcode = archive.read("mysql/connector/errorcode.py").decode("utf-8")
    return charsets, errorcode


class MariaDBClient:
    """Runs queries through the ``mariadb`` command-line client."""

    def __init__(self, dsn: str) -> None:
        parts = urlsplit(dsn)
        if parts.scheme not in ("mysql", "mariadb"):
            raise GenerationError(f"unsupported DSN scheme in {dsn!r}")
        binary = shutil.which("mariadb") or shutil.which("mysql")
        if binary is None:
            raise GenerationError("neither `mariadb` nor `mysql` client found on PATH")
        self._argv = [
            binary,
            "--batch",
            "--skip-column-names",
            "--protocol=TCP",
            f"--host={parts.hostname or '127.0.0.1'}",
            f"--port={parts.port or 3306}",
            f"--user={unquote(parts.username or 'root')}",
        ]
        self._env = dict(os.environ)
        if parts.password is not None:
            self._env["MYSQL_PWD"] = unquote(parts.password)

    def query(self, sql: str) -> list[list[str]]:
        result = subprocess.run(
            [*self._argv, "--execute", sql],
            check=True,
            capture_output=True,
            text=True,
            encoding="utf-8",
            env=self._env,
        )
        return [line.split("\t") for line in result.stdout.splitlines() if line]


def fetch_mariadb(client: MariaDBClient) -> tuple[str, list[CollationRow], dict[str, int]]:
    """Return (server version, collation rows, charset maxlen) of a live MariaDB server."""
    version = client.query("SELECT VERSION()")[0][0]
    if "mariadb" not in version.lower():
        raise GenerationError(f"server {version!r} is not MariaDB")
    maxlen = {
        name: int(length)
        for name, length in client.query(
            "SELECT CHARACTER_SET_NAME, MAXLEN FROM information_schema.CHARACTER_SETS"
        )
    }
    by_id: dict[int, CollationRow] = {}
    queries = [
        "SELECT ID, CHARACTER_SET_NAME, COLLATION_NAME, IS_DEFAULT"
        " FROM information_schema.COLLATIONS WHERE ID IS NOT NULL"
    ]
    has_full_names = client.query(
        "SELECT COUNT(*) FROM information_schema.COLUMNS"
        " WHERE TABLE_SCHEMA = 'information_schema'"
        " AND TABLE_NAME = 'COLLATION_CHARACTER_SET_APPLICABILITY'"
        " AND COLUMN_NAME = 'FULL_COLLATION_NAME'"
    )[0][0]
    if has_full_names != "0":
        # MariaDB 10.10+: UCA-14 collations are named per charset only here.
        queries.append(
            "SELECT ID, CHARACTER_SET_NAME, FULL_COLLATION_NAME, IS_DEFAULT"
            " FROM information_schema.COLLATION_CHARACTER_SET_APPLICABILITY"
        )
    for sql in queries:
        for collation_id, charset, name, is_default in client.query(sql):
            row = (int(collation_id), charset, name, is_default == "Yes")
            if by_id.setdefault(row[0], row) != row:
                raise GenerationError(f"inconsistent rows for id {row[0]}: {by_id[row[0]]}")
    return version, sorted(by_id.values()), maxlen


def errmsg_package_version(path: Path) -> str | None:
    """The Debian package version that owns ``path``, if dpkg knows it."""
    dpkg, dpkg_query = shutil.which("dpkg"), shutil.which("dpkg-query")
    if dpkg is None or dpkg_query is None:
        return None
    try:
        owner = subprocess.run(
            [dpkg, "-S", str(path)], check=True, capture_output=True, text=True
        ).stdout.split(":")[0]
        return subprocess.run(
            [dpkg_query, "-W", "-f=${Package} ${Version}", owner],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except (subprocess.CalledProcessError, FileNotFoundError):
        return None


# --------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------


def _header(sources: Sequence[str]) -> str:
    sentence = "GENERATED by tools/gen_constants.py from " + "; ".join(sources) + " — DO NOT EDIT."
    lines = textwrap.wrap(sentence, width=96, break_long_words=False, break_on_hyphens=False)
    return "".join(f"# {line}\n" for line in lines)


def _sources_literal(sources: Sequence[str]) -> str:
    items = "".join(f"    {_quote(source)},\n" for source in sources)
    return f"SOURCES: tuple[str, ...] = (\n{items})\n"


def _check_sources(sources: Sequence[str]) -> None:
    for source in sources:
        if '"' in source or "\\" in source or "'" in source or len(source) > 90:
            raise GenerationError(f"unsuitable source description {source!r}")


def _quote(text: str) -> str:
    if '"' in text or "\\" in text or not text.isprintable():
        raise GenerationError(f"unexpected characters in {text!r}")
    return f'"{text}"'


_CHARSET_TEMPLATE = '''\
"""Collations (character set + collation ids) of MySQL 8.0.30+ and MariaDB.

A collation id is what the wire protocol carries: in the handshake (the connection's
collation), in every column definition, and in ``SET NAMES`` results.  This module maps
ids to :class:`Collation` records, separately for the two servers because they disagree
on some ids (MariaDB renamed MySQL's Croatian collations to ``*_croatian_mysql561_ci``,
and MySQL's 255..323 and MariaDB's 576+/1024+/2048+ ranges only exist on one side).
:data:`COLLATIONS` is the union, with MySQL's entry winning where the two disagree.  The
MariaDB table is what the server named in :data:`SOURCES` reports, including the
per-charset UCA-14 collations of MariaDB 10.10+ (ids 2048 and up).

``codec`` is the name of the Python codec that decodes text in that character set, or
``None`` for ``binary`` (bytes, not text) and for the few character sets Python has no
faithful codec for (armscii8, dec8, eucjpms, geostd8, hp8, keybcs2, swe7).  Note that the
servers' ``latin1`` is Windows-1252, hence codec ``cp1252``; and ``ucs2``/``utf16``/
``utf32`` are big-endian without a BOM.  ``maxlen`` is the maximum number of bytes per
character.  ``is_default`` tells whether the collation is the compiled-in default of its
character set on that server (e.g. id 45 is MariaDB's default for utf8mb4, id 255 is
MySQL's).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "COLLATIONS",
    "MARIADB_COLLATIONS",
    "MYSQL_COLLATIONS",
    "SOURCES",
    "Collation",
    "charset_codec",
    "collation",
]

@SOURCES@


@dataclass(frozen=True, slots=True)
class Collation:
    """One collation as the server reports it."""

    id: int
    charset: str
    name: str
    codec: str | None
    maxlen: int
    is_default: bool


#: Character set -> (Python codec, bytes per character).
_CHARSETS: dict[str, tuple[str | None, int]] = {
@CHARSETS@}

#: (id, character set, collation, is_default) as reported by MySQL.
_MYSQL_ROWS: tuple[tuple[int, str, str, bool], ...] = (
@MYSQL_ROWS@)

#: (id, character set, collation, is_default) as reported by MariaDB.
_MARIADB_ROWS: tuple[tuple[int, str, str, bool], ...] = (
@MARIADB_ROWS@)


def _build(rows: tuple[tuple[int, str, str, bool], ...]) -> dict[int, Collation]:
    table: dict[int, Collation] = {}
    for collation_id, charset, name, is_default in rows:
        codec, maxlen = _CHARSETS[charset]
        table[collation_id] = Collation(collation_id, charset, name, codec, maxlen, is_default)
    return table


#: Collation id -> collation, MySQL 8.x/9.x.
MYSQL_COLLATIONS: dict[int, Collation] = _build(_MYSQL_ROWS)
#: Collation id -> collation, MariaDB.
MARIADB_COLLATIONS: dict[int, Collation] = _build(_MARIADB_ROWS)
#: Both servers' collations, sorted by id; MySQL's entry wins where they disagree.
COLLATIONS: dict[int, Collation] = dict(sorted({**MARIADB_COLLATIONS, **MYSQL_COLLATIONS}.items()))


def collation(id: int, *, mariadb: bool = False) -> Collation | None:
    """Look up a collation id in the MySQL (default) or MariaDB table.

    Returns ``None`` for an id that server does not define.
    """
    return (MARIADB_COLLATIONS if mariadb else MYSQL_COLLATIONS).get(id)


def charset_codec(id: int, mariadb: bool = False) -> str | None:
    """Python codec name for a collation id, or ``None``.

    ``None`` means: unknown id, the ``binary`` character set, or a character set without
    a Python codec -- in all three cases treat the value as bytes.
    """
    found = collation(id, mariadb=mariadb)
    return None if found is None else found.codec
'''


def _collation_rows(rows: Iterable[CollationRow]) -> str:
    out: list[str] = []
    seen: set[int] = set()
    for collation_id, charset, name, is_default in sorted(rows):
        if collation_id in seen:
            raise GenerationError(f"collation id {collation_id} listed twice")
        seen.add(collation_id)
        if not _COLLATION_RE.match(name) or not _COLLATION_RE.match(charset):
            raise GenerationError(f"unexpected collation {charset}/{name}")
        out.append(f"    ({collation_id}, {_quote(charset)}, {_quote(name)}, {is_default}),\n")
    return "".join(out)


def render_charset(
    mysql_rows: Iterable[CollationRow],
    mariadb_rows: Iterable[CollationRow],
    maxlen: Mapping[str, int],
    sources: Sequence[str],
) -> str:
    """Render ``charset.py``.

    ``maxlen`` must cover every character set named in the rows; the codec comes from
    :data:`CHARSET_CODECS`, which must cover them too.
    """
    mysql_rows = sorted(mysql_rows)
    mariadb_rows = sorted(mariadb_rows)
    _check_sources(sources)
    used = sorted({row[1] for row in mysql_rows} | {row[1] for row in mariadb_rows})
    missing = [cs for cs in used if cs not in CHARSET_CODECS or cs not in maxlen]
    if missing:
        raise GenerationError(f"no codec/maxlen known for character sets {missing}")
    charset_lines: list[str] = []
    for cs in used:
        codec = CHARSET_CODECS[cs]
        codec_literal = "None" if codec is None else _quote(codec)
        charset_lines.append(f"    {_quote(cs)}: ({codec_literal}, {maxlen[cs]}),\n")
    charsets = "".join(charset_lines)
    text = (
        _CHARSET_TEMPLATE.replace("@SOURCES@", _sources_literal(sources).rstrip("\n"))
        .replace("@CHARSETS@", charsets)
        .replace("@MYSQL_ROWS@", _collation_rows(mysql_rows))
        .replace("@MARIADB_ROWS@", _collation_rows(mariadb_rows))
    )
    return _header(sources) + text


_ER_TEMPLATE = '''\
"""Server error codes (``ER_*`` / ``WARN_*``) of MySQL and MariaDB.

The error number arrives in ERR packets (and ``SHOW WARNINGS``).  Both servers share most
of 1000..1880 but diverge elsewhere: MySQL numbers its newer errors from 3000 (and X
Plugin errors from 5000), MariaDB its own from 1900 and 4000, and the same number can mean
different things.  So there are two tables, :data:`MYSQL_ERRORS` and
:data:`MARIADB_ERRORS` (code -> symbolic name), plus one module-level constant per
symbolic name.  Where a name exists in both servers with different numbers, the constant
carries MySQL's number and a ``# MariaDB: N`` comment gives the other; use
:func:`error_name` or the MariaDB table to interpret codes from a MariaDB server.
MySQL's obsolete codes keep their upstream ``OBSOLETE_`` prefix.  Client-side ``CR_*``
codes are in :mod:`mywire.constants.cr`.
"""

from __future__ import annotations

@SOURCES@

@CONSTANTS@

#: Code -> symbolic name, MySQL.
MYSQL_ERRORS: dict[int, str] = {
@MYSQL_ERRORS@}

#: Code -> symbolic name, MariaDB.
MARIADB_ERRORS: dict[int, str] = {
@MARIADB_ERRORS@}


def error_name(code: int, *, mariadb: bool = False) -> str | None:
    """Symbolic name of a server error code on MySQL (default) or MariaDB, or ``None``."""
    return (MARIADB_ERRORS if mariadb else MYSQL_ERRORS).get(code)
'''


def _error_dict(errors: Mapping[int, str]) -> str:
    out: list[str] = []
    for code in sorted(errors):
        name = errors[code]
        if not _NAME_RE.match(name):
            raise GenerationError(f"unexpected error name {name!r}")
        out.append(f"    {code}: {_quote(name)},\n")
    return "".join(out)


def render_er(
    mysql_errors: Mapping[int, str],
    mariadb_errors: Mapping[int, str],
    sources: Sequence[str],
) -> str:
    """Render ``er.py``."""
    _check_sources(sources)
    constants: dict[str, int] = {}
    note: dict[str, int] = {}
    for table in (mysql_errors, mariadb_errors):
        names = list(table.values())
        if len(set(names)) != len(names):
            raise GenerationError("a symbolic name is used for two codes in one server")
    for code, name in mariadb_errors.items():
        constants[name] = code
    for code, name in mysql_errors.items():
        other = constants.get(name)
        if other is not None and other != code:
            note[name] = other
        constants[name] = code
    reserved = {"MYSQL_ERRORS", "MARIADB_ERRORS", "SOURCES", "error_name"}
    if reserved & constants.keys():
        raise GenerationError("an error name clashes with a module attribute")
    lines: list[str] = []
    for name, code in sorted(constants.items(), key=lambda item: (item[1], item[0])):
        comment = f"  # MariaDB: {note[name]}" if name in note else ""
        lines.append(f"{name} = {code}{comment}\n")
    text = (
        _ER_TEMPLATE.replace("@SOURCES@", _sources_literal(sources).rstrip("\n"))
        .replace("@CONSTANTS@", "".join(lines))
        .replace("@MYSQL_ERRORS@", _error_dict(mysql_errors))
        .replace("@MARIADB_ERRORS@", _error_dict(mariadb_errors))
    )
    return _header(sources) + text


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------


def _merge_maxlen(mysql: Mapping[str, int], mariadb: Mapping[str, int]) -> dict[str, int]:
    merged = dict(mysql)
    for charset, length in mariadb.items():
        if merged.setdefault(charset, length) != length:
            raise GenerationError(
                f"maxlen of {charset}: MySQL table says {merged[charset]}, MariaDB {length}"
            )
    return merged


def _write(path: Path, text: str, check: bool) -> bool:
    """Write ``text`` (or, with ``check``, compare); return True if the file differs."""
    current = path.read_text(encoding="utf-8") if path.exists() else None
    if current == text:
        return False
    if check:
        print(f"{path.relative_to(REPO_ROOT)} is out of date", file=sys.stderr)
    else:
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(REPO_ROOT)}")
    return True


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument(
        "--dsn",
        default=os.environ.get("MYWIRE_TEST_DSN", DEFAULT_DSN),
        help="MariaDB server to read collations from (mysql://user[:pw]@host:port/db)",
    )
    parser.add_argument("--errmsg", type=Path, default=DEFAULT_ERRMSG)
    parser.add_argument(
        "--wheel", type=Path, help=f"local copy of {MYSQL_CONNECTOR_WHEEL} (skip download)"
    )
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="gen_constants_") as tmp:
        wheel = args.wheel or download_connector_wheel(Path(tmp))
        charsets_src, errorcode_src = read_connector_wheel(wheel)
    connector = f"mysql-connector-python {MYSQL_CONNECTOR_VERSION}"

    mysql_rows = parse_connector_charsets(charsets_src)
    mysql_errors = parse_connector_errorcode(errorcode_src)
    mariadb_errors = parse_errmsg(args.errmsg.read_text(encoding="utf-8"))
    mariadb_version, mariadb_rows, mariadb_maxlen = fetch_mariadb(MariaDBClient(args.dsn))
    maxlen = _merge_maxlen(MYSQL_CHARSET_MAXLEN, mariadb_maxlen)

    package = errmsg_package_version(args.errmsg)
    errmsg_source = f"{args.errmsg.name} of {package or 'MariaDB (unknown version)'}"
    charset_sources = [
        f"{connector} charsets.py (MySQL {connector_mysql_version(charsets_src)} table)",
        f"MariaDB {mariadb_version} information_schema",
    ]
    er_sources = [
        f"{connector} errorcode.py (MySQL {connector_mysql_version(errorcode_src)} list)",
        errmsg_source,
    ]
    stale = _write(
        CHARSET_PY, render_charset(mysql_rows, mariadb_rows, maxlen, charset_sources), args.check
    )
    stale |= _write(ER_PY, render_er(mysql_errors, mariadb_errors, er_sources), args.check)
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
