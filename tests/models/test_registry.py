from pathlib import Path

import pytest
import torch
from torchvision.models._api import Weights, WeightsEnum

from torchgeo_cstf.errors import InputError, InputNotFoundError, ModelNotFoundError
from torchgeo_cstf.models import (
    CSTFDetector,
    CSTFMatcher,
    get_model,
    get_model_weights,
    get_weight,
    list_models,
    load_weights,
    register_weights,
    registry,
)
from torchgeo_cstf.models.registry import cstf_detector_regnetx_002
from torchgeo_cstf.models.released import CSTFDetectorRegNetX002_Weights
from torchgeo_cstf.models.weights import load_checkpoint, read_checkpoint, sha256_of


def _weights_enum(path: Path, digest: str) -> type[WeightsEnum]:
    members = {
        'TEST': Weights(
            url=path.as_uri(),
            transforms=torch.nn.Identity,
            meta={'sha256': digest, 'model_kwargs': {'num_keypoints': 8, 'dim': 32}},
        )
    }
    return WeightsEnum('TinyMatcher_Weights', members)  # type: ignore[return-value]


def test_list_and_build() -> None:
    assert list_models() == [
        'cstf_detector_regnetx_002',
        'cstf_detector_resnet18',
        'cstf_detector_resnet50',
        'cstf_matcher_regnetx_004',
        'cstf_matcher_resnet18',
        'cstf_matcher_resnet50',
    ]
    model = get_model('cstf_matcher_resnet18', num_keypoints=16)
    assert isinstance(model, CSTFMatcher) and model.keypoints.num_keypoints == 16
    small = get_model('cstf_matcher_regnetx_004')
    assert isinstance(small, CSTFMatcher)
    assert small.trunk.feature_info.reduction() == [4, 16]
    detector = get_model('cstf_detector_resnet50', num_classes=15, channels=64)
    assert isinstance(detector, CSTFDetector) and detector.num_classes == 15
    assert detector.trunk.feature_info.channels() == [512, 1024, 2048]
    with pytest.raises(InputError, match='unknown model'):
        get_model('yolo')


def test_weights_with_hash_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch.manual_seed(0)
    source = CSTFMatcher(num_keypoints=8, dim=32)
    file = tmp_path / 'tiny.pth'
    torch.save(source.state_dict(), file)
    enum = _weights_enum(file, sha256_of(file))
    monkeypatch.setattr(registry, 'WEIGHTS', {})
    register_weights('cstf_matcher_resnet18', enum)
    assert get_weight('TinyMatcher_Weights.TEST') is enum.TEST
    model = get_model('cstf_matcher_resnet18', weights=enum.TEST)
    assert not model.training
    for name, value in source.state_dict().items():
        torch.testing.assert_close(model.state_dict()[name], value)
    same = get_model('cstf_matcher_resnet18', weights='TinyMatcher_Weights.TEST')
    torch.testing.assert_close(same.dustbin, source.dustbin)
    # a corrupted file is refused before loading
    file.write_bytes(file.read_bytes()[:-10] + b'0123456789')
    with pytest.raises(InputError, match='SHA-256'):
        load_weights(enum.TEST)
    with pytest.raises(InputError, match='unknown weights'):
        get_weight('Nope.X')
    missing = _weights_enum(tmp_path / 'absent.pth', 'ab')
    with pytest.raises(InputNotFoundError):
        load_weights(missing.TEST)


def test_lightning_checkpoint_and_mismatch(tmp_path: Path) -> None:
    source = CSTFMatcher(num_keypoints=8)
    ckpt = tmp_path / 'task.ckpt'
    torch.save(
        {'state_dict': {f'model.{k}': v for k, v in source.state_dict().items()}}, ckpt
    )
    model = get_model('cstf_matcher_resnet18', weights=ckpt, num_keypoints=8)
    torch.testing.assert_close(
        model.state_dict()['dustbin'], source.state_dict()['dustbin']
    )
    with pytest.raises(InputError, match='do not fit'):
        get_model('cstf_matcher_resnet18', weights=ckpt, dim=64)


