"""Versioned schema migrations, one folder of ``NNNN_name.sql`` files per SQL dialect.

A migration, once applied somewhere, is never edited: each is recorded with a checksum and a
changed file is refused. Schema changes are new files.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from quantterminal.errors import MigrationError

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Migration:
    """One schema change."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(dialect: str) -> list[Migration]:
    """The migrations of ``dialect`` (``postgres`` or ``sqlite``) in version order."""
    folder = HERE / dialect
    migrations = []
    for path in sorted(folder.glob("*.sql")):
        number, _, name = path.stem.partition("_")
        migrations.append(Migration(int(number), name, path.read_text(encoding="utf-8")))
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise MigrationError(f"{dialect} migrations must be numbered 1..n without gaps, found {versions}")
    return migrations


def check_applied(applied: dict[int, str], migrations: list[Migration]) -> list[Migration]:
    """The migrations still to apply; ``MigrationError`` if an applied one was edited since."""
    known = {m.version: m for m in migrations}
    for version, checksum in sorted(applied.items()):
        migration = known.get(version)
        if migration is None:
            raise MigrationError(f"the database has migration {version}, which this build does not know")
        if migration.checksum != checksum:
            raise MigrationError(f"migration {version} ({migration.name}) was edited after it was applied")
    return [m for m in migrations if m.version not in applied]
