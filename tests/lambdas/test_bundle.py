"""The Lambda bundle leaves out rich and boto3 (cdk/quantterminal_cdk/bundling.py) to stay under
Lambda's 250 MB, and matplotlib is imported only when the daily report draws its PNG (cold starts):
the handlers must import without rich and matplotlib."""

from __future__ import annotations

import subprocess
import sys

BLOCKER = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("matplotlib", "rich"):
            raise ImportError("not in the Lambda bundle: " + name)
sys.meta_path.insert(0, Block())
import lambdas.bar_handler, lambdas.order_events, lambdas.recorder, lambdas.api
import lambdas.backfill, lambdas.reconcile, lambdas.migrate, lambdas.daily_report
"""


def test_handlers_import_without_the_libraries_the_bundle_leaves_out() -> None:
    result = subprocess.run([sys.executable, "-c", BLOCKER], check=False, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
