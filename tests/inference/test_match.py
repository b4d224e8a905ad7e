from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib.patches import ConnectionPatch
from rasterio.enums import ColorInterp
from rasterio.windows import Window
from torch import Tensor

import torchgeo_cstf
from torchgeo_cstf.errors import InputError, ModelNotFoundError
from torchgeo_cstf.inference import fit_bands, load_image, match, plot_matches
from torchgeo_cstf.io import open_raster, pixel_to_map, read_window
from torchgeo_cstf.models import CSTFMatcher, Matches
from torchgeo_cstf.ops.homography import apply_homography
from torchgeo_cstf.synthetic import PairTruth, generate_pair


class OracleMatcher(CSTFMatcher):
    """A matcher that knows the true warp: it isolates match()'s plumbing.

    It answers in the pixels of the images it is given (downsampled by
    ``scale``), as a trained matcher would.
    """

    def __init__(self, warp: np.ndarray, scale: float) -> None:
        super().__init__(num_keypoints=8)
        self.warp = warp
        self.scale = scale

    def match(
        self, reference: Tensor, query: Tensor, min_confidence: float = 0.2
    ) -> list[Matches]:
        grid = np.stack(
            np.meshgrid(np.linspace(20, 100, 6), np.linspace(20, 100, 6)), -1
        )
        ref = grid.reshape(-1, 2)
        qry = apply_homography(self.warp, ref * self.scale) / self.scale
        return [
            Matches(torch.tensor(ref), torch.tensor(qry), torch.full((len(ref),), 0.9))
        ]


@pytest.fixture(scope='module')
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, PairTruth]:
    folder = tmp_path_factory.mktemp('pair')
    truth = generate_pair(
        folder / 'ref.tif',
        folder / 'query.tif',
        seed=3,
        size=(256, 256),
        warp='affine',
        scale=(1.0, 1.2),
        georef_error=8.0,
    )
    return folder / 'ref.tif', folder / 'query.tif', truth


def test_match_maps_back_to_full_resolution_and_the_reference_crs(
    pair: tuple[Path, Path, PairTruth],
) -> None:
    ref_path, query_path, truth = pair
    warp = truth.warp_matrix()
    # an identity prior: the CSTF matcher sees the query as it is; the true
    # warp is projective, so a homography is asked for (identity → affine)
    result = match(
        ref_path,
        query_path,
        OracleMatcher(warp, scale=2.0),
        method='cstf',
        prior=np.eye(3),
        transform_model='homography',
        max_size=128,
    )
    assert result.method == 'cstf'
    grid = np.stack(np.meshgrid(np.linspace(20, 100, 6), np.linspace(20, 100, 6)), -1)
    full = apply_homography(warp, grid.reshape(-1, 2) * 2.0)
    inside = ((full >= 0) & (full < 256)).all(
        axis=1
    )  # matches off the query are dropped
    assert 0 < len(result.matches) == inside.sum() < 36
    # matches come back in full-resolution pixels and obey the true warp
    mapped = apply_homography(warp, result.matches.ref_xy.numpy())
    np.testing.assert_allclose(mapped, result.matches.query_xy.numpy(), atol=1e-6)
    assert result.transform is not None and result.transform.num_inliers == len(
        result.matches
    )
    np.testing.assert_allclose(result.transform.matrix, warp, atol=1e-4)
    # tie points: reference map position vs where the query header puts it
    assert result.crs == 'EPSG:32633'
    ties = result.tie_points
    assert ties is not None and ties.shape == (len(result.matches), 4)
    x, _ = pixel_to_map(
        truth.reference.affine,
        result.matches.ref_xy[:, 0].numpy(),
        result.matches.ref_xy[:, 1].numpy(),
    )
    np.testing.assert_allclose(ties[:, 0], x)
    # the query header is off by 8 query pixels: the same map offset everywhere
    # (affine warp), equal to header minus exact georeference of any query pixel
    q = np.array([[100.0, 80.0]])
    exact = pixel_to_map(truth.reference.affine, *truth.query_to_reference(q).T)
    header = pixel_to_map(truth.query.affine, q[:, 0], q[:, 1])
    expected = np.array([header[0] - exact[0], header[1] - exact[1]]).ravel()
    np.testing.assert_allclose(ties[:, 2] - ties[:, 0], expected[0], atol=1e-6)
    np.testing.assert_allclose(ties[:, 3] - ties[:, 1], expected[1], atol=1e-6)
    assert 0.5 * 8 * truth.query.gsd < np.hypot(*expected) < 1.5 * 8 * truth.query.gsd


def test_arrays_bands_and_errors() -> None:
    image = (
        np.random.default_rng(0).integers(0, 4000, size=(2, 64, 80)).astype(np.uint16)
    )
    loaded = load_image(image, 128)
    assert loaded.pixels.shape == (2, 64, 80) and loaded.crs is None
    assert loaded.pixels.min() == 0.0 and loaded.pixels.max() == 1.0
    assert fit_bands(loaded.pixels, 1).shape == (1, 64, 80)
    np.testing.assert_allclose(fit_bands(loaded.pixels, 1)[0], loaded.pixels.mean(0))
    assert fit_bands(loaded.pixels, 3)[2].tolist() == loaded.pixels[1].tolist()
    result = match(
        torch.from_numpy(image.astype(np.float32)),
        image[0],
        CSTFMatcher(num_keypoints=16),
    )
    assert result.tie_points is None and result.crs is None
    with pytest.raises(InputError, match='max_size'):
        load_image(image, 64)
    with pytest.raises(InputError, match='image'):
        load_image(np.zeros((3, 10, 10)), 64)
    # random weights only on purpose: a name without released weights is refused
    with pytest.raises(ModelNotFoundError, match='has no released weights'):
        torchgeo_cstf.match(image, image, 'cstf_matcher_resnet50')


