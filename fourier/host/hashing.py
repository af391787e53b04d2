"""TensorFlow's string hashes in vectorized numpy, bit-exact, with no TensorFlow at run time.

- `fingerprint64`: FarmHash ``Fingerprint64`` (``farmhashna::Hash64``), what TensorFlow's
  ``tsl::Fingerprint64`` is and what ``StringToHashBucketFast`` (the Keras ``Hashing`` layer,
  ``StringLookup``'s extra OOV buckets) takes modulo ``num_buckets``.
- `siphash24`: SipHash-2-4 with a 128-bit key given as two uint64 (highwayhash's ``SipHash``),
  what ``StringToHashBucketStrong`` takes modulo ``num_buckets`` (a salted ``Hashing`` layer).
- `legacy_hash64`: TensorFlow's own ``Hash64`` (a MurmurHash64A variant, seed ``0xDECAFCAFFE``),
  what the deprecated ``StringToHashBucket`` takes modulo ``num_buckets``.

Strings are hashed as their bytes: ``bytes`` as they are, ``str`` as UTF-8 (TensorFlow's strings
are bytes; a Python ``str`` fed to TensorFlow is encoded as UTF-8). A numpy ``S`` array drops
trailing NUL bytes (numpy's own semantics), so pass such strings as ``bytes`` objects.

All strings of a batch are hashed together: their bytes are concatenated once and every 8-byte
word a hash reads is one gather over a strided view of that buffer; strings are grouped by the
length class that picks the algorithm's branch, and the per-64-byte (per-8-byte for SipHash) loop
runs over the strings still long enough, longest first, so a few long strings cost little.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

__all__ = [
    "to_bytes",
    "fingerprint64",
    "siphash24",
    "legacy_hash64",
    "hash_bucket_fast",
    "hash_bucket_strong",
    "hash_bucket_legacy",
]

_U64 = np.uint64
_MASK = (1 << 64) - 1
_K0 = _U64(0xC3A5C85C97CB3127)
_K1 = _U64(0xB492B66FBE98F273)
_K2 = _U64(0x9AE16A3B2F90404F)
_PAD = 64  # zero bytes after the last string: a word read past a string's end stays in bounds


def to_bytes(values: Any) -> np.ndarray:
    """``values`` (an array or sequence of ``bytes``/``str``, dtype object, ``S`` or ``U``) as an
    object array of ``bytes`` of the same shape; ``str`` is encoded as UTF-8."""
    arr = np.asarray(values, dtype=object) if not isinstance(values, np.ndarray) else values
    if arr.dtype.kind == "S":
        return _object_array(arr.reshape(-1).tolist(), arr.shape)
    if arr.dtype.kind == "U":
        return _object_array([s.encode("utf-8") for s in arr.reshape(-1).tolist()], arr.shape)
    if arr.dtype.kind != "O":
        raise TypeError(f"expected strings (bytes or str), got an array of {arr.dtype.name}")
    flat = arr.reshape(-1).tolist()
    out: list[bytes] = []
    for i, s in enumerate(flat):
        if isinstance(s, bytes):
            out.append(s)
        elif isinstance(s, str):
            out.append(s.encode("utf-8"))
        elif isinstance(s, (bytearray, memoryview, np.bytes_)):
            out.append(bytes(s))
        else:
            raise TypeError(f"expected strings (bytes or str), element {i} is a {type(s).__name__}")
    return _object_array(out, arr.shape)


def _object_array(items: Sequence[bytes], shape: tuple[int, ...]) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out.reshape(shape)


@dataclass(frozen=True)
class _Packed:
    """Every string's bytes in one buffer: where each starts and how long it is."""

    buf: np.ndarray  # uint8, the strings back to back and _PAD zero bytes
    start: np.ndarray  # int64
    length: np.ndarray  # int64

    @staticmethod
    def of(strings: np.ndarray) -> _Packed:
        items = strings.reshape(-1).tolist()
        length = np.fromiter(map(len, items), dtype=np.int64, count=len(items))
        start = np.zeros(len(items), dtype=np.int64)
        if len(items) > 1:
            np.cumsum(length[:-1], out=start[1:])
        buf = np.frombuffer(b"".join(items) + bytes(_PAD), dtype=np.uint8)
        return _Packed(buf, start, length)

    def word64(self, pos: np.ndarray) -> np.ndarray:
        """The little-endian uint64 at each byte offset in ``pos``."""
        windows = as_strided(self.buf, shape=(self.buf.size - 7, 8), strides=(1, 1), writeable=False)
        return np.ascontiguousarray(windows[pos]).view("<u8").reshape(-1)

    def word32(self, pos: np.ndarray) -> np.ndarray:
        """The little-endian uint32 at each byte offset in ``pos``, as uint64."""
        windows = as_strided(self.buf, shape=(self.buf.size - 3, 4), strides=(1, 1), writeable=False)
        return np.ascontiguousarray(windows[pos]).view("<u4").reshape(-1).astype(_U64)

    def byte(self, pos: np.ndarray) -> np.ndarray:
        return self.buf[pos].astype(_U64)


