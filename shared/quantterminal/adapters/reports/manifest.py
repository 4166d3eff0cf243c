"""What produced a run's outputs: ``manifest.json`` beside them -- the configuration in force, the
data files read (with their SHA-256), the version, when it ran, and the files it wrote.

An output folder holds one run. ``prepare_out`` refuses a folder that already holds another run's
outputs (or anything else), unless asked to overwrite -- then the earlier run's files (those its
manifest lists) are removed first, so nothing of two runs ever mixes unnoticed.
"""

from __future__ import annotations

import hashlib
import json
import sys
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from quantterminal import __version__

MANIFEST = "manifest.json"


class OutputFolderError(ValueError):
    """An output folder that holds something else."""


@dataclass(frozen=True)
class Manifest:
    """Where a manifest was written, and the run's id."""

    path: Path
    run_id: str


def prepare_out(out: Path, overwrite: bool = False) -> None:
    """Make ``out`` ready for a new run's outputs (see the module docs)."""
    if not out.exists():
        return
    if not out.is_dir():
        raise OutputFolderError(f"{out} is a file, not a folder")
    present = [p for p in out.iterdir() if not p.name.startswith(".")]
    if not present:
        return
    manifest = out / MANIFEST
    if not manifest.is_file():
        raise OutputFolderError(f"{out} already holds files that are not a QuantTerminal run's; choose another --out")
    try:
        earlier = json.loads(manifest.read_text(encoding="utf-8"))
        described = f"run {earlier['run_id']} ({earlier['command']}, {earlier['finished']})"
        listed = [out / name for name in earlier.get("outputs", [])]
    except (ValueError, KeyError, TypeError):
        raise OutputFolderError(f"{out}/{MANIFEST} is not a readable manifest; choose another --out") from None
    if not overwrite:
        raise OutputFolderError(f"{out} holds the outputs of {described}; choose another --out, or --overwrite")
    for path in [*listed, manifest]:
        path.unlink(missing_ok=True)
    for folder in sorted({p.parent for p in listed if p.parent != out}, reverse=True):
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(
    out: Path,
    command: str,
    configuration: Mapping[str, Any],
    data_files: Sequence[Path],
    started: datetime,
    outputs: Sequence[Path],
    extra: Mapping[str, Any] | None = None,
) -> Manifest:
    """Write ``out/manifest.json`` for a run that wrote ``outputs`` (paths inside ``out``)."""
    run_id = uuid.uuid4().hex[:12]
    document = {
        "run_id": run_id,
        "command": command,
        "argv": sys.argv[1:],
        "version": __version__,
        "started": started.isoformat(),
        "finished": datetime.now(UTC).isoformat(),
        "configuration": configuration,
        "data": [{"path": str(p), "sha256": file_digest(p), "bytes": p.stat().st_size} for p in data_files],
        "outputs": sorted(str(p.relative_to(out)) for p in outputs),
        **(extra or {}),
    }
    out.mkdir(parents=True, exist_ok=True)
    path = out / MANIFEST
    path.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
    return Manifest(path, run_id)
