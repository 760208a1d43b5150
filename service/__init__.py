"""finder's HTTP service: range-test jobs over FastAPI, run on Ray, kept in SQL.

```python
from service import Settings, create_app
app = create_app(Settings(database_url="sqlite:///jobs.db"))
```
"""

from __future__ import annotations

from service.config import Settings, load_settings
from service.main import create_app

__all__ = ["Settings", "create_app", "load_settings"]