def test_torchgeo_style_weights_api() -> None:
    """What a TorchGeo user writes: get_state_dict(), builders with weights=."""
    member = CSTFDetectorRegNetX002_Weights.SYNTHETIC
    state = member.get_state_dict(progress=True)  # torchvision's signature
    model = cstf_detector_regnetx_002(weights=member)
    assert set(state) == set(model.state_dict())
    torch.testing.assert_close(
        model.state_dict()['head.cls.weight'], state['head.cls.weight'].float()
    )
    assert not model.training and model.num_classes == 3
    by_name = cstf_detector_regnetx_002(
        weights='CSTFDetectorRegNetX002_Weights.HIT_UAV'
    )
    assert by_name.num_classes == 4
    assert cstf_detector_regnetx_002().training  # no weights: built only
    assert (
        get_model_weights('cstf_detector_regnetx_002') is CSTFDetectorRegNetX002_Weights
    )
    assert get_model_weights('cstf_matcher_regnetx_004').REAL.name == 'REAL'
    with pytest.raises(ModelNotFoundError, match='no released weights'):
        get_model_weights('cstf_detector_resnet50')
    with pytest.raises(ModelNotFoundError, match='unknown model'):
        get_model_weights('yolo')


def test_one_resolver_for_every_kind(tmp_path: Path) -> None:
    from torchgeo_cstf.models.registry import DETECTORS, MATCHERS, resolve_model

    # a checkpoint is built from the constructor arguments among its hyperparameters
    trained = CSTFDetector(backbone='regnetx_002', num_classes=2, channels=32)
    hparams = {'backbone': 'regnetx_002', 'num_classes': 2, 'channels': 32, 'lr': 1e-3}
    state = {f'model.{k}': v for k, v in trained.state_dict().items()}
    torch.save({'state_dict': state, 'hyper_parameters': hparams}, tmp_path / 'd.ckpt')
    found = resolve_model(tmp_path / 'd.ckpt', DETECTORS)
    assert found.name == 'd' and found.weights is None and found.hparams['lr'] == 1e-3
    assert not found.model.training
    torch.testing.assert_close(found.model.state_dict(), trained.state_dict())
    # released weights by registered name (the first member) or by weights name
    named = resolve_model('cstf_detector_regnetx_002', DETECTORS)
    assert named.weights is not None and named.weights.name == 'SYNTHETIC'
    # each says which file it was loaded from (results record the hash)
    assert named.sha256 == CSTFDetectorRegNetX002_Weights.SYNTHETIC.meta['sha256']
    assert found.sha256 == sha256_of(tmp_path / 'd.ckpt')
    assert resolve_model(trained, DETECTORS).sha256 is None
    assert resolve_model('CSTFMatcherRegNetX004_Weights.REAL', MATCHERS).name == (
        'cstf_matcher_regnetx_004'
    )
    # the same refusals for both kinds
    for kind, bare in (
        (DETECTORS, 'cstf_detector_resnet18'),
        (MATCHERS, 'cstf_matcher_resnet18'),
    ):
        with pytest.raises(ModelNotFoundError, match='has no released weights'):
            resolve_model(bare, kind)
        with pytest.raises(ModelNotFoundError, match=f'unknown {kind.noun}'):
            resolve_model('yolo', kind)
        with pytest.raises(ModelNotFoundError, match='no such checkpoint'):
            resolve_model(tmp_path / 'missing.ckpt', kind)
    # get_model reads a weights argument by the same rule
    with pytest.raises(ModelNotFoundError, match='no such checkpoint'):
        get_model('cstf_detector_regnetx_002', weights=str(tmp_path / 'missing.ckpt'))
    with pytest.raises(InputError, match='not a matcher'):
        resolve_model(trained, MATCHERS)
    with pytest.raises(InputError, match='not a detector'):
        resolve_model('CSTFMatcherRegNetX004_Weights.REAL', DETECTORS)
    # random weights only when asked for
    with pytest.warns(UserWarning, match='randomly initialised'):
        random = resolve_model('cstf_matcher_resnet18', MATCHERS, allow_random=True)
    assert isinstance(random.model, CSTFMatcher) and random.weights is None


def test_read_checkpoint_hashes_the_bytes_it_loads(tmp_path: Path) -> None:
    file = tmp_path / 'c.ckpt'
    torch.save({'state_dict': {'model.w': torch.arange(4.0)}, 'epoch': 3}, file)
    checkpoint = read_checkpoint(file)
    assert checkpoint.sha256 == sha256_of(file)
    assert checkpoint.content['epoch'] == 3
    torch.testing.assert_close(load_checkpoint(file)['w'], torch.arange(4.0))
    with pytest.raises(ModelNotFoundError, match='no such checkpoint'):
        read_checkpoint(tmp_path / 'absent.ckpt')
