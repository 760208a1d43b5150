"""Hostile and broken upload files, byte by byte: lying `.npy` headers, truncated and corrupt
members, unsafe member names, non-finite data.

Each builder writes one file at `path` and returns it; `HOSTILE_DATASETS` and `HOSTILE_MODELS`
list them with the status and the words the refusal must carry.
"""

from __future__ import annotations

import json
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tests.service.utils.files import keras_archive

Builder = Callable[[Path], Path]


def npy_bytes(header: str, data: bytes, version: tuple[int, int] = (1, 0)) -> bytes:
    """An `.npy` member with a literal header dict, padded as numpy pads it."""
    text = header.encode("latin1")
    size_field = "<H" if version[0] == 1 else "<I"
    prefix = 6 + 2 + struct.calcsize(size_field)
    text += b" " * (-(prefix + len(text) + 1) % 64) + b"\n"
    return b"\x93NUMPY" + bytes(version) + struct.pack(size_field, len(text)) + text + data


def npz_of(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def labels(count: int = 8) -> bytes:
    return npy_bytes(
        f"{{'descr': '<i8', 'fortran_order': False, 'shape': ({count},), }}",
        np.arange(count, dtype="<i8").tobytes(),
    )


def lying_size(path: Path) -> Path:
    """x_train claims shape (10**12,) float64 (7.28 TiB) and holds 64 bytes."""
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,), }"
    return npz_of(path, {"x_train.npy": npy_bytes(header, bytes(64)), "y_train.npy": labels()})


def truncated_member(path: Path) -> Path:
    """x_train claims 8 x 4 float32 (128 bytes) and holds 100."""
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (8, 4), }"
    return npz_of(path, {"x_train.npy": npy_bytes(header, bytes(100)), "y_train.npy": labels()})


def malformed_header(path: Path) -> Path:
    """A header that is not a Python literal dict."""
    garbage = npy_bytes("__import__('os').system('true')", bytes(8))
    return npz_of(path, {"x_train.npy": garbage, "y_train.npy": labels()})


def bad_magic(path: Path) -> Path:
    return npz_of(path, {"x_train.npy": b"NOTNUMPY" + bytes(64), "y_train.npy": labels()})


def unknown_version(path: Path) -> Path:
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (8,), }"
    member = npy_bytes(header, bytes(64), version=(9, 0))
    return npz_of(path, {"x_train.npy": member, "y_train.npy": labels()})


def negative_shape(path: Path) -> Path:
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (-8,), }"
    return npz_of(path, {"x_train.npy": npy_bytes(header, bytes(64)), "y_train.npy": labels()})


def header_only(path: Path) -> Path:
    """A member cut inside its own header."""
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (8,), }"
    return npz_of(path, {"x_train.npy": npy_bytes(header, b"")[:20], "y_train.npy": labels()})


def corrupt_crc(path: Path) -> Path:
    """A valid npz with one data byte flipped after zipping: the CRC no longer matches."""
    x = npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (8,), }", bytes(64))
    npz_of(path, {"x_train.npy": x, "y_train.npy": labels()})
    raw = bytearray(path.read_bytes())
    raw[raw.index(b"\x93NUMPY") + 100] ^= 0xFF
    path.write_bytes(bytes(raw))
    return path


def not_a_zip(path: Path) -> Path:
    path.write_bytes(b"\x93NUMPY\x01\x00" + bytes(120))
    return path


def empty_zip(path: Path) -> Path:
    return npz_of(path, {})


def traversal_member(path: Path) -> Path:
    return npz_of(path, {"../x_train.npy": labels(), "y_train.npy": labels()})


def arrays_npz(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)
    return path


def nan_inputs(path: Path) -> Path:
    x = np.ones((8, 4), "float32")
    x[3, 1] = np.nan
    return arrays_npz(path, x_train=x, y_train=np.arange(8))


def inf_labels(path: Path) -> Path:
    y = np.arange(8, dtype="float32")
    y[0] = np.inf
    return arrays_npz(path, x_train=np.ones((8, 4), "float32"), y_train=y)


def empty_validation(path: Path) -> Path:
    x, y = np.ones((8, 4), "float32"), np.arange(8)
    return arrays_npz(path, x_train=x, y_train=y, x_val=x[:0], y_val=y[:0])


HOSTILE_DATASETS: list[tuple[str, Builder, str]] = [
    ("lying size (10**12 float64 in 64 bytes)", lying_size, "holds 64 bytes"),
    ("truncated member", truncated_member, "holds 100 bytes"),
    ("header that is not a dict literal", malformed_header, "no readable .npy header"),
    ("bad .npy magic", bad_magic, "no readable .npy header"),
    ("unknown .npy version", unknown_version, "format version (9, 0)"),
    ("negative shape", negative_shape, "negative dimension"),
    ("member cut inside its header", header_only, "no readable .npy header"),
    ("CRC mismatch", corrupt_crc, "Bad CRC-32"),
    ("not a zip", not_a_zip, "not a zip"),
    ("empty zip", empty_zip, "lacks"),
    ("'..' member name", traversal_member, "'..' component"),
    ("NaN in x_train", nan_inputs, "x_train holds 1 non-finite"),
    ("inf in y_train", inf_labels, "y_train holds 1 non-finite"),
    ("empty x_val", empty_validation, "x_val is empty"),
]

MODEL_CONFIG = {
    "module": "keras",
    "class_name": "Sequential",
    "config": {"name": "m", "layers": []},
}


def member_named(name: str) -> Builder:
    return lambda path: keras_archive(path, MODEL_CONFIG, {name: b"x"})


def module_named(module: str) -> Builder:
    config = {**MODEL_CONFIG, "module": module}
    return lambda path: keras_archive(path, config)


def deep_config(path: Path) -> Path:
    """config.json nested 100 000 lists deep: a recursive reader would overflow the stack."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("config.json", "[" * 100_000 + "]" * 100_000)
    return path


def corrupt_config(path: Path) -> Path:
    """A stored config.json with flipped bytes: the zip's CRC check fails on reading it."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("config.json", json.dumps(MODEL_CONFIG))
    raw = bytearray(path.read_bytes())
    raw[raw.index(b'"Sequential"') + 1] ^= 0x20
    path.write_bytes(bytes(raw))
    return path


HOSTILE_MODELS: list[tuple[str, Builder, str]] = [
    ("'../../x' member", member_named("../../x"), "'..' component"),
    ("absolute member", member_named("/tmp/finder-x"), "absolute path"),
    ("'assets/../../x' member", member_named("assets/../../x"), "'..' component"),
    ("backslash member", member_named("assets\\..\\x"), "backslash"),
    ("drive letter member", member_named("C:/x"), "':'"),
    ("control character member", member_named("a\x01b"), "control character"),
    ("module keras_os", module_named("keras_os"), "'keras_os'"),
    ("module kerasx.layers", module_named("kerasx.layers"), "'kerasx.layers'"),
    ("config nested 100 000 deep", deep_config, "not JSON"),
    ("CRC mismatch in config.json", corrupt_config, "cannot be read"),
]
