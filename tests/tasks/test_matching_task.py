from pathlib import Path

import torch
import yaml

from torchgeo_cstf.models.registry import get_weight
from torchgeo_cstf.models.weights import load_weights
from torchgeo_cstf.tasks import CSTFMatching

MEMBER = 'CSTFMatcherRegNetX004_Weights.REAL_AND_SYNTHETIC'


def test_fine_tuning_starts_from_the_named_weights() -> None:
    # TorchGeo's BaseTask keeps ``weights`` out of the hyperparameters: the task
    # must still load them (it once trained from scratch instead)
    state = load_weights(get_weight(MEMBER))
    task = CSTFMatching(backbone='regnetx_004', structure=True, weights=MEMBER)
    own = task.model.state_dict()
    assert own.keys() == state.keys()
    for key, value in state.items():
        assert torch.equal(own[key], value.to(own[key].dtype)), key


def test_band_adapters_that_do_not_fit_start_fresh() -> None:
    state = load_weights(get_weight(MEMBER))
    # without the structure channels the adapters read fewer input channels
    task = CSTFMatching(backbone='regnetx_004', structure=False, weights=MEMBER)
    own = task.model.state_dict()
    fresh = [k for k in state if k.startswith('adapters.') and k not in own]
    fresh += [
        k
        for k in state
        if k.startswith('adapters.') and k in own and own[k].shape != state[k].shape
    ]
    assert fresh  # some adapter weights could not be loaded
    loaded = [k for k in state if not k.startswith('adapters.')]
    for key in loaded:
        assert torch.equal(own[key], state[key].to(own[key].dtype)), key


def test_the_continued_config_starts_from_the_shipped_weights() -> None:
    config = yaml.safe_load(Path('configs/matching_real_continued.yaml').read_text())
    args = config['model']['init_args']
    assert args['weights'] == MEMBER
    task = CSTFMatching(**args)
    state = load_weights(get_weight(MEMBER))
    own = task.model.state_dict()
    assert all(torch.equal(own[k], v.to(own[k].dtype)) for k, v in state.items())
