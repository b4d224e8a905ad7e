from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import torchgeo.datasets
from matplotlib.figure import Figure

from torchgeo_cstf.datamodules import CrossModalPairsDataModule, PairedRastersDataModule
from torchgeo_cstf.datasets import MODALITIES, CrossModalPairs, PairedRasters
from torchgeo_cstf.errors import InputError, InputNotFoundError
from torchgeo_cstf.io import percentile_stretch
from torchgeo_cstf.ops.homography import apply_homography, fit_homography
from torchgeo_cstf.synthetic.simulate import simulate_modality

DATA = Path(__file__).resolve().parents[1] / 'data'


def _warp_into_query(
    reference: np.ndarray, warp: np.ndarray, shape: tuple[int, int]
) -> np.ndarray:
    """Resample a (H, W) reference image into the query grid with the true warp."""
    shift = np.array([[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1.0]])
    unshift = np.array([[1, 0, -0.5], [0, 1, -0.5], [0, 0, 1.0]])
    matrix = unshift @ np.linalg.inv(warp) @ shift
    return cv2.warpPerspective(
        reference.astype(np.float32),
        matrix,
        shape[::-1],
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
    )


def _correlation(sample: dict, warp: np.ndarray | None = None) -> float:
    grey = sample['reference'].numpy().mean(axis=0)
    query = sample['query'].numpy()[0]
    valid = sample['query_valid'].numpy().copy()
    moved = _warp_into_query(
        grey, sample['warp'].numpy() if warp is None else warp, query.shape
    )
    valid &= moved > 0
    return float(np.corrcoef(moved[valid], query[valid])[0, 1])


def test_synthetic_pairs_are_exact_and_deterministic() -> None:
    data = CrossModalPairs(
        length=4, size=128, modalities=('optical',), time_change=0.0, scale=(0.8, 1.25)
    )
    sample = data[2]
    assert sample['reference'].shape == (3, 128, 128)
    assert sample['query'].shape == (1, 128, 128)
    assert sample['warp'].dtype == torch.float64
    assert MODALITIES[int(sample['modality'])] == 'optical'
    assert torch.equal(sample['query'], data[2]['query'])
    assert float(sample['query'].min()) >= 0.0 and float(sample['query'].max()) <= 1.0
    # the true warp aligns the images; the same warp off by 6 px does not
    assert _correlation(sample) > 0.8
    off = np.array([[1, 0, 6.0], [0, 1, 0], [0, 0, 1]]) @ sample['warp'].numpy()
    assert _correlation(sample, off) < _correlation(sample) - 0.2


def test_modalities_are_drawn_and_splits_differ() -> None:
    data = CrossModalPairs(length=12, size=64, split='val')
    seen = {MODALITIES[int(data[i]['modality'])] for i in range(12)}
    assert seen == {'optical', 'sar', 'thermal'}
    train = CrossModalPairs(length=1, size=64, split='train')
    assert not torch.equal(train[0]['reference'], data[0]['reference'])
    with pytest.raises(InputError, match='modalities'):
        CrossModalPairs(modalities=('lidar',))
    with pytest.raises(InputError, match='split'):
        CrossModalPairs(split='all')
    with pytest.raises(IndexError):
        data[12]


def test_pairs_from_real_rasters() -> None:
    for split in ('train', 'val', 'test'):
        data = CrossModalPairs(
            root=DATA / 'rasters',
            split=split,
            length=3,
            size=64,
            modalities=('optical',),
        )
        sample = data[0]
        assert sample['query'].shape == (1, 64, 64)
        # a later date: re-lit, hazy, coarser, objects moved — still the same ground
        assert _correlation(sample) > 0.6
    sar = CrossModalPairs(
        root=DATA / 'rasters', length=2, size=64, modalities=('sar',), scale=(0.5, 0.5)
    )[1]
    # zoomed out by 2, the query sees beyond the 96-px raster: those pixels are invalid
    assert not sar['query_valid'].all()
    assert (sar['query'][0][~sar['query_valid']] == 0).all()
    figure = CrossModalPairs(root=DATA / 'rasters', length=1, size=64).plot(sar)
    assert isinstance(figure, Figure)
    with pytest.raises(InputNotFoundError) as missing:
        CrossModalPairs(root=DATA / 'nowhere')
    assert isinstance(missing.value, torchgeo.datasets.DatasetNotFoundError)
    with pytest.raises(InputError, match='at least 128 pixels'):
        CrossModalPairs(root=DATA / 'rasters', length=1, size=128)


