"""Lambda code bundled without Docker: pip installs the package and its dependencies for the
Lambda platform (manylinux wheels, Python 3.12, x86_64) into the asset folder, then copies the
handlers. ``cdk synth`` and ``cdk deploy`` need only Python and pip; the Docker image named as
the fallback is used only where local bundling is unavailable."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, FileSystem, ILocalBundling
from aws_cdk import aws_lambda as lambda_

from quantterminal_cdk.config_bundle import ConfigBundle

ROOT = Path(__file__).resolve().parents[2]
PYTHON_VERSION = "3.14"
# What never goes into an asset: build output, environments, caches, local data.
NOT_SOURCE = [
    "cdk.out", ".venv", ".git", "out", "build", "*.egg-info", "node_modules", ".quantterminal",
    "**/__pycache__", ".mypy_cache", ".ruff_cache", ".hypothesis", ".pytest_cache",
]  # fmt: skip


@jsii.implements(ILocalBundling)
class PipBundler:
    """Bundles the repository's package for Lambda with the local pip, and the configuration."""

    def __init__(self, config: ConfigBundle) -> None:
        self.config = config

    def try_bundle(self, output_dir: str, *args: object, **kwargs: object) -> bool:
        pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target", output_dir]
        # The dependencies as Lambda-platform wheels (Python 3.14 runs on Amazon Linux 2023, glibc 2.34) ...
        platform = ["--implementation", "cp", "--python-version", PYTHON_VERSION, "--only-binary=:all:"]
        for tag in ("manylinux_2_28_x86_64", "manylinux2014_x86_64"):
            platform += ["--platform", tag]
        subprocess.run([*pip, *platform, *dependencies()], check=True)
        # ... then the package itself (pure Python) and the handlers.
        subprocess.run([*pip, "--no-deps", str(ROOT)], check=True)
        shutil.copytree(ROOT / "lambdas", Path(output_dir) / "lambdas", dirs_exist_ok=True)
        self.config.write(Path(output_dir))  # the configuration in force and the strategy files it names
        # Lambda's unzipped limit is 250 MB: drop libraries' own test suites and bytecode caches.
        # The AWS SDK comes with the Lambda runtime; a copy pulled in by other packages is dead weight.
        sdk = [p for name in PROVIDED_BY_LAMBDA for p in Path(output_dir).glob(f"{name}*")]
        for junk in [*Path(output_dir).glob("*/tests"), *Path(output_dir).rglob("__pycache__"), *sdk]:
            shutil.rmtree(junk, ignore_errors=True)
        return True


# Not bundled: boto3 comes with the Lambda runtime; rich and aiohttp serve the command line only. matplotlib is
# bundled for the daily report's equity PNG, and imported only when a PNG is drawn (a test checks).
NOT_BUNDLED = frozenset({"boto3", "rich", "aiohttp"})
PROVIDED_BY_LAMBDA = ("boto3", "botocore", "s3transfer")


def dependencies() -> list[str]:
    """The package's runtime requirements (pyproject.toml) that the Lambda bundle needs."""
    with (ROOT / "pyproject.toml").open("rb") as handle:
        declared = tomllib.load(handle)["project"]["dependencies"]
    return [d for d in declared if re.split(r"[<>=!~\[ ]", d, maxsplit=1)[0] not in NOT_BUNDLED]


def lambda_code(config: ConfigBundle) -> lambda_.Code:
    """The code asset every handler shares (one bundle; each function names its handler). Its hash
    covers the sources and the configuration, so a changed strategy file or setting redeploys."""
    return lambda_.Code.from_asset(
        str(ROOT),
        exclude=NOT_SOURCE,
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=FileSystem.fingerprint(str(ROOT), exclude=NOT_SOURCE, extra_hash=config.digest),
        bundling=BundlingOptions(
            image=DockerImage.from_registry(f"public.ecr.aws/sam/build-python{PYTHON_VERSION}"),
            local=PipBundler(config),
            command=[
                "bash",
                "-c",
                "pip install /asset-input -t /asset-output && cp -r /asset-input/lambdas /asset-output/",
            ],
        ),
    )