def test_plot_matches_shows_correctness(
    pair: tuple[Path, Path, PairTruth], tmp_path: Path
) -> None:
    ref_path, query_path, truth = pair
    warp = truth.warp_matrix()
    ref = torch.tensor(
        [[50.0, 60.0], [100.0, 120.0], [30.0, 200.0]], dtype=torch.float64
    )
    qry = torch.from_numpy(apply_homography(warp, ref.numpy()))
    qry[2] += 10.0  # one wrong match
    matches = Matches(ref, qry, torch.tensor([0.9, 0.8, 0.7]))
    figure = plot_matches(ref_path, query_path, matches, tmp_path / 'm.png', warp=warp)
    lines = [a for a in figure.artists if isinstance(a, ConnectionPatch)]
    colours = [line.get_edgecolor() for line in lines]
    assert len(lines) == 3
    assert colours[0] == colours[1] != colours[2]
    assert (
        '67% within 3 px' in figure.texts[0].get_text()
        if figure.texts
        else figure._suptitle.get_text()
    )
    assert (tmp_path / 'm.png').stat().st_size > 10_000


def test_resolve_matcher_from_names_checkpoints_and_state_dicts(tmp_path: Path) -> None:
    from torchgeo_cstf.errors import ModelNotFoundError
    from torchgeo_cstf.inference.matching import DEFAULT_MATCHER, resolve_matcher
    from torchgeo_cstf.models import get_model

    # a CSTFMatching checkpoint is rebuilt from its hyperparameters
    trained = CSTFMatcher(backbone='resnet18', query_channels=2, num_keypoints=16)
    hparams = {'backbone': 'resnet18', 'query_channels': 2, 'num_keypoints': 16}
    state = {f'model.{k}': v for k, v in trained.state_dict().items()}
    torch.save({'state_dict': state, 'hyper_parameters': hparams}, tmp_path / 'a.ckpt')
    loaded = resolve_matcher(tmp_path / 'a.ckpt')
    assert loaded.keypoints.num_keypoints == 16 and not loaded.training
    assert loaded.query_channels == 2
    torch.testing.assert_close(loaded.state_dict(), trained.state_dict())
    # a bare state dict is the default matcher's
    default = get_model(DEFAULT_MATCHER)
    torch.save(default.state_dict(), tmp_path / 'plain.pth')
    torch.testing.assert_close(
        resolve_matcher(str(tmp_path / 'plain.pth')).state_dict(), default.state_dict()
    )
    with pytest.raises(InputError, match='do not fit'):
        torch.save(trained.state_dict(), tmp_path / 'other.pth')
        resolve_matcher(tmp_path / 'other.pth')
    with pytest.raises(ModelNotFoundError, match='no such checkpoint'):
        resolve_matcher(tmp_path / 'missing.ckpt')
    with pytest.raises(ModelNotFoundError, match='unknown matcher'):
        resolve_matcher('sift')
    with pytest.raises(InputError, match='not a matcher'):
        resolve_matcher('CSTFDetectorRegNetX002_Weights.SYNTHETIC')


def test_unusual_photometric_tags_are_read_as_plain_bands(
    tmp_path: Path, bad_rasters: Callable[[Path], dict[str, Path]]
) -> None:
    bad = bad_rasters(tmp_path)
    whole = Window(0, 0, 64, 64)
    with open_raster(bad['plain']) as src:
        plain = read_window(src, whole).array
    # LogL (32844) and an undefined code (99): GDAL ignores the tag and reads
    # the stored numbers, bit for bit, as bands of undefined colour
    for name in ('logl', 'photometric_99'):
        with open_raster(bad[name]) as src:
            assert set(src.colorinterp) == {ColorInterp.undefined}
            np.testing.assert_array_equal(read_window(src, whole).array, plain)
        np.testing.assert_array_equal(
            load_image(bad[name], 64).pixels, load_image(bad['plain'], 64).pixels
        )
    # CIELab (8): GDAL decodes it (libtiff) to RGB and an opaque alpha band
    # and says so; colour, not the stored numbers, and not noise either: the
    # brightness follows the stored lightness L*
    with open_raster(bad['cielab']) as src:
        assert src.count == 4 and src.colorinterp[3] == ColorInterp.alpha
        assert src.tags(ns='IMAGE_STRUCTURE')['SOURCE_COLOR_SPACE'] == 'CIELAB'
        data = read_window(src, whole)
    assert data.valid.all() and (data.array[3] == 255).all()
    assert not np.array_equal(data.array[:3], plain)
    brightness = data.array[:3].astype(np.float64).mean(axis=0)
    assert np.corrcoef(plain[0].ravel(), brightness.ravel())[0, 1] > 0.5
    assert load_image(bad['cielab'], 64).pixels.shape == (4, 64, 64)