def test_paired_rasters_fit_the_checkpoints() -> None:
    data = PairedRasters(DATA / 'paired_rasters', split='test', size=96)
    truth = np.array([[0.93, 0.26, 6.0], [-0.24, 0.95, 40.0], [1.2e-4, -0.8e-4, 1.0]])
    np.testing.assert_allclose(data.homography(0), truth, rtol=1e-6, atol=1e-9)
    assert data.checkpoints(0).shape == (12, 4)
    assert len(data) == 2  # a 192x160 reference in 96-px tiles: one row of two
    for index in range(len(data)):
        sample = data[index]
        (left, top), (q_left, q_top) = sample['origin'].tolist()
        corner = apply_homography(sample['warp'].numpy(), np.array([[10.0, 20.0]]))[0]
        direct = apply_homography(truth, np.array([[left + 10.0, top + 20.0]]))[0]
        np.testing.assert_allclose(corner, direct - [q_left, q_top], atol=1e-6)
        assert _correlation(sample) > 0.9
    with pytest.raises(InputNotFoundError, match='pairs.csv'):
        PairedRasters(DATA / 'rasters')


def test_fit_homography_and_errors() -> None:
    rng = np.random.default_rng(0)
    truth = np.array([[1.1, 0.2, 300.0], [-0.1, 0.9, -20.0], [1e-5, 2e-5, 1.0]])
    points = rng.uniform(0, 5000, size=(20, 2))
    mapped = apply_homography(truth, points)
    np.testing.assert_allclose(
        fit_homography(points, mapped), truth, rtol=1e-6, atol=1e-9
    )
    # map-sized coordinates stay well conditioned
    far = points + np.array([500_000.0, 4_000_000.0])
    fitted = fit_homography(far[:8], mapped[:8])
    np.testing.assert_allclose(apply_homography(fitted, far), mapped, atol=1e-4)
    with pytest.raises(InputError, match='4 correspondences'):
        fit_homography(points[:3], mapped[:3])
    line = np.stack((np.arange(6.0), 2 * np.arange(6.0)), axis=1)
    with pytest.raises(InputError, match='degenerate'):
        fit_homography(line, line)


def test_simulated_modalities() -> None:
    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:64, 0:64] / 64.0
    image = np.stack([x, y, (x + y) / 2]).astype(np.float32)
    grey = image.mean(axis=0)
    thermal = simulate_modality(image, 'thermal', 1, rng)
    assert thermal.shape == (1, 64, 64)
    assert (
        np.corrcoef(thermal[0].ravel(), grey.ravel())[0, 1] < -0.9
    )  # contrast inverted
    sar = simulate_modality(image, 'sar', 2, rng)
    assert sar.shape == (2, 64, 64) and sar.min() >= 0 and sar.max() <= 1
    assert sar[0].std() > 0.02  # speckled
    optical = simulate_modality(image, 'optical', 3, rng)
    assert np.corrcoef(optical.mean(0).ravel(), grey.ravel())[0, 1] > 0.9
    with pytest.raises(InputError, match='bands'):
        simulate_modality(image, 'thermal', 2, rng)
    with pytest.raises(InputError, match='modality'):
        simulate_modality(image, 'lidar', 1, rng)


def test_percentile_stretch() -> None:
    band = np.arange(100, dtype=np.uint16).reshape(1, 10, 10) * 100
    valid = np.ones((10, 10), dtype=bool)
    valid[0, 0] = False
    out = percentile_stretch(band, valid, low=0, high=100)
    assert out[0, 0, 0] == 0.0
    assert out[0, 0, 1] == pytest.approx(0.0)
    assert out[0, -1, -1] == pytest.approx(1.0)
    assert out[0, 5, 0] == pytest.approx((5000 - 100) / (9900 - 100))
    with pytest.raises(InputError, match='percentiles'):
        percentile_stretch(band, low=50, high=10)


def test_pair_datamodules() -> None:
    datamodule = CrossModalPairsDataModule(
        batch_size=2, patch_size=64, train_length=2, val_length=2
    )
    datamodule.setup('fit')
    batch = next(iter(datamodule.train_dataloader()))
    assert batch['reference'].shape == (2, 3, 64, 64)
    assert batch['query'].shape == (2, 1, 64, 64)
    assert batch['warp'].shape == (2, 3, 3)
    assert datamodule.aug(batch) is batch
    real = PairedRastersDataModule(
        batch_size=2, patch_size=96, root=DATA / 'paired_rasters'
    )
    real.setup('test')
    batch = next(iter(real.test_dataloader()))
    assert batch['reference'].shape == (2, 3, 96, 96)
    assert batch['pair'].tolist() == [0, 0]


