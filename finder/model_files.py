"""Load user models from `.keras` files without letting the file run code.

A Keras model file is a code-execution risk: a `Lambda` layer carries Python bytecode, a
`TFSMLayer` loads a SavedModel graph, a lookup layer can read any file named as its vocabulary,
and a config may name any importable module. finder therefore

1. accepts only `.keras` zip archives (never `.h5` or SavedModel directories),
2. caps the archive's member count and its uncompressed size, and refuses zip bombs,
3. reads `config.json` BEFORE Keras sees the file and refuses Lambda, TFSMLayer,
   TorchModuleWrapper, lookup layers with file vocabularies, and any class whose module is not
   Keras's (or finder's own registered schedules),
4. loads with `keras.models.load_model(path, safe_mode=True)` (keras >= 3.15.1).
"""

from __future__ import annotations

import json
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from finder.errors import ModelError, UnsafeModelError

MODEL_SUFFIX = ".keras"
DEFAULT_MAX_UNCOMPRESSED_BYTES = 1 << 30
DEFAULT_MAX_MEMBERS = 64
# A .keras archive is a config plus float weights, which barely compress; ratios far beyond this
# only come from crafted archives.
MAX_COMPRESSION_RATIO = 200
REFUSED_CLASSES = frozenset({"Lambda", "TFSMLayer", "TorchModuleWrapper", "__lambda__"})
LOOKUP_CLASSES = frozenset({"StringLookup", "IntegerLookup", "TextVectorization"})
# A class's module must be one of these packages or inside one: `keras` and `keras.layers`
# pass, `keras_os` does not.
ALLOWED_MODULE_PACKAGES = ("keras", "finder.schedules")
ALLOWED_REGISTERED_PACKAGES = ("finder>",)


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    """Every dict in a JSON tree; with a stack, so a deeply nested config cannot exhaust
    Python's recursion limit."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def allowed_module(module: str) -> bool:
    """Whether `module` is one of `ALLOWED_MODULE_PACKAGES` or a module inside one."""
    return any(module == p or module.startswith(p + ".") for p in ALLOWED_MODULE_PACKAGES)


def unsafe_member_name(name: str) -> str | None:
    """Why a zip member name could point outside the folder it is extracted to, or None.

    Absolute paths, `..` components, backslashes (a separator on Windows), drive letters and
    control characters are refused even where the reader (Keras, numpy) would skip or
    sanitise them: no legitimate `.keras` or `.npz` contains them.
    """
    if name.startswith("/"):
        return "an absolute path"
    if "\\" in name:
        return "a backslash"
    if ".." in name.split("/"):
        return "a '..' component"
    if ":" in name:
        return "a drive or stream separator ':'"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "a control character"
    return None


def check_config(config: Any) -> None:
    """Refuse a model config that could run code or read files when loaded.

    Raises:
        UnsafeModelError: naming the offending class.
    """
    for node in _walk(config):
        class_name = node.get("class_name")
        if not isinstance(class_name, str):
            continue
        if class_name in REFUSED_CLASSES:
            raise UnsafeModelError(
                f"Refused: the model contains a {class_name} layer, which can run code."
            )
        module = node.get("module")
        registered = node.get("registered_name")
        if isinstance(module, str) and not allowed_module(module):
            raise UnsafeModelError(
                f"Refused: class {class_name!r} comes from module {module!r}, outside keras."
            )
        if (
            isinstance(registered, str)
            and registered != class_name
            and not registered.startswith(ALLOWED_REGISTERED_PACKAGES)
        ):
            raise UnsafeModelError(
                f"Refused: {class_name!r} is a custom object registered as {registered!r}."
            )
        if class_name in LOOKUP_CLASSES:
            layer_config = node.get("config") or {}
            if isinstance(layer_config.get("vocabulary"), str):
                raise UnsafeModelError(
                    f"Refused: the {class_name} layer reads its vocabulary from a file."
                )


def inspect_archive(
    path: str | Path,
    *,
    max_uncompressed_bytes: int = DEFAULT_MAX_UNCOMPRESSED_BYTES,
    max_members: int = DEFAULT_MAX_MEMBERS,
) -> dict[str, Any]:
    """Check a `.keras` archive's shape and config without loading it; return the config.

    Raises:
        ModelError: the file is missing, not a `.keras` zip, or lacks `config.json`.
        UnsafeModelError: too large, too many members, a zip bomb, or an unsafe config.
    """
    path = Path(path)
    if path.suffix.lower() != MODEL_SUFFIX:
        raise UnsafeModelError(
            f"Refused {path.name!r}: only Keras v3 '.keras' files are accepted "
            "(not .h5 or SavedModel), because other formats can run code when loaded."
        )
    if not path.is_file():
        raise ModelError(f"Model file {str(path)!r} does not exist.")
    if not zipfile.is_zipfile(path):
        raise ModelError(f"{path.name} is not a .keras archive (not a zip file).")
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
        check_zip_limits(members, max_members, max_uncompressed_bytes, f"Refused {path.name}")
        names = {m.filename for m in members}
        if "config.json" not in names:
            raise ModelError(f"{path.name} is not a Keras v3 model file (no config.json).")
        try:
            config = json.loads(archive.read("config.json"))
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError
            raise ModelError(f"{path.name}: config.json is not JSON ({exc}).") from exc
        except (OSError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError) as exc:
            raise ModelError(f"{path.name}: config.json cannot be read ({exc}).") from exc
    check_config(config)
    loaded: dict[str, Any] = config
    return loaded


def check_zip_limits(
    members: list[zipfile.ZipInfo],
    max_members: int,
    max_uncompressed_bytes: int,
    refused: str,
    error: type[Exception] = UnsafeModelError,
) -> None:
    """Refuse a zip archive (a `.keras` model, an `.npz` dataset) by its member count, an
    unsafe member name, its uncompressed size or its compression ratio, before anything is
    extracted.

    Raises:
        error: `"<refused>: <why>"`. Defaults to `UnsafeModelError`.
    """
    if len(members) > max_members:
        raise error(f"{refused}: {len(members)} archive members.")
    for member in members:
        why = unsafe_member_name(member.filename)
        if why is not None:
            raise error(f"{refused}: member name {member.filename!r} holds {why}.")
    total = sum(m.file_size for m in members)
    compressed = sum(m.compress_size for m in members)
    if total > max_uncompressed_bytes:
        raise error(f"{refused}: {total} bytes uncompressed, limit {max_uncompressed_bytes}.")
    if compressed and total / compressed > MAX_COMPRESSION_RATIO:
        raise error(f"{refused}: compression ratio {total / compressed:.0f} looks like a zip bomb.")


def load_model_file(path: str | Path, **limits: int) -> Any:
    """Inspect, then load a `.keras` model with `safe_mode=True`.

    Raises:
        ModelError: unreadable or not a model.
        UnsafeModelError: refused by `inspect_archive`.
    """
    import keras

    import finder.schedules  # noqa: F401  (registers finder's schedules for deserialization)

    inspect_archive(path, **limits)
    try:
        return keras.models.load_model(path, safe_mode=True)
    except Exception as exc:  # Keras raises many types for corrupt files.
        raise ModelError(f"Cannot load model {Path(path).name}: {exc}") from exc
