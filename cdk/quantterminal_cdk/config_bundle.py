"""The configuration a deployment runs, bundled with the Lambda code: the configuration in force
as ``quantterminal_config/config.json`` and every strategy file it names, copied beside it (specs
rewritten to the copies), so the handlers load the user's strategies from their own package.

Module specs (``package.module:Class``) and entry points must be importable in the bundle: add the
package to the project's dependencies. A file is copied once however many instances name it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from quantterminal.config.load import LoadedConfig
from quantterminal.config.strategies import file_spec

FOLDER = "quantterminal_config"
CONFIG_FILE = "config.json"
LAMBDA_ROOT = "/var/task"  # where Lambda unpacks the code bundle
IN_LAMBDA = f"{LAMBDA_ROOT}/{FOLDER}/{CONFIG_FILE}"  # QT_CONFIG in every function


@dataclass(frozen=True)
class ConfigBundle:
    """Files to write under ``FOLDER`` in the code bundle: relative path -> content."""

    files: dict[str, bytes]

    @classmethod
    def of(cls, loaded: LoadedConfig) -> ConfigBundle:
        resolved = loaded.resolved()
        files: dict[str, bytes] = {}
        for section in resolved["strategies"]:
            named = file_spec(section["strategy"], loaded.base)
            if named is None:
                continue
            path, attr = named
            copy = f"strategies/{hashlib.sha256(str(path).encode()).hexdigest()[:8]}_{path.name}"
            files[copy] = path.read_bytes()
            section["strategy"] = f"{copy}:{attr}" if attr else copy
        files[CONFIG_FILE] = (json.dumps(resolved, indent=2, sort_keys=True) + "\n").encode()
        return cls(files)

    @property
    def digest(self) -> str:
        """Changes whenever the configuration or a strategy file does (the code asset's hash)."""
        h = hashlib.sha256()
        for name in sorted(self.files):
            h.update(name.encode() + b"\0" + self.files[name] + b"\0")
        return h.hexdigest()

    def write(self, output_dir: Path) -> None:
        for name, content in self.files.items():
            target = output_dir / FOLDER / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
