"""Lambda code bundled without Docker: pip installs the package and its dependencies for the
Lambda platform (manylinux wheels, Python 3.12, x86_64) into the asset folder, then copies the
handlers. ``cdk synth`` and ``cdk deploy`` need only Python and pip; the Docker image named as
the fallback is used only where local bundling is unavailable."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import jsii
from aws_cdk import BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

ROOT = Path(__file__).resolve().parents[2]
PYTHON_VERSION = "3.14"


@jsii.implements(ILocalBundling)
class PipBundler:
    """Bundles the repository's package for Lambda with the local pip."""

    def try_bundle(self, output_dir: str, *args: object, **kwargs: object) -> bool:
        subprocess.run(
            [
                sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                "--platform", "manylinux2014_x86_64", "--implementation", "cp",
                "--python-version", PYTHON_VERSION, "--only-binary=:all:",
                "--target", output_dir, str(ROOT),
            ],
            check=True,
        )  # fmt: skip
        shutil.copytree(ROOT / "lambdas", Path(output_dir) / "lambdas", dirs_exist_ok=True)
        return True


def lambda_code() -> lambda_.Code:
    """The code asset every handler shares (one bundle; each function names its handler)."""
    return lambda_.Code.from_asset(
        str(ROOT),
        exclude=["cdk.out", ".venv", ".git", "out", "**/__pycache__", "node_modules", ".quantterminal"],
        bundling=BundlingOptions(
            image=DockerImage.from_registry(f"public.ecr.aws/sam/build-python{PYTHON_VERSION}"),
            local=PipBundler(),
            command=[
                "bash",
                "-c",
                "pip install /asset-input -t /asset-output && cp -r /asset-input/lambdas /asset-output/",
            ],
        ),
    )
