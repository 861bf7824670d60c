"""Archive files and their manifest: what retention writes before it deletes anything.

An archive is a directory: one gzip-compressed JSON-lines file per table and month
(`error_logs/2019-03.jsonl.gz`), one row per line with every column, and `manifest.json`
(canonical JSON: sorted keys, no spaces) listing each file's rows, id ranges and SHA-256,
and for the hash-chained tables the positions each chain segment lost, with the hash before
and at the end of each run of positions, so the chains can still be checked without them.
The manifest's own SHA-256 is sealed in the seal chain and recorded in `audit_events`.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Boolean, Date, Table

from balmon.audit.canonical import genesis
from balmon.audit.chain import row_hash
from balmon.storage.types import Money, UTCDateTime

FORMAT = "balmon-archive/1"
MANIFEST = "manifest.json"


def encode_value(item: Any) -> Any:
    """One column's value as JSON: exact decimal strings, ISO dates, UTC timestamps."""
    if isinstance(item, datetime):
        return item.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    if isinstance(item, date):
        return item.isoformat()
    if isinstance(item, Decimal):
        return str(item)
    return item


def _converters(table: Table) -> list[tuple[str, Callable[[Any], Any]]]:
    """Per column that JSON cannot carry as itself, how to read it back."""
    found: list[tuple[str, Callable[[Any], Any]]] = []
    for column in table.columns:
        kind = column.type
        if isinstance(kind, UTCDateTime):
            found.append((column.name, lambda raw: datetime.fromisoformat(raw).astimezone(UTC)))
        elif isinstance(kind, Date):
            found.append((column.name, date.fromisoformat))
        elif isinstance(kind, Money):
            found.append((column.name, Decimal))
        elif isinstance(kind, Boolean):
            found.append((column.name, bool))
    return found


_CONVERTERS: dict[str, list[tuple[str, Callable[[Any], Any]]]] = {}


def decode_row(table: Table, data: Mapping[str, Any]) -> dict[str, Any]:
    """An archived row back as the column values balmon writes (unknown keys kept as they are,
    such as a resolution's `attempt_hash`)."""
    converters = _CONVERTERS.get(table.name)
    if converters is None:
        converters = _CONVERTERS[table.name] = _converters(table)
    row = dict(data)
    for name, convert in converters:
        raw = row.get(name)
        if raw is not None:
            row[name] = convert(raw)
    return row


def id_ranges(ids: list[int]) -> list[list[int]]:
    """Sorted ids as runs of consecutive integers: [[first, last], ...]."""
    ranges: list[list[int]] = []
    for i in ids:
        if ranges and i == ranges[-1][1] + 1:
            ranges[-1][1] = i
        else:
            ranges.append([i, i])
    return ranges


@dataclass
class _OpenFile:
    path: Path
    raw: IO[bytes]
    stream: gzip.GzipFile
    sha: Any = field(default_factory=hashlib.sha256)
    rows: int = 0
    ids: list[int] = field(default_factory=list)
    keys: list[list[Any]] = field(default_factory=list)
    runs: Runs | None = None
    pending: list[bytes] = field(default_factory=list)  # lines not compressed yet

    def flush(self) -> None:
        self.stream.write(b"".join(self.pending))
        self.pending.clear()


class _HashingWriter:
    """Hashes the compressed bytes as they are written, so no file is read twice to hash it."""

    def __init__(self, raw: IO[bytes], sha: Any) -> None:
        self.raw, self.sha = raw, sha

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        return self.raw.write(data)

    def flush(self) -> None:
        self.raw.flush()


class ArchiveWriter:
    """Writes one table's rows into per-month files under `root`."""

    def __init__(self, root: Path, table: str) -> None:
        self.root, self.table = root, table
        self._open: dict[str, _OpenFile] = {}

    def write(
        self,
        month: str,
        row: Mapping[str, Any],
        key: list[Any],
        before: Callable[[], str] | None = None,
    ) -> None:
        """Append a row; `before` gives, for a chained row, the hash of the position before
        it when that position is not archived with it."""
        handle = self._open.get(month)
        if handle is None:
            path = self.root / self.table / f"{month}.jsonl.gz"
            path.parent.mkdir(parents=True, exist_ok=True)
            raw = path.open("xb")
            sha = hashlib.sha256()
            # mtime=0: the same rows always give the same bytes (and the same SHA-256).
            stream = gzip.GzipFile(
                filename="",
                mode="wb",
                fileobj=_HashingWriter(raw, sha),
                mtime=0,
            )
            handle = self._open[month] = _OpenFile(path, raw, stream, sha)
        line = json.dumps(
            {k: encode_value(v) for k, v in row.items()}, separators=(",", ":"), ensure_ascii=False
        )
        handle.pending.append(line.encode() + b"\n")
        if len(handle.pending) == 1000:  # compressing line by line costs twice as much
            handle.flush()
        handle.rows += 1
        if before is not None:
            handle.runs = handle.runs or Runs()
            segment, seq = row["chain_segment"], row["chain_seq"]
            tail = handle.runs.tail(segment)
            if tail is not None and tail[1] == seq - 1:
                previous = tail[3]
            else:
                previous = genesis(segment) if seq == 1 else before()
            handle.runs.add(segment, seq, row["chain_hash"], previous)
        if key == [row.get("id")]:
            handle.ids.append(int(key[0]))
        else:
            handle.keys.append([encode_value(k) for k in key])

    def close(self) -> list[dict[str, Any]]:
        """Finish every file; returns their manifest entries."""
        entries = []
        for month, handle in sorted(self._open.items()):
            handle.flush()
            handle.stream.close()
            handle.raw.close()
            entry: dict[str, Any] = {
                "table": self.table,
                "month": month,
                "path": handle.path.relative_to(self.root).as_posix(),
                "rows": handle.rows,
                "bytes": handle.path.stat().st_size,
                "sha256": handle.sha.hexdigest(),
            }
            if handle.ids:
                entry["ids"] = id_ranges(handle.ids)
            else:
                entry["keys"] = handle.keys
            if handle.runs is not None:
                entry["segments"] = handle.runs.by_segment
            entries.append(entry)
        self._open.clear()
        return entries


