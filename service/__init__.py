"""finder's HTTP service: range-test jobs over FastAPI, run on Ray, kept in SQL.

```python
from service import Settings, create_app
app = create_app(Settings(database_url="sqlite:///jobs.db"))
```

Names are re-exported lazily, so that `finder --help` (which lists the service's `serve` and
`worker` commands from `service.cli`) does not load FastAPI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from finder.lazy import lazy_exports

if TYPE_CHECKING:
    from service.core.config import Settings, load_settings
    from service.main import create_app

_EXPORTS = {
    "Settings": "service.core.config",
    "create_app": "service.main",
    "load_settings": "service.core.config",
}

__all__ = ["Settings", "create_app", "load_settings"]


__getattr__ = lazy_exports(__name__, globals(), _EXPORTS)
