"""Alembic's environment for the job database.

`service.core.db.init_db` runs `upgrade head` through Alembic's API with the connection it opened
(`config.attributes["connection"]`), in a transaction it has already begun and serialised
across processes. Run by hand (`alembic revision --autogenerate`, say) with a Config whose
`script_location` is this folder, it connects to the config's `sqlalchemy.url`.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from service.core.db import Base, create_db_engine


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite alters tables by copying them (`batch_alter_table`).
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


given = context.config.attributes.get("connection")
if given is not None:
    run(given)
else:
    url = context.config.get_main_option("sqlalchemy.url")
    if url is None:
        raise SystemExit("set sqlalchemy.url (the job database) in the Alembic config")
    engine = create_db_engine(url, pooled=False)
    with engine.connect() as connection:
        run(connection)
    engine.dispose()
