"""`-o yaml` and `describe` print multi-line strings as YAML block scalars, as a person wrote
them, and what they print applies back unchanged."""
from __future__ import annotations

import yaml

from clitools import ok

POLICY = """\
name: multi
version: v1
type: policy
description: |
  Lets analysts read the lake.
  Reviewed every quarter.
policy:
  access:
    subjects: {tags: [[roles:id:analyst]]}
    predicates: [read]
    objects: {paths: [/poros/workspaces/public/**]}
"""


def test_multi_line_strings_print_as_block_scalars_and_apply_back(run_dataos, tmp_path):
    (tmp_path / "p.yaml").write_text(POLICY)
    ok(run_dataos("apply", "-f", tmp_path / "p.yaml"))
    shown = ok(run_dataos("get", "policy", "multi", "-o", "yaml")).stdout
    assert "description: |\n  Lets analysts read the lake.\n  Reviewed every quarter.\n" in shown
    assert yaml.safe_load(shown)["description"] == "Lets analysts read the lake.\nReviewed every quarter.\n"
    (tmp_path / "back.yaml").write_text(shown)
    assert "unchanged" in ok(run_dataos("apply", "-f", tmp_path / "back.yaml")).stdout
