"""Lazy re-exports for a package's `__init__`: a name is imported from its module on first use.

Packages use it so that importing them stays cheap (`finder.rangetest`'s pure-numpy parts
without Keras; `service` without FastAPI, so `finder --help` stays fast):

```python
__getattr__ = lazy_exports(__name__, globals(), {"range_test": "finder.rangetest.run"})
```
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def lazy_exports(
    package: str, namespace: dict[str, Any], exports: Mapping[str, str]
) -> Callable[[str], Any]:
    """A module-level `__getattr__` that imports `name` from `exports[name]` (a module path) on
    first access and caches it in `namespace` (the package's `globals()`)."""

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(exports[name]), name)
        namespace[name] = value
        return value

    return __getattr__
