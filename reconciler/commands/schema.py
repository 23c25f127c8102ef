"""`reconciler schema`: print the JSON Schema of environment.yaml / service.yaml.

Editors use it through yaml-language-server, e.g.
`reconciler schema --def service > .schema/service.json` and, in service.yaml,
`# yaml-language-server: $schema=../../../.schema/service.json`.
"""
from __future__ import annotations

import argparse
import json
from typing import Any

from reconciler.manifests import schema
from reconciler.manifests.schema import DEFINITIONS


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "schema", help="print the JSON Schema (draft 2020-12) of environment.yaml and service.yaml",
        description="Print the manifests' JSON Schema for editors (yaml-language-server) and CI.")
    parser.add_argument("--def", dest="definition", choices=DEFINITIONS, default=None,
                        help="print one definition as a standalone schema (e.g. environment, service)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    print(json.dumps(schema(args.definition), indent=2))
    return 0
