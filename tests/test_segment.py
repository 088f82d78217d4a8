"""LIFE-*: creating, attaching, closing and unlinking segments."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable

import pytest

from vgis.errors import BadHeader, BadName, InvalidArgument
from vgis.segment import Segment, canonical_name
from vgis_conformance.testkit import ShmFactory, pack_header, shm_path


def corrupt_magic(seg: Segment) -> None:
    seg.buf[0:4] = b"VGIZ"


def corrupt_magic_case(seg: Segment) -> None:
    seg.buf[0:4] = b"vgis"


def version_0(seg: Segment) -> None:
    seg.buf[4:8] = (0).to_bytes(4, "little")


def version_2(seg: Segment) -> None:
    seg.buf[4:8] = (2).to_bytes(4, "little")


def version_big_endian_1(seg: Segment) -> None:
    seg.buf[4:8] = b"\x00\x00\x00\x01"


def data_size_plus_one(seg: Segment) -> None:
    seg.buf[8:16] = (seg.size - 65_536 + 1).to_bytes(8, "little")


def data_size_minus_one(seg: Segment) -> None:
    seg.buf[8:16] = (seg.size - 65_536 - 1).to_bytes(8, "little")


def data_size_is_total_size(seg: Segment) -> None:
    seg.buf[8:16] = seg.size.to_bytes(8, "little")


def num_allocs_4095(seg: Segment) -> None:
    seg.buf[16:20] = (4_095).to_bytes(4, "little")


CORRUPTIONS: list[tuple[str, Callable[[Segment], None]]] = [
    ("LIFE-4", corrupt_magic),
    ("LIFE-4", corrupt_magic_case),
    ("LIFE-5", version_0),
    ("LIFE-5", version_2),
    ("LIFE-5", version_big_endian_1),
    ("LIFE-6", data_size_plus_one),
    ("LIFE-6", data_size_minus_one),
    ("LIFE-6", data_size_is_total_size),
    ("LIFE-7", num_allocs_4095),
]


@pytest.mark.parametrize("clause, corrupt", CORRUPTIONS, ids=[f"{c}-{f.__name__}" for c, f in CORRUPTIONS])
def test_LIFE_4_to_7_and_12_attach_rejects_bad_header(
    shm: ShmFactory, clause: str, corrupt: Callable[[Segment], None]
) -> None:
    seg = shm.create()
    seg.allocator.allocate(10)
    corrupt(seg)
    before = bytes(seg.buf)
    with pytest.raises(BadHeader) as info:
        Segment.attach(seg.name)
    assert info.value.clause == clause
    assert info.value.kind == "bad_header"
    assert bytes(seg.buf) == before  # LIFE-12 / ERR-1: nothing changed


def test_LIFE_1_creation_size_must_exceed_header(shm: ShmFactory) -> None:
    for size in (0, 1, 65_535, 65_536):
        name = shm.name()
        with pytest.raises(InvalidArgument):
            Segment.create(name, size)
        assert not os.path.exists(shm_path(name))
    seg = shm.create(65_537)
    assert seg.size == 65_537
    assert seg.allocator.allocate(1) == 65_536
    assert seg.allocator.allocate(1) is None


def test_LIFE_2_data_size_from_mapped_size(shm: ShmFactory) -> None:
    seg = shm.create(65_536 + 12_345)
    actual = os.stat(shm_path(seg.name)).st_size
    assert seg.size == actual
    assert int.from_bytes(seg.buf[8:16], "little") == actual - 65_536


def test_LIFE_3_fresh_header(shm: ShmFactory) -> None:
    seg = shm.create(65_536 + 4_096)
    assert bytes(seg.buf[:24]) == bytes.fromhex("564749530100000000100000000000000000000000000000")
    assert seg.header_bytes() == pack_header(4_096, [])


def test_LIFE_3_create_refuses_an_existing_name(shm: ShmFactory) -> None:
    seg = shm.create()
    seg.allocator.allocate(5)
    before = bytes(seg.buf[:65_536])
    with pytest.raises(BadName):
        Segment.create(seg.name, 65_536 + 4_096)
    assert bytes(seg.buf[:65_536]) == before
    assert os.stat(shm_path(seg.name)).st_size == seg.size


def test_LIFE_4_to_7_attach_accepts_a_valid_header(shm: ShmFactory) -> None:
    seg = shm.create()
    seg.allocator.allocate(123)
    other = shm.attach(seg.name)
    assert other.owner is False
    assert other.size == seg.size
    assert other.header_bytes() == pack_header(seg.size - 65_536, [(65_536, 123)])
    # The two mappings share memory.
    other.allocator.allocate(7)
    assert seg.allocator.entries() == [(65_536, 123), (65_659, 7)]


@pytest.mark.parametrize("size", [0, 1, 23, 24, 4_096, 65_535, 65_536])
def test_LIFE_8_object_smaller_than_a_header(shm: ShmFactory, size: int) -> None:
    name = shm.raw(size)
    with pytest.raises(BadHeader) as info:
        Segment.attach(name)
    assert info.value.clause == "LIFE-8"
    assert os.stat(shm_path(name)).st_size == size  # not grown, not touched


def test_LIFE_8_header_sized_object_with_valid_header(shm: ShmFactory) -> None:
    # 65,536 bytes whose header is otherwise valid (data_size 0): still too small.
    name = shm.raw(65_536)
    fd = os.open(shm_path(name), os.O_RDWR)
    try:
        os.write(fd, pack_header(0, []))
    finally:
        os.close(fd)
    with pytest.raises(BadHeader) as info:
        Segment.attach(name)
    assert info.value.clause == "LIFE-8"


def test_LIFE_8_object_smaller_than_advertised(shm: ShmFactory) -> None:
    seg = shm.create()
    with pytest.raises(BadHeader) as info:
        Segment.attach(seg.name, seg.size + 1)
    assert info.value.clause == "LIFE-8"
    assert shm.attach(seg.name, seg.size).size == seg.size


def test_LIFE_8_object_truncated_after_creation(shm: ShmFactory) -> None:
    # A header advertising more data than the object holds fails LIFE-6, never faults.
    name = shm.raw(65_536 + 100)
    fd = os.open(shm_path(name), os.O_RDWR)
    try:
        os.write(fd, pack_header(10_000, []))
    finally:
        os.close(fd)
    with pytest.raises(BadHeader):
        Segment.attach(name)


def test_LIFE_9_names_with_and_without_leading_slash(shm: ShmFactory) -> None:
    seg = shm.create()
    assert seg.name.startswith("/") and not seg.name.startswith("//")
    bare = seg.name[1:]
    for given in (seg.name, bare):
        other = shm.attach(given)
        assert other.size == seg.size
        assert other.name.lstrip("/") == bare
    assert canonical_name(bare) == seg.name
    assert canonical_name("//x") == "/x"


def test_LIFE_9_create_without_slash_uses_canonical_name(shm: ShmFactory) -> None:
    bare = shm.name()[1:]
    seg = Segment.create(bare, 65_537)
    try:
        assert seg.name == "/" + bare
        assert os.path.exists(shm_path(bare))
    finally:
        seg.close()
        seg.unlink()
    assert not os.path.exists(shm_path(bare))


@pytest.mark.parametrize("name", ["/vgis-test-does-not-exist", "vgis-test-does-not-exist", "", "/", "/a/b"])
def test_LIFE_9_unopenable_name_is_bad_name(name: str) -> None:
    with pytest.raises(BadName):
        Segment.attach(name)


def test_LIFE_10_attacher_cannot_unlink(shm: ShmFactory) -> None:
    seg = shm.create()
    other = shm.attach(seg.name)
    with pytest.raises(InvalidArgument):
        other.unlink()
    with Segment.attach(seg.name) as third:
        assert third.owner is False
    assert os.path.exists(shm_path(seg.name))  # neither the call nor __exit__ unlinked it
    other.close()
    assert os.path.exists(shm_path(seg.name))


def test_LIFE_10_creator_unlinks(shm: ShmFactory) -> None:
    name = shm.name()
    with Segment.create(name, 65_537) as seg:
        assert seg.owner is True
        assert os.path.exists(shm_path(name))
    assert not os.path.exists(shm_path(name))


def test_LIFE_11_permissions_0600_whatever_the_umask(shm: ShmFactory) -> None:
    old = os.umask(0)
    try:
        seg = shm.create()
    finally:
        os.umask(old)
    mode = os.stat(shm_path(seg.name)).st_mode
    assert stat.S_IMODE(mode) == 0o600


def test_LIFE_close_is_idempotent_and_keeps_the_object(shm: ShmFactory) -> None:
    seg = shm.create()
    seg.close()
    seg.close()
    assert os.path.exists(shm_path(seg.name))
