"""`balmon retention restore`: load an archive into a separate database for an investigation.

Every file is checked first, as retention checked it before deleting (its SHA-256 against
the manifest, its rows and ids, every chained row's hash); nothing is loaded from an archive
that fails. The tables are created as plain copies (columns and primary keys, no foreign keys
or triggers: the archive holds only what was deleted, so what its rows point at may not be
in it), plus `archive_manifests`, which records the manifest and its digest.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Engine, MetaData, String, Table, Text, insert, inspect

from balmon.errors import RetentionError
from balmon.retention.archive import MANIFEST, check_file, decode_row, read_rows
from balmon.retention.policy import BY_NAME
from balmon.storage.types import UTCDateTime

BATCH = 1000


@dataclass
class Restored:
    name: str
    digest: str
    rows: dict[str, int] = field(default_factory=dict)


def read_manifest(path: Path) -> tuple[dict[str, Any], str]:
    """The manifest at `path` (the file, or its archive directory) and its SHA-256."""
    if path.is_dir():
        path = path / MANIFEST
    try:
        text = path.read_text(encoding="utf-8")
        manifest = json.loads(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RetentionError(f"{path}: not a readable retention manifest ({exc})") from None
    if not isinstance(manifest, dict) or "files" not in manifest:
        raise RetentionError(f"{path}: not a retention manifest")
    return manifest, hashlib.sha256(text.encode()).hexdigest()


def _copies(tables: list[str]) -> tuple[MetaData, dict[str, Table]]:
    copies = MetaData()
    made = {}
    for name in tables:
        source = BY_NAME[name]
        columns = [Column(c.name, c.type, primary_key=c.primary_key) for c in source.table.columns]
        columns += [Column(c.name, String(64)) for c in source.extra]
        made[name] = Table(name, copies, *columns)
    Table(
        "archive_manifests",
        copies,
        Column("name", String(100), primary_key=True),
        Column("digest", String(64), nullable=False),
        Column("restored_at", UTCDateTime, nullable=False),
        Column("manifest", Text, nullable=False),
    )
    return copies, made


def restore(manifest_path: Path, target: Engine, *, now: datetime) -> Restored:
    manifest, digest = read_manifest(manifest_path)
    root = (manifest_path if manifest_path.is_dir() else manifest_path.parent).resolve()
    files = manifest["files"]
    unknown = sorted({e["table"] for e in files} - BY_NAME.keys())
    if unknown:
        raise RetentionError(f"the manifest lists tables balmon does not archive: {unknown}")
    for entry in files:
        problems = check_file(root, entry, BY_NAME[entry["table"]].table)
        if problems:
            raise RetentionError(f"nothing restored: {problems[0]}")
    tables = sorted({e["table"] for e in files})
    existing = set(inspect(target).get_table_names())
    taken = sorted(existing & {*tables, "archive_manifests"})
    if taken:
        raise RetentionError(
            f"the target database already has {', '.join(taken)}: restore into an empty one"
        )
    copies, made = _copies(tables)
    result = Restored(str(manifest.get("name", root.name)), digest)
    with target.begin() as connection:
        copies.create_all(connection)
        for entry in files:
            table = made[entry["table"]]
            source = BY_NAME[entry["table"]].table
            batch: list[dict[str, Any]] = []
            for data in read_rows(root / entry["path"]):
                batch.append(decode_row(source, data))
                if len(batch) == BATCH:
                    connection.execute(insert(table), batch)
                    batch = []
            if batch:
                connection.execute(insert(table), batch)
            result.rows[entry["table"]] = result.rows.get(entry["table"], 0) + entry["rows"]
        connection.execute(
            insert(copies.tables["archive_manifests"]).values(
                name=result.name,
                digest=digest,
                restored_at=now,
                manifest=json.dumps(manifest, sort_keys=True),
            )
        )
    return result