def _rot(v: np.ndarray, shift: int) -> np.ndarray:
    return (v >> _U64(shift)) | (v << _U64(64 - shift))


def _rotl(v: np.ndarray, shift: int) -> np.ndarray:
    return (v << _U64(shift)) | (v >> _U64(64 - shift))


def _shift_mix(v: np.ndarray) -> np.ndarray:
    return v ^ (v >> _U64(47))


def _hash_len16(u: np.ndarray, v: np.ndarray, mul: np.ndarray) -> np.ndarray:
    a = (u ^ v) * mul
    a ^= a >> _U64(47)
    b = (v ^ a) * mul
    b ^= b >> _U64(47)
    return b * mul


# -- FarmHash Fingerprint64 (farmhashna::Hash64), one function per length class -------------------


def _len1to3(p: _Packed, s: np.ndarray, n: np.ndarray) -> np.ndarray:
    a = p.byte(s)
    b = p.byte(s + (n >> 1))
    c = p.byte(s + n - 1)
    y = a + (b << _U64(8))
    z = n.astype(_U64) + (c << _U64(2))
    return _shift_mix(y * _K2 ^ z * _K0) * _K2


def _len4to7(p: _Packed, s: np.ndarray, n: np.ndarray) -> np.ndarray:
    nu = n.astype(_U64)
    mul = _K2 + nu * _U64(2)
    a = p.word32(s)
    return _hash_len16(nu + (a << _U64(3)), p.word32(s + n - 4), mul)


def _len8to16(p: _Packed, s: np.ndarray, n: np.ndarray) -> np.ndarray:
    mul = _K2 + n.astype(_U64) * _U64(2)
    a = p.word64(s) + _K2
    b = p.word64(s + n - 8)
    c = _rot(b, 37) * mul + a
    d = (_rot(a, 25) + b) * mul
    return _hash_len16(c, d, mul)


def _len17to32(p: _Packed, s: np.ndarray, n: np.ndarray) -> np.ndarray:
    mul = _K2 + n.astype(_U64) * _U64(2)
    a = p.word64(s) * _K1
    b = p.word64(s + 8)
    c = p.word64(s + n - 8) * mul
    d = p.word64(s + n - 16) * _K2
    return _hash_len16(_rot(a + b, 43) + _rot(c, 30) + d, a + _rot(b + _K2, 18) + c, mul)


def _len33to64(p: _Packed, s: np.ndarray, n: np.ndarray) -> np.ndarray:
    mul = _K2 + n.astype(_U64) * _U64(2)
    a = p.word64(s) * _K2
    b = p.word64(s + 8)
    c = p.word64(s + n - 8) * mul
    d = p.word64(s + n - 16) * _K2
    y = _rot(a + b, 43) + _rot(c, 30) + d
    z = _hash_len16(y, a + _rot(b + _K2, 18) + c, mul)
    e = p.word64(s + 16) * mul
    f = p.word64(s + 24)
    g = (y + p.word64(s + n - 32)) * mul
    h = (z + p.word64(s + n - 24)) * mul
    return _hash_len16(_rot(e + f, 43) + _rot(g, 30) + h, e + _rot(f + a, 18) + g, mul)


