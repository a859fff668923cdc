"""zlib with a preset dictionary: what a worker holds per complaint, in an eighth of its bytes.

A complaint's case (~1.2 KB of JSON) compresses only ~2× on its own, since a lone record has
little to repeat; primed with a sample record (`zdict`), whose field names, stage and clock names
and timestamp shapes it shares, it packs to ~140 bytes. Costs, measured on this machine's shared
cores (docs/performance.md, "Memory"): ~10-20 µs to pack a fresh case, 1-3 µs to unpack.

The compressor is primed once and copied per value (copying a small-window zlib state is cheaper
than priming a new one). Values keep zlib's header and Adler-32 checksum, which also name the
dictionary: unpacking with the wrong one fails instead of returning garbage.
"""

from __future__ import annotations

import zlib

WINDOW_BITS = 13
"""An 8 KB window: the dictionary (≤ 4 KB) and a record (1-3 KB) both within reach of a match."""
MEMORY_LEVEL = 5
"""Smaller hash tables than zlib's default 8: cheaper to copy, and records are short."""


class Packer:
    def __init__(self, zdict: bytes, level: int = 6) -> None:
        self._zdict = zdict
        self._primed = zlib.compressobj(level, zlib.DEFLATED, WINDOW_BITS, MEMORY_LEVEL, zlib.Z_DEFAULT_STRATEGY, zdict)

    def pack(self, data: bytes) -> bytes:
        compressor = self._primed.copy()
        return compressor.compress(data) + compressor.flush()

    def unpack(self, packed: bytes) -> bytes:
        """The bytes `pack` was given; zlib.error if `packed` is damaged, truncated or another
        dictionary's."""
        expander = zlib.decompressobj(WINDOW_BITS, self._zdict)
        data = expander.decompress(packed)
        if not expander.eof or expander.unused_data:
            raise zlib.error(f"not one whole packed value ({len(packed)} bytes)")
        return data
