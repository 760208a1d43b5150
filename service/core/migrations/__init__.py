"""The job database's Alembic migrations, run by `service.core.db.init_db` (see `env.py`)."""