def test_presplit_folders_and_small_files(tmp_path: Path) -> None:
    from torchgeo_cstf.synthetic import synthesize_scene

    for index, (split, size) in enumerate(
        [('train', 160), ('train', 96), ('val', 160), ('test', 160)]
    ):
        image = synthesize_scene((size, size), seed=index).image
        folder = tmp_path / split / 'scene'
        folder.mkdir(parents=True, exist_ok=True)
        suffix = '.png' if split == 'train' else '.jpg'
        cv2.imwrite(
            str(folder / f'{index}{suffix}'), image.transpose(1, 2, 0)[..., ::-1]
        )
    train = CrossModalPairs(root=tmp_path, split='train', length=2, size=128)
    # the folder's own split; the 96-px image is too small for 128-px pairs
    assert [p.name for p in train.files] == ['0.png']
    assert [
        p.name for p in CrossModalPairs(root=tmp_path, split='val', size=128).files
    ] == ['2.jpg']
    sample = train[1]
    assert sample['reference'].shape == (3, 128, 128)
    with pytest.raises(InputError, match='at least 200 pixels'):
        CrossModalPairs(root=tmp_path, split='test', size=200)


def test_resampled_real_pairs_carry_the_exact_similarity() -> None:
    data = PairedRasters(
        DATA / 'paired_rasters',
        split='test',
        size=96,
        resample=True,
        shift=10.0,
        rotation=(-20.0, 20.0),
        scale=(0.9, 1.1),
    )
    for index in range(len(data)):
        sample = data[index]
        warp = sample['warp'].numpy()
        # a similarity: equal column norms, orthogonal columns, no perspective
        linear = warp[:2, :2]
        scale = np.linalg.norm(linear[:, 0])
        assert 0.9 - 1e-6 <= scale <= 1.1 + 1e-6
        assert abs(np.linalg.norm(linear[:, 1]) - scale) < 1e-9
        assert abs(linear[:, 0] @ linear[:, 1]) < 1e-9 and np.allclose(warp[2, :2], 0)
        assert abs(np.degrees(np.arctan2(linear[0, 1], linear[0, 0]))) <= 20 + 1e-6
        # the query is the real query raster, moved exactly by that similarity
        exact = _correlation(sample)
        assert exact > 0.9
        if index > 0:
            continue  # the second tile lies mostly off the query raster
        # and not a pixel off: every 2-pixel offset correlates less
        for dx, dy in ((2, 0), (-2, 0), (0, 2), (0, -2)):
            off = np.array([[1, 0, dx], [0, 1, dy], [0, 0, 1.0]]) @ warp
            assert _correlation(sample, off) < exact - 0.002
    again = data[1]
    torch.testing.assert_close(again['query'], data[1]['query'])  # deterministic


def test_real_fine_tune_mixes_synthetic_and_paired_pairs(tmp_path: Path) -> None:
    from torchgeo_cstf.synthetic import synthesize_scene

    for index, split in enumerate(['train', 'val', 'test']):
        folder = tmp_path / split
        folder.mkdir()
        image = synthesize_scene((96, 96), seed=index).image
        cv2.imwrite(str(folder / f'{index}.png'), image.transpose(1, 2, 0)[..., ::-1])
    datamodule = CrossModalPairsDataModule(
        batch_size=2,
        patch_size=64,
        train_length=4,
        val_length=2,
        synthetic_pairs=3,
        paired_roots=[str(DATA / 'paired_rasters')],
        root=tmp_path,
        rotation=(-10.0, 10.0),
    )
    datamodule.setup('fit')
    train = datamodule.train_dataset
    assert isinstance(train, torch.utils.data.ConcatDataset)
    simulated, generated, paired = train.datasets
    assert isinstance(simulated, CrossModalPairs) and simulated.files
    assert isinstance(generated, CrossModalPairs) and not generated.files
    assert isinstance(paired, PairedRasters)
    assert (len(simulated), len(generated)) == (4, 3)
    assert len(train) == 7 + len(paired)
    # the joined synthetic pairs are the generator's, with the same warp ranges
    alone = CrossModalPairs(split='train', length=3, size=64, rotation=(-10.0, 10.0))
    for index in range(3):
        mixed, expected = train[4 + index], alone[index]
        assert set(mixed) == {'reference', 'query', 'query_valid', 'warp', 'modality'}
        torch.testing.assert_close(mixed['reference'], expected['reference'])
        torch.testing.assert_close(mixed['warp'], expected['warp'])
        linear = expected['warp'].numpy()[:2, :2]
        angle = np.degrees(np.arctan2(linear[1, 0], linear[0, 0]))
        assert abs(angle) <= 10 + 5  # rotation range, plus the homography's shear
    # validation stays on the real folder
    assert isinstance(datamodule.val_dataset, CrossModalPairs)
    assert datamodule.val_dataset.files == [tmp_path / 'val' / '1.png']
    batch = next(iter(datamodule.train_dataloader()))
    assert batch['reference'].shape == (2, 3, 64, 64)


def test_synthetic_pairs_need_a_real_folder() -> None:
    with pytest.raises(InputError, match='synthetic_pairs.*give root'):
        CrossModalPairsDataModule(synthetic_pairs=10)
    with pytest.raises(InputError, match='synthetic_pairs.*0 or more'):
        CrossModalPairsDataModule(synthetic_pairs=-1, root='anywhere')
