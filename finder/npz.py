"""What an `.npz` archive declares, read without reading its arrays.

An `.npz` is a zip of `.npy` members, and each `.npy` starts with a small header (magic,
version, then a Python-literal dict of `descr`, `fortran_order` and `shape`). `np.load` trusts
that header: a member that declares shape `(10**12,)` float64 while holding 64 bytes makes it
try to allocate 7.28 TiB and raise `MemoryError`. Reading the headers first, with numpy's own
`read_magic` / `read_array_header_1_0|2_0` on the open zip member (a few hundred bytes each),
lets a caller refuse such a file in fixed memory and time:

- the member is not an `.npy`, or its header is malformed or of an unknown version;
- the dtype holds Python objects (loading it would need pickle);
- the declared size, `prod(shape) * itemsize` in Python integers (no overflow), differs from the
  bytes the member holds after its header (a lying or truncated member);
- the declared sizes together exceed `max_bytes`.
"""

from __future__ import annotations

import math
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

from finder.errors import DataError

NPY_SUFFIX = ".npy"
# Errors numpy and zipfile raise for malformed, truncated or exotic members.
READ_ERRORS = (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError)


@dataclass(frozen=True)
class ArrayHeader:
    """One `.npy` member's declaration: its key, shape, dtype and size in bytes."""

    key: str
    shape: tuple[int, ...]
    dtype: np.dtype
    nbytes: int


def read_member_header(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> ArrayHeader:
    """The header of one `.npy` member, checked against the bytes the member holds.

    Raises:
        DataError: naming the member and what is wrong with it.
    """
    name = member.filename
    if not name.endswith(NPY_SUFFIX):
        raise DataError(f"member {name!r} is not an .npy array; an .npz holds only arrays.")
    try:
        with archive.open(member) as handle:
            version = npy_format.read_magic(handle)
            if version == (1, 0):
                shape, _, dtype = npy_format.read_array_header_1_0(handle)
            elif version == (2, 0):
                shape, _, dtype = npy_format.read_array_header_2_0(handle)
            else:
                raise DataError(f"member {name!r} has .npy format version {version}, not 1 or 2.")
            offset = handle.tell()
    except DataError:
        raise
    except READ_ERRORS as exc:
        raise DataError(f"member {name!r} has no readable .npy header ({exc}).") from exc
    if dtype.hasobject:
        raise DataError(f"member {name!r} holds Python objects, which need pickle to load.")
    if any(size < 0 for size in shape):
        raise DataError(f"member {name!r} declares a negative dimension in shape {shape}.")
    nbytes = math.prod(shape) * dtype.itemsize
    held = member.file_size - offset
    if nbytes != held:
        raise DataError(
            f"member {name!r} declares shape {shape} {dtype} ({nbytes} bytes) but holds "
            f"{held} bytes of data."
        )
    return ArrayHeader(name[: -len(NPY_SUFFIX)], tuple(shape), dtype, nbytes)


def read_headers(path: str | Path, *, max_bytes: int | None = None) -> dict[str, ArrayHeader]:
    """Every array an `.npz` declares, by key, each checked by `read_member_header`.

    Args:
        path: str or Path. The `.npz` file.
        max_bytes: int or None. Cap on the arrays' declared bytes together. Defaults to `None`
            (the declared sizes must still match the stored ones).

    Raises:
        DataError: not a zip, a member refused by `read_member_header`, or over `max_bytes`.
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            headers = [read_member_header(archive, m) for m in archive.infolist()]
    except DataError as exc:
        raise DataError(f"{path.name}: {exc}") from exc
    except READ_ERRORS as exc:
        raise DataError(f"{path.name} is not a readable .npz file ({exc}).") from exc
    total = sum(h.nbytes for h in headers)
    if max_bytes is not None and total > max_bytes:
        raise DataError(f"{path.name}: its arrays declare {total} bytes, limit {max_bytes}.")
    return {h.key: h for h in headers}
