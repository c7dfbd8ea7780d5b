"""The catalog's vocabulary: entity URNs and aspects.

An entity is a dataset (`dataos://depot:collection/dataset`, its UDL) or a resource
(`resource://WORKSPACE/TYPE/NAME`, WORKSPACE `instance` for instance-level types). Columns
are not entities: they live in their dataset's aspects, keyed by column name, and are
addressed `UDL#column` by users.

Aspects are JSON values, each versioned on its own (a write that changes nothing makes no
version):

    schema       {"columns": [{"name", "type", "nullable"}]}
    properties   {"rows", "bytes", "format", "fingerprint", "scanned"}
    profile      {"sampled": bool, "sample_rows": int,
                  "columns": {name: {"min", "max", "null_pct", "distinct", "top": [[value, count], ...]}}}
    suggestions  {"columns": {name: ["PII.Email", ...]}}          (never applied by themselves)
    tags         {"dataset": [tag, ...], "columns": {name: [tag, ...]}}
    description  {"dataset": text, "columns": {name: text}}
    ownership    {"owner": user}
    glossary     {"terms": [term, ...]}
    lineage      {"upstream": [{"urn", "via", "columns": {column: [[urn, column], ...]}}]}
    resource     {"type", "workspace", "name", "owner", "tags", "description", "generation", "status"}
    usage        {"queries": int, "last": time}                   (from query history; a search boost)
    quality      {"time", "by", "passed": int, "failed": int, "filtered": [policy, ...],
                  "results": [{"rule", "passed": bool, "failed_rows": int, "total_rows": int, "detail",
                               "columns": [name, ...]}]}            (the last data quality check run;
                  `filtered` names the row filters the runner's rows went through)

Tier is a tag `Tier.<name>` (`Tier.Gold`), as in OpenMetadata.
"""
from __future__ import annotations

from dataclasses import dataclass

ASPECTS = ("schema", "properties", "profile", "suggestions", "tags", "description", "ownership", "glossary",
           "lineage", "resource", "usage", "quality")
DATASET, RESOURCE = "dataset", "resource"


@dataclass(frozen=True)
class Ref:
    """What a user names: an entity, optionally one of its columns (`UDL#column`)."""
    urn: str
    column: str | None = None

    @classmethod
    def parse(cls, text: str) -> "Ref":
        urn, _, column = text.partition("#")
        return cls(urn, column or None)


def kind_of(urn: str) -> str:
    return RESOURCE if urn.startswith("resource://") else DATASET


def resource_urn(type_name: str, name: str, workspace: str | None) -> str:
    return f"resource://{workspace or 'instance'}/{type_name}/{name}"