def read_rows(path: Path) -> Iterator[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            yield json.loads(line)


def file_sha256(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def check_file(root: Path, entry: Mapping[str, Any], table: Table) -> list[str]:
    """Read one archive file back: its SHA-256, rows and ids against its manifest entry, and
    for a chained table every row's hash (`_ChainCheck`)."""
    path = root / entry["path"]
    if not path.is_file():
        return [f"{entry['path']}: missing"]
    if file_sha256(path) != entry["sha256"]:
        return [f"{entry['path']}: SHA-256 does not match the manifest"]
    try:
        return _check_rows(path, entry, table)
    except (OSError, EOFError, zlib.error, ValueError, KeyError, TypeError) as exc:
        return [f"{entry['path']}: cannot be read back ({type(exc).__name__})"]


def _check_rows(path: Path, entry: Mapping[str, Any], table: Table) -> list[str]:
    problems: list[str] = []
    ids: list[int] = []
    keys: list[list[Any]] = []
    chain = _ChainCheck(table, entry["segments"]) if "segments" in entry else None
    for data in read_rows(path):
        if "ids" in entry:
            ids.append(int(data["id"]))
        else:
            keys.append([data[c.name] for c in table.primary_key.columns])
        if chain is not None and not chain.add(decode_row(table, data)):
            return [f"{entry['path']}: row {data.get('id')} does not give its hash"]
    rows = len(ids) + len(keys)
    if rows != entry["rows"]:
        problems.append(f"{entry['path']}: {rows} rows, the manifest says {entry['rows']}")
    if "ids" in entry and id_ranges(sorted(ids)) != entry["ids"]:
        problems.append(f"{entry['path']}: its ids are not the ones the manifest lists")
    if "keys" in entry and keys != entry["keys"]:
        problems.append(f"{entry['path']}: its keys are not the ones the manifest lists")
    if chain is not None and chain.runs.by_segment != entry["segments"]:
        problems.append(f"{entry['path']}: its chain positions are not the ones the manifest lists")
    return problems


class _ChainCheck:
    """Recomputes archived chain rows: each run of positions starts from the hash before it
    that the manifest records, and must rebuild the runs the manifest lists."""

    def __init__(self, table: Table, listed: Mapping[str, list[list[Any]]]) -> None:
        self.table = table
        self.starts = {seg: {run[0]: run[2] for run in runs} for seg, runs in listed.items()}
        self.runs = Runs()

    def add(self, row: Mapping[str, Any]) -> bool:
        segment, seq = row["chain_segment"], row["chain_seq"]
        tail = self.runs.tail(segment)
        if tail is not None and tail[1] == seq - 1:
            previous = tail[3]
        else:
            previous = self.starts.get(segment, {}).get(seq)
        if previous is None:
            return False
        if row_hash(self.table.name, previous, segment, seq, row) != row["chain_hash"]:
            return False
        self.runs.add(segment, seq, row["chain_hash"], previous)
        return True


@dataclass
class Runs:
    """Per chain segment, the runs of positions archived, as [first, last, hash before
    first, hash at last]. Rows are added in position order."""

    by_segment: dict[str, list[list[Any]]] = field(default_factory=dict)

    def tail(self, segment: str) -> list[Any] | None:
        runs = self.by_segment.get(segment)
        return runs[-1] if runs else None

    def add(self, segment: str, seq: int, chain_hash: str, before: str) -> None:
        runs = self.by_segment.setdefault(segment, [])
        if runs and runs[-1][1] == seq - 1:
            runs[-1][1], runs[-1][3] = seq, chain_hash
        else:
            runs.append([seq, seq, before, chain_hash])