def _weak32(p: _Packed, s: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """WeakHashLen32WithSeeds over the 32 bytes at ``s``."""
    w, x, y, z = p.word64(s), p.word64(s + 8), p.word64(s + 16), p.word64(s + 24)
    a = a + w
    b = _rot(b + a + z, 21)
    c = a
    a = a + x + y
    b = b + _rot(a, 44)
    return a + z, b + c


def _len65plus(p: _Packed, s: np.ndarray, n: np.ndarray) -> np.ndarray:
    # Longest first: the strings still in the 64-byte loop at step j are a prefix.
    order = np.argsort(-((n - 1) // 64), kind="stable")
    s, n = s[order], n[order]
    blocks = (n - 1) // 64
    count = len(s)
    seed = 81
    x = np.full(count, _U64(seed), dtype=_U64)
    y = np.full(count, _U64((seed * int(_K1) + 113) & _MASK), dtype=_U64)
    z = _shift_mix(y * _K2 + _U64(113)) * _K2
    v0, v1, w0, w1 = (np.zeros(count, dtype=_U64) for _ in range(4))
    x = x * _K2 + p.word64(s)
    active = [int(np.count_nonzero(blocks > j)) for j in range(int(blocks.max()))]
    for j, m in enumerate(active):
        at = s[:m] + 64 * j
        xm, ym, zm = x[:m], y[:m], z[:m]
        v0m, v1m, w0m, w1m = v0[:m], v1[:m], w0[:m], w1[:m]
        xm = _rot(xm + ym + v0m + p.word64(at + 8), 37) * _K1
        ym = _rot(ym + v1m + p.word64(at + 48), 42) * _K1
        xm = xm ^ w1m
        ym = ym + v0m + p.word64(at + 40)
        zm = _rot(zm + w0m, 33) * _K1
        nv0, nv1 = _weak32(p, at, v1m * _K1, xm + w0m)
        nw0, nw1 = _weak32(p, at + 32, zm + w1m, ym + p.word64(at + 16))
        x[:m], y[:m], z[:m] = zm, ym, xm  # std::swap(z, x)
        v0[:m], v1[:m], w0[:m], w1[:m] = nv0, nv1, nw0, nw1
    mul = _K1 + ((z & _U64(0xFF)) << _U64(1))
    last = s + n - 64
    w0 = w0 + ((n - 1) & 63).astype(_U64)
    v0 = v0 + w0
    w0 = w0 + v0
    x = _rot(x + y + v0 + p.word64(last + 8), 37) * mul
    y = _rot(y + v1 + p.word64(last + 48), 42) * mul
    x = x ^ (w1 * _U64(9))
    y = y + v0 * _U64(9) + p.word64(last + 40)
    z = _rot(z + w0, 33) * mul
    v0, v1 = _weak32(p, last, v1 * mul, x + w0)
    w0, w1 = _weak32(p, last + 32, z + w1, y + p.word64(last + 16))
    x, z = z, x
    out = _hash_len16(_hash_len16(v0, w0, mul) + _shift_mix(y) * _K0 + z, _hash_len16(v1, w1, mul) + x, mul)
    result = np.empty_like(out)
    result[order] = out
    return result


_FARM_CLASSES = (
    (1, 3, _len1to3),
    (4, 7, _len4to7),
    (8, 16, _len8to16),
    (17, 32, _len17to32),
    (33, 64, _len33to64),
    (65, None, _len65plus),
)


def fingerprint64(strings: Any) -> np.ndarray:
    """FarmHash Fingerprint64 of each string (TensorFlow's ``Fingerprint64``), as uint64."""
    values = to_bytes(strings)
    p = _Packed.of(values)
    out = np.full(p.length.shape, _K2, dtype=_U64)  # the empty string hashes to k2
    for lo, hi, fn in _FARM_CLASSES:
        sel = (p.length >= lo) if hi is None else ((p.length >= lo) & (p.length <= hi))
        idx = np.flatnonzero(sel)
        if idx.size:
            out[idx] = fn(p, p.start[idx], p.length[idx])
    return out.reshape(values.shape)


# -- SipHash-2-4 ---------------------------------------------------------------------------------


def _sip_round(v: list[np.ndarray]) -> None:
    v0, v1, v2, v3 = v
    v0 = v0 + v1
    v1 = _rotl(v1, 13) ^ v0
    v0 = _rotl(v0, 32)
    v2 = v2 + v3
    v3 = _rotl(v3, 16) ^ v2
    v0 = v0 + v3
    v3 = _rotl(v3, 21) ^ v0
    v2 = v2 + v1
    v1 = _rotl(v1, 17) ^ v2
    v2 = _rotl(v2, 32)
    v[:] = [v0, v1, v2, v3]


def _tail_word(p: _Packed, s: np.ndarray, n: np.ndarray) -> np.ndarray:
    """The last ``n % 8`` bytes of each string (at ``s``, of length ``n``) as a little-endian word."""
    rest = (n & 7).astype(_U64)
    at = s + (n & ~np.int64(7))
    mask = (_U64(1) << (rest * _U64(8))) - _U64(1)
    return p.word64(at) & mask


def siphash24(strings: Any, key: Sequence[int]) -> np.ndarray:
    """SipHash-2-4 of each string with the 128-bit key ``(key[0], key[1])``, as uint64."""
    if len(key) != 2:
        raise ValueError(f"SipHash needs a key of 2 integers, got {len(key)}")
    k0, k1 = (_U64(int(k) & _MASK) for k in key)
    values = to_bytes(strings)
    p = _Packed.of(values)
    order = np.argsort(-(p.length // 8), kind="stable")
    s, n = p.start[order], p.length[order]
    count = len(s)
    v = [
        np.full(count, _U64(0x736F6D6570736575) ^ k0, dtype=_U64),
        np.full(count, _U64(0x646F72616E646F6D) ^ k1, dtype=_U64),
        np.full(count, _U64(0x6C7967656E657261) ^ k0, dtype=_U64),
        np.full(count, _U64(0x7465646279746573) ^ k1, dtype=_U64),
    ]
    words = n // 8
    for j in range(int(words.max()) if count else 0):
        m = int(np.count_nonzero(words > j))
        word = p.word64(s[:m] + 8 * j)
        part = [x[:m] for x in v]
        part[3] = part[3] ^ word
        _sip_round(part)
        _sip_round(part)
        part[0] = part[0] ^ word
        for x, new in zip(v, part):
            x[:m] = new
    last = _tail_word(p, s, n) | ((n.astype(_U64) & _U64(0xFF)) << _U64(56))
    v[3] = v[3] ^ last
    _sip_round(v)
    _sip_round(v)
    v[0] = v[0] ^ last
    v[2] = v[2] ^ _U64(0xFF)
    for _ in range(4):
        _sip_round(v)
    out = v[0] ^ v[1] ^ v[2] ^ v[3]
    result = np.empty_like(out)
    result[order] = out
    return result.reshape(values.shape)


# -- TensorFlow's legacy Hash64 ------------------------------------------------------------------

_M = _U64(0xC6A4A7935BD1E995)
_LEGACY_SEED = 0xDECAFCAFFE


def legacy_hash64(strings: Any, seed: int = _LEGACY_SEED) -> np.ndarray:
    """TensorFlow's ``Hash64`` (``tsl/platform/hash.cc``, MurmurHash64A-like) of each string."""
    values = to_bytes(strings)
    p = _Packed.of(values)
    order = np.argsort(-(p.length // 8), kind="stable")
    s, n = p.start[order], p.length[order]
    h = _U64(seed & _MASK) ^ (n.astype(_U64) * _M)
    words = n // 8
    for j in range(int(words.max()) if len(s) else 0):
        m = int(np.count_nonzero(words > j))
        k = p.word64(s[:m] + 8 * j) * _M
        k ^= k >> _U64(47)
        k *= _M
        h[:m] = (h[:m] ^ k) * _M
    tail = (n & 7) != 0
    h = np.where(tail, (h ^ _tail_word(p, s, n)) * _M, h)
    h ^= h >> _U64(47)
    h *= _M
    h ^= h >> _U64(47)
    result = np.empty_like(h)
    result[order] = h
    return result.reshape(values.shape)


# -- the ops' bucket forms -----------------------------------------------------------------------


def _bucket(hashes: np.ndarray, num_buckets: int) -> np.ndarray:
    if num_buckets < 1:
        raise ValueError(f"num_buckets must be at least 1, got {num_buckets}")
    return (hashes % _U64(num_buckets)).astype(np.int64)


def hash_bucket_fast(strings: Any, num_buckets: int) -> np.ndarray:
    """``StringToHashBucketFast``: Fingerprint64 modulo ``num_buckets``, int64."""
    return _bucket(fingerprint64(strings), num_buckets)


def hash_bucket_strong(strings: Any, num_buckets: int, key: Sequence[int]) -> np.ndarray:
    """``StringToHashBucketStrong``: SipHash-2-4 with ``key`` modulo ``num_buckets``, int64."""
    return _bucket(siphash24(strings, key), num_buckets)


def hash_bucket_legacy(strings: Any, num_buckets: int) -> np.ndarray:
    """``StringToHashBucket`` (deprecated): TensorFlow's Hash64 modulo ``num_buckets``, int64."""
    return _bucket(legacy_hash64(strings), num_buckets)
