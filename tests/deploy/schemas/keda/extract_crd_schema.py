"""Rebuild the vendored KEDA schemas from a checkout of kedacore/keda.

Usage (from the repository root)::

    python tests/deploy/schemas/keda/extract_crd_schema.py /path/to/keda

Keeps only the ``openAPIV3Schema`` of the served version of each CRD, with the
``description`` texts removed, so the files stay small.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).parent
CRDS = {
    'scaledobject.json': 'config/crd/bases/keda.sh_scaledobjects.yaml',
    'triggerauthentication.json': 'config/crd/bases/keda.sh_triggerauthentications.yaml',
}
SCHEMA_MAPS = ('properties', 'patternProperties', 'definitions')
SCHEMA_LISTS = ('allOf', 'anyOf', 'oneOf')
SCHEMA_ONE = ('items', 'additionalProperties', 'not')


def strip(schema: Any) -> Any:
    """The schema without its ``description`` keywords (property names kept)."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == 'description':
            continue
        if key in SCHEMA_MAPS:
            out[key] = {name: strip(sub) for name, sub in value.items()}
        elif key in SCHEMA_LISTS:
            out[key] = [strip(sub) for sub in value]
        elif key in SCHEMA_ONE:
            out[key] = strip(value)
        else:
            out[key] = value
    return out


def served_schema(crd: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The version name and ``openAPIV3Schema`` of the served, stored version."""
    versions = [v for v in crd['spec']['versions'] if v['served'] and v['storage']]
    (version,) = versions
    return version['name'], version['schema']['openAPIV3Schema']


def main(keda: Path) -> None:
    """Write the JSON schemas next to this script."""
    for target, source in CRDS.items():
        crd = yaml.safe_load((keda / source).read_text())
        name, schema = served_schema(crd)
        schema = strip(schema)
        schema['$comment'] = (
            f'{crd["spec"]["group"]}/{name} {crd["spec"]["names"]["kind"]}'
        )
        (HERE / target).write_text(json.dumps(schema, indent=1, sort_keys=True) + '\n')
        print(f'{target}: {source} ({name})')


if __name__ == '__main__':
    main(Path(sys.argv[1]))
