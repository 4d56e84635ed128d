"""The exception hierarchy: what a caller can catch, and errors surviving pickling (a
gateway's worker processes, pytest-xdist)."""

from __future__ import annotations

import pickle

import pytest

import mywire
from mywire.errors import (
    LimitExceeded,
    MalformedPacket,
    MywireError,
    PacketsOutOfSync,
    PacketTooLarge,
    ProtocolError,
    TruncatedPacket,
)


def test_limits_share_one_base() -> None:
    # A caller that only wants to know "a configured limit refused this" catches one class.
    assert PacketTooLarge.__mro__[1:4] == (LimitExceeded, ProtocolError, MywireError)
    assert issubclass(LimitExceeded, ValueError)
    assert not issubclass(LimitExceeded, MalformedPacket)
    assert (PacketTooLarge.code, LimitExceeded.code) == (2020, 2027)
    assert mywire.LimitExceeded is LimitExceeded


@pytest.mark.parametrize(
    "cls", [ProtocolError, MalformedPacket, TruncatedPacket, LimitExceeded, PacketTooLarge]
)
def test_protocol_errors_pickle_with_offset_and_expected(cls: type[ProtocolError]) -> None:
    err = cls("bad thing at offset 7", offset=7, expected="a good thing")
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is cls
    assert (str(back), back.offset, back.expected) == ("bad thing at offset 7", 7, "a good thing")


def test_out_of_sync_pickles_with_the_actual_id() -> None:
    err = PacketsOutOfSync("packets out of order", offset=4, expected="sequence id 1", actual=3)
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is PacketsOutOfSync
    assert (str(back), back.offset, back.expected, back.actual) == (
        "packets out of order",
        4,
        "sequence id 1",
        3,
    )
