"""Write and read vector features with a CRS and attributes (fiona).

GeoPackage (``.gpkg``, the default) and GeoJSON (``.geojson``/``.json``) are
supported. Files are written atomically: a crash never leaves a half-written file
under the final name.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fiona
import fiona.crs
import pyproj
from fiona.errors import FionaError
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry

from ..errors import InputError, InputNotFoundError, OutputError
from .atomic import atomic_output
from .coords import parse_crs

PropertyValue = int | float | str | bool | None

#: File suffix → fiona driver.
DRIVERS: dict[str, str] = {'.gpkg': 'GPKG', '.geojson': 'GeoJSON', '.json': 'GeoJSON'}

_FIONA_TYPES: dict[type, str] = {bool: 'bool', int: 'int', float: 'float', str: 'str'}


@dataclass(frozen=True)
class Feature:
    """One geometry with its attributes.

    Attributes:
        geometry: a shapely geometry in the layer's CRS.
        properties: attribute name → value (int, float, str, bool or None).
    """

    geometry: BaseGeometry
    properties: Mapping[str, PropertyValue] = field(default_factory=dict)


def driver_for(path: str | os.PathLike[str]) -> str:
    """Pick the fiona driver from a file suffix.

    Args:
        path: an output path.

    Returns:
        The driver name.

    Raises:
        InputError: for an unknown suffix.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in DRIVERS:
        raise InputError(
            path, f'unknown vector format {suffix!r}; use one of {sorted(DRIVERS)}'
        )
    return DRIVERS[suffix]


def infer_schema(features: Sequence[Feature]) -> dict[str, str]:
    """Infer fiona property types from the features' values.

    Ints mixed with floats become float; ``None`` is allowed in any field.

    Args:
        features: features that share the same attribute names.

    Returns:
        Attribute name → fiona type name, in the first feature's order.

    Raises:
        InputError: when features have different attribute names or a value of an
            unsupported or inconsistent type.
    """
    if not features:
        return {}
    names = list(features[0].properties)
    kinds: dict[str, str | None] = dict.fromkeys(names)
    for index, feature in enumerate(features):
        if list(feature.properties) != names:
            raise InputError(
                f'features[{index}]',
                f'has attributes {list(feature.properties)}, expected {names}',
            )
        for name, value in feature.properties.items():
            if value is None:
                continue
            kind = _FIONA_TYPES.get(type(value))
            if kind is None:
                raise InputError(
                    f'features[{index}].{name}',
                    f'value of type {type(value).__name__} cannot be stored',
                )
            previous = kinds[name]
            if previous is None or previous == kind:
                kinds[name] = kind
            elif {previous, kind} == {'int', 'float'}:
                kinds[name] = 'float'
            else:
                raise InputError(
                    f'features[{index}].{name}',
                    f'is {kind} but earlier features have {previous}',
                )
    return {name: kind or 'str' for name, kind in kinds.items()}


def _geometry_type(features: Sequence[Feature]) -> str:
    kinds = {f.geometry.geom_type for f in features}
    return kinds.pop() if len(kinds) == 1 else 'Unknown'


def write_layers(
    path: str | os.PathLike[str],
    layers: Mapping[str, Sequence[Feature]],
    *,
    crs: Any,
    schemas: Mapping[str, Mapping[str, str]] | None = None,
    geometry_types: Mapping[str, str] | None = None,
) -> Path:
    """Write several named layers into one file, atomically.

    Args:
        path: output path; its suffix selects the format (GeoJSON holds one
            layer only).
        layers: layer name → features.
        crs: CRS of all geometries (any form :func:`parse_crs` accepts).
        schemas: optional attribute schema per layer (needed to give an empty
            layer its fields); inferred from the features otherwise.
        geometry_types: optional geometry type per layer (``Polygon``,
            ``Point`` …); inferred otherwise (empty layers: ``Unknown``).

    Returns:
        The written path.

    Raises:
        InputError: bad format, more than one layer for GeoJSON, no layers, or
            inconsistent attributes.
        OutputError: when the file cannot be written.
    """
    driver = driver_for(path)
    if not layers:
        raise InputError('layers', 'at least one layer is needed')
    if driver == 'GeoJSON' and len(layers) != 1:
        raise InputError(path, 'GeoJSON holds exactly one layer; use .gpkg')
    fiona_crs = fiona.crs.CRS.from_wkt(parse_crs(crs).to_wkt())
    with atomic_output(path) as tmp:
        for name, features in layers.items():
            schema = {
                'geometry': (geometry_types or {}).get(name)
                or _geometry_type(features),
                'properties': dict((schemas or {}).get(name) or infer_schema(features)),
            }
            options: dict[str, Any] = {'layer': name} if driver == 'GPKG' else {}
            try:
                with fiona.open(
                    tmp, 'w', driver=driver, crs=fiona_crs, schema=schema, **options
                ) as sink:
                    sink.writerecords(
                        fiona.Feature(
                            geometry=fiona.Geometry.from_dict(
                                mapping(feature.geometry)
                            ),
                            properties=fiona.Properties(**feature.properties),
                        )
                        for feature in features
                    )
            except (FionaError, OSError) as err:
                raise OutputError(
                    f'{path}: cannot write layer {name!r} ({err})'
                ) from err
    return Path(path)


def write_features(
    path: str | os.PathLike[str],
    features: Sequence[Feature],
    *,
    crs: Any,
    layer: str | None = None,
    schema: Mapping[str, str] | None = None,
    geometry_type: str | None = None,
) -> Path:
    """Write one layer of features with a CRS, atomically.

    Args:
        path: ``.gpkg`` (GeoPackage) or ``.geojson``.
        features: the features.
        crs: CRS of the geometries.
        layer: layer name (default: the file stem).
        schema: attribute schema (inferred from the features when omitted).
        geometry_type: geometry type (inferred when omitted).

    Returns:
        The written path.
    """
    name = layer or Path(path).stem
    return write_layers(
        path,
        {name: features},
        crs=crs,
        schemas=None if schema is None else {name: schema},
        geometry_types=None if geometry_type is None else {name: geometry_type},
    )


def read_features(
    path: str | os.PathLike[str], *, layer: str | None = None
) -> tuple[list[Feature], pyproj.CRS]:
    """Read a vector layer back as features and its CRS.

    Args:
        path: a GeoPackage or GeoJSON file.
        layer: layer name (default: the first layer).

    Returns:
        The features and the layer's CRS.

    Raises:
        InputNotFoundError: no such file.
        InputError: not a readable vector file, or no such layer.
    """
    name = os.fspath(path)
    if not os.path.exists(name):
        raise InputNotFoundError(name, 'no such file')
    try:
        if layer is not None and layer not in fiona.listlayers(name):
            raise InputError(name, f'has no layer {layer!r}')
        with fiona.open(name, layer=layer) as source:
            crs = parse_crs(source.crs.to_wkt(), subject=name)
            features = [
                Feature(
                    geometry=shape(dict(record.geometry)),
                    properties=dict(record.properties),
                )
                for record in source
            ]
    except FionaError as err:
        raise InputError(name, f'not a readable vector file ({err})') from err
    return features, crs


def list_layers(path: str | os.PathLike[str]) -> list[str]:
    """Names of the layers in a vector file.

    Args:
        path: a GeoPackage or GeoJSON file.

    Returns:
        Layer names in file order.
    """
    name = os.fspath(path)
    if not os.path.exists(name):
        raise InputNotFoundError(name, 'no such file')
    try:
        return list(fiona.listlayers(name))
    except FionaError as err:
        raise InputError(name, f'not a readable vector file ({err})') from err
