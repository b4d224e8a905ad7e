"""Offline validation of STAC objects against the core and the vendored extension schemas."""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

import pystac
from pystac.validation import JsonSchemaSTACValidator

from ..errors import InputError

#: extension schema URI → vendored file (``stac/schemas``)
SCHEMAS = {
    'https://stac-extensions.github.io/projection/v2.0.0/schema.json': (
        'projection-v2.0.0.json'
    ),
    'https://stac-extensions.github.io/processing/v1.2.0/schema.json': (
        'processing-v1.2.0.json'
    ),
}


@functools.cache
def _validator() -> JsonSchemaSTACValidator:
    validator = JsonSchemaSTACValidator()
    folder = resources.files('torchgeo_cstf.stac') / 'schemas'
    for uri, name in SCHEMAS.items():
        validator.schema_cache[uri] = json.loads((folder / name).read_text())
    return validator


def validate(stac_object: pystac.STACObject | dict[str, Any]) -> None:
    """Validate an Item or Catalog (object or its JSON dict) without network access.

    Raises:
        InputError: the object breaks a schema (the message says which and where),
            or uses an extension whose schema is not vendored.
    """
    if isinstance(stac_object, dict):
        stac_object = pystac.read_dict(stac_object)
    unknown = [
        uri for uri in getattr(stac_object, 'stac_extensions', []) if uri not in SCHEMAS
    ]
    if unknown:
        raise InputError(
            str(stac_object.id), f'uses extensions without a vendored schema: {unknown}'
        )
    try:
        stac_object.validate(validator=_validator())
    except pystac.STACValidationError as err:
        raise InputError(str(stac_object.id), f'is not valid STAC: {err}') from None
