"""Compression with a preset dictionary: what a worker holds per complaint, in a fifth of its bytes.

A complaint's case (~1.2-1.8 KB of JSON) compresses only ~2× on its own, since a lone record has
little to repeat; primed with a sample record (`services/dictionaries.py`), whose field names,
stage and clock names and timestamp shapes it shares, it packs to 140-300 bytes.

Two codecs share the dictionaries:

- `Zstd` packs everything written now: the complaints table's format 2 and the read model's
  state records. zstd with a raw-content dictionary packs a folded case in ~7-9 µs where zlib took
  ~20 (docs/performance.md, "Packing"), and the worker packs a case and a state record per event.
- `Zlib` reads the table's format 1, which changelogs and RocksDB stores keep until the
  complaint changes again (or for ever once it closed); it still packs, for tests of that format.

Both check what they unpack (zlib's Adler-32; zstd's content checksum and declared size) and
raise `DamagedValue` rather than return garbage: a truncated or altered value, or one packed with
another dictionary, is refused.
"""

from __future__ import annotations

import zlib
from typing import Protocol

import zstandard

WINDOW_BITS = 13
"""zlib: an 8 KB window: the dictionary (≤ 4 KB) and a record (1-3 KB) both within reach of a match."""
MEMORY_LEVEL = 5
"""zlib: smaller hash tables than zlib's default 8: cheaper to copy, and records are short."""
ZSTD_LEVEL = 3
"""zstd's default: levels 1-3 pack a case in about the same time; 6 takes twice as long for 10 % fewer bytes."""


class DamagedValue(ValueError):
    """A packed value that does not unpack: truncated, altered, or packed with another dictionary."""


class Zlib:
    """The table's format 1: zlib with a preset dictionary; the compressor is primed once and
    copied per value (copying a small-window zlib state is cheaper than priming a new one)."""

    def __init__(self, zdict: bytes, level: int = 6) -> None:
        self._zdict = zdict
        self._primed = zlib.compressobj(level, zlib.DEFLATED, WINDOW_BITS, MEMORY_LEVEL, zlib.Z_DEFAULT_STRATEGY, zdict)

    def pack(self, data: bytes) -> bytes:
        compressor = self._primed.copy()
        return compressor.compress(data) + compressor.flush()

    def unpack(self, packed: bytes) -> bytes:
        """The bytes `pack` was given; `DamagedValue` otherwise."""
        return _whole(zlib.decompressobj(WINDOW_BITS, self._zdict), packed, "zlib", zlib.error)


class Zstd:
    """zstd frames without the 4-byte magic number (the format byte in front of a value already
    says what it is), with the content size and a checksum."""

    def __init__(self, dictionary: bytes) -> None:
        primed = zstandard.ZstdCompressionDict(dictionary, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
        primed.precompute_compress(level=ZSTD_LEVEL)
        parameters = zstandard.ZstdCompressionParameters.from_level(
            ZSTD_LEVEL,
            format=zstandard.FORMAT_ZSTD1_MAGICLESS,
            write_checksum=True,
            write_content_size=True,
            write_dict_id=False,
        )
        self._compressor = zstandard.ZstdCompressor(dict_data=primed, compression_params=parameters)
        self._decompressor = zstandard.ZstdDecompressor(dict_data=primed, format=zstandard.FORMAT_ZSTD1_MAGICLESS)

    def pack(self, data: bytes) -> bytes:
        """The packed bytes, in an object of their own size: zstandard 0.25 returns them in one
        allocated for the worst case (~1.3 KB for a state record), which a value kept for the
        complaint's life would hold on to."""
        return bytes(memoryview(self._compressor.compress(data)))

    def unpack(self, packed: bytes) -> bytes:
        """The bytes `pack` was given; `DamagedValue` otherwise."""
        return _whole(self._decompressor.decompressobj(), packed, "zstd", zstandard.ZstdError)


class _Expander(Protocol):
    """What zlib's and zstandard's streaming decompressors both offer."""

    @property
    def eof(self) -> bool: ...

    @property
    def unused_data(self) -> bytes: ...

    def decompress(self, data: bytes) -> bytes: ...


def _whole(expander: _Expander, packed: bytes, codec: str, failure: type[Exception]) -> bytes:
    """`packed` expanded, if it is exactly one whole value; `DamagedValue` otherwise."""
    try:
        data = expander.decompress(packed)
    except failure as error:
        raise DamagedValue(f"a {codec}-packed value ({len(packed)} bytes) does not unpack: {error}") from None
    if not expander.eof or expander.unused_data:
        raise DamagedValue(f"not one whole {codec}-packed value ({len(packed)} bytes)")
    return data
