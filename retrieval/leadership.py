"""Which process runs a singleton duty (the refresh scheduler): a PostgreSQL session advisory lock.

The lock lives as long as the holder's connection, so a process that dies (even SIGKILLed) frees it when the
server drops the connection, and the next process that asks takes over. SQLite serves one process, which
always leads.
"""

from __future__ import annotations

import contextlib
import logging
import zlib

from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError

from retrieval.db import Database

logger = logging.getLogger(__name__)


class Leadership:
    def __init__(self, db: Database, name: str) -> None:
        self._db = db
        self._key = zlib.crc32(f"govrag:{name}".encode())
        self._connection: Connection | None = None
        self.shared = db.engine.dialect.name == "postgresql"

    def lead(self) -> bool:
        """Whether this process leads now: keeps the lock it holds, or takes it if it is free."""
        if not self.shared:
            return True
        try:
            if self._connection is not None:
                self._connection.execute(text("SELECT 1"))  # still ours while the connection lives
                return True
            connection = self._db.engine.connect()
            got = bool(connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self._key}).scalar())
            connection.commit()
            if not got:
                connection.close()
                return False
            self._connection = connection
            logger.info("this process now leads %s", self._key)
            return True
        except SQLAlchemyError as exc:
            logger.warning("leadership check failed (%s); not leading", type(exc).__name__)
            self.resign()
            return False

    def resign(self) -> None:
        if self._connection is None:
            return
        connection, self._connection = self._connection, None
        # Closing ends the session, and with it the lock; the pool must not keep it alive.
        with contextlib.suppress(SQLAlchemyError):
            connection.invalidate()
