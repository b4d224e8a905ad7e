"""``cstf models``: the registered models, their released weights and domains."""

from __future__ import annotations

import argparse
import json
from typing import Any


def model_catalogue() -> list[dict[str, Any]]:
    """Every registered model with its released weights (first: the default).

    Returns:
        One entry per model: ``name``, ``task`` (``detector`` or ``matcher``)
        and ``weights``, a list of ``name``, ``default``, ``domain`` (a
        :class:`~torchgeo_cstf.models.domain.Domain` as a dict, or a
        description), ``classes``, ``config`` and ``metrics``.
    """
    from ..models.domain import Domain
    from ..models.registry import WEIGHTS, list_models

    catalogue = []
    for name in list_models():
        members = list(WEIGHTS[name].__members__.values()) if name in WEIGHTS else []
        weights = []
        for position, member in enumerate(members):
            meta = member.value.meta
            domain = meta.get('domain')
            weights.append(
                {
                    'name': f'{type(member).__name__}.{member.name}',
                    'default': position == 0,
                    'domain': domain.as_dict()
                    if isinstance(domain, Domain)
                    else domain,
                    'summary': domain.describe()
                    if isinstance(domain, Domain)
                    else str(domain),
                    'classes': meta.get('classes'),
                    'config': meta.get('config'),
                    'metrics': meta.get('metrics', {}),
                }
            )
        task = 'detector' if name.startswith('cstf_detector') else 'matcher'
        catalogue.append({'name': name, 'task': task, 'weights': weights})
    return catalogue


def _models(args: argparse.Namespace) -> int:
    catalogue = model_catalogue()
    if args.json:
        print(json.dumps(catalogue, indent=1))
        return 0
    for model in catalogue:
        print(f'{model["name"]} ({model["task"]})')
        if not model['weights']:
            print('  no released weights: train one with a config in configs/')
        for weights in model['weights']:
            default = '  [default]' if weights['default'] else ''
            print(f'  {weights["name"]}{default}')
            print(f'    domain:  {weights["summary"]}')
            if weights['classes']:
                print(f'    classes: {", ".join(weights["classes"])}')
            print(f'    config:  {weights["config"]}')
            figures = ', '.join(f'{k} {v}' for k, v in weights['metrics'].items())
            if figures:
                print(f'    metrics: {figures}')
    return 0


def add_models_command(commands: Any) -> None:
    """Add ``cstf models`` to the sub-command parsers."""
    models = commands.add_parser(
        'models',
        help='list the models, their released weights and the imagery each knows',
    )
    models.add_argument('--json', action='store_true', help='print JSON')
    models.set_defaults(handler=_models)
