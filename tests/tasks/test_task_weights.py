"""Both tasks start from the weights they are given.

TorchGeo's ``BaseTask`` keeps ``weights`` out of the saved hyperparameters;
``CSTFMatching`` once read them there and trained every config from a random
initialisation.
"""

from pathlib import Path
from typing import Any

import torch
import yaml
from torch import Tensor, nn

from torchgeo_cstf.models.registry import get_weight
from torchgeo_cstf.models.weights import load_weights
from torchgeo_cstf.tasks import CSTFDetection, CSTFMatching


def _model_args(config: str) -> dict[str, Any]:
    args: dict[str, Any] = yaml.safe_load(Path(config).read_text())['model'][
        'init_args'
    ]
    return args


def _not_loaded(
    model: nn.Module, state: dict[str, Tensor], fresh: tuple[str, ...]
) -> list[str]:
    """Keys outside ``fresh`` whose parameters differ from ``state``'s."""
    own = model.state_dict()
    return [
        key
        for key, value in state.items()
        if not key.startswith(fresh)
        and not torch.equal(own[key], value.to(own[key].dtype))
    ]


def test_the_continued_matching_config_starts_from_its_weights() -> None:
    args = _model_args('configs/matching_real_continued.yaml')
    task = CSTFMatching(**args)
    state = load_weights(get_weight(args['weights']))
    assert task.model.state_dict().keys() == state.keys()
    assert _not_loaded(task.model, state, ()) == []


def test_matcher_adapters_that_do_not_fit_start_fresh() -> None:
    member = 'CSTFMatcherRegNetX004_Weights.REAL_AND_SYNTHETIC'
    state = load_weights(get_weight(member))
    # without the structure channels the adapters read fewer input channels
    task = CSTFMatching(backbone='regnetx_004', structure=False, weights=member)
    own = task.model.state_dict()
    assert any(
        key not in own or own[key].shape != state[key].shape
        for key in state
        if key.startswith('adapters.')
    )
    assert _not_loaded(task.model, state, ('adapters.',)) == []


def test_the_hit_uav_config_starts_from_the_synthetic_detector() -> None:
    args = _model_args('configs/hit_uav_cstf.yaml')
    task = CSTFDetection(**args)
    state = load_weights(get_weight(args['weights']))
    fresh = tuple(args['fresh'])
    assert _not_loaded(task.model, state, fresh) == []
    # the class logits start fresh, shaped for HIT-UAV's 4 classes
    own = task.model.state_dict()
    assert any(own[k].shape != state[k].shape for k in own if k.startswith(fresh))
