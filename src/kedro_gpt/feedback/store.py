"""The feedback database: one row per rated exchange, in any SQLAlchemy database.

SQLite (the default) runs in WAL mode with ``synchronous=FULL``: a committed row survives the
server being killed, and readers (a catalog snapshot) never block the writer. Every ``add`` is
its own transaction; concurrent writers wait for the lock (``busy_timeout``) instead of failing.
PostgreSQL or another server database: any SQLAlchemy URL.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    insert,
    select,
)
from sqlalchemy.engine import Engine, make_url

from kedro_gpt.feedback.schema import FeedbackIn

METADATA = MetaData()
FEEDBACK = Table(
    "feedback",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("mode", String(16), nullable=False),  # chat | completion
    Column("prompt", Text),  # completion
    Column("messages", Text),  # chat: the conversation before the answer, JSON
    Column("answer", Text, nullable=False),
    Column("edited_answer", Text),
    Column("rating", Integer),  # 1 up, -1 down, NULL none
    Column("comment", Text),
    Column("model_name", String(200)),
    Column("model_version", String(200)),
    Column("sampling", Text, nullable=False),  # JSON
)
COLUMNS = [c.name for c in FEEDBACK.columns]
RATINGS = {"up": 1, "down": -1, None: None}


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def connect(url: str) -> Engine:
    """An engine for ``url`` with the table created; an SQLite file's folder is made."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    METADATA.create_all(engine)
    return engine


class FeedbackStore:
    """Adds rated exchanges and reads them back as a table."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = connect(url)

    def add(self, item: FeedbackIn, model_version: str | None = None) -> int:
        """Store ``item`` (committed when this returns); its row id. ``model_version`` is used
        when the item does not name one."""
        messages = None if item.messages is None else [m.model_dump() for m in item.messages]
        row = {
            "created_at": datetime.now(UTC),
            "mode": item.mode,
            "prompt": item.prompt,
            "messages": None if messages is None else json.dumps(messages, ensure_ascii=False),
            "answer": item.answer,
            "edited_answer": item.edited_answer,
            "rating": RATINGS[item.rating],
            "comment": item.comment,
            "model_name": item.model,
            "model_version": item.model_version or model_version,
            "sampling": item.sampling.model_dump_json(exclude_none=True),
        }
        with self.engine.begin() as conn:
            return int(conn.execute(insert(FEEDBACK).values(**row)).inserted_primary_key[0])

    def table(self) -> pd.DataFrame:
        """Every row, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(FEEDBACK).order_by(FEEDBACK.c.id)).mappings().all()
        return pd.DataFrame([dict(r) for r in rows], columns=COLUMNS)

    def close(self) -> None:
        self.engine.dispose()
