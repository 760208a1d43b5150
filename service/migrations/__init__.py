"""The job database's Alembic migrations, run by `service.db.init_db` (see `env.py`)."""
