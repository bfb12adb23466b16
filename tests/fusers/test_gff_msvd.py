"""GFF and MSVD: filters and decompositions on known values, the fusers through the writer, and
the VIFB comparison with the images the authors' MATLAB code made (``../shared/data/vifb``)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from psfusion.data.io import read_infrared, read_visible
from psfusion.data.synthetic import write_synthetic_dataset
from psfusion.fusers import FusingError, build_fuser
from psfusion.fusers.gff import GFFFuser, box_mean, box_sum, gaussian_factor, gff_combine, \
    gff_rgb, gff_weights, guided_filter, jpeg_roundtrip, separable_imfilter, window_counts
from psfusion.fusers.matlab import fspecial_gaussian, imfilter, to_uint8
from psfusion.fusers.msvd import MSVDFuser, msvd_basis, msvd_blocks, msvd_fuse_plane, \
    msvd_unblocks
from psfusion.fusing import fuse_dataset, fused_rgb

RNG = np.random.default_rng(0)


def as_input(image: np.ndarray) -> torch.Tensor:
    """An ``H x W`` or ``H x W x C`` uint8 image as a writer input: ``1 x C x H x W`` / 255."""
    planes = image[None] if image.ndim == 2 else image.transpose(2, 0, 1)
    return torch.from_numpy(np.array(planes, np.float32))[None] / 255


def as_image(fused: torch.Tensor) -> np.ndarray:
    """A ``1 x 3 x H x W`` uint8 output -> ``H x W x 3``."""
    assert fused.dtype == torch.uint8 and fused.shape[:2] == (1, 3)
    return fused[0].permute(1, 2, 0).numpy()


def pair(h: int = 24, w: int = 30, seed: int = 0) -> tuple:
    gen = np.random.default_rng(seed)
    return gen.integers(0, 256, (h, w), np.uint8), gen.integers(0, 256, (h, w, 3), np.uint8)


# ------------------------------------------------------------------------------ GFF filters
@pytest.mark.parametrize('r', [1, 3, 12])   # 12: a window larger than the whole image
def test_box_sum_truncates_the_window_at_the_border(r):
    x = RNG.random((7, 9))
    expected = np.array([[x[max(i - r, 0):i + r + 1, max(j - r, 0):j + r + 1].sum()
                          for j in range(9)] for i in range(7)])
    np.testing.assert_allclose(box_sum(x, r), expected, rtol=1e-13, atol=1e-13)
    counts = window_counts(7, 9, r)
    assert counts[3, 4] == min(2 * r + 1, 7) * min(2 * r + 1, 9)
    assert counts[0, 0] == min(r + 1, 7) * min(r + 1, 9)
    np.testing.assert_allclose(box_mean(np.full((2, 7, 9), 0.3), r), 0.3, rtol=1e-14)


def test_guided_filter_known_values():
    guide = RNG.random((20, 25))
    # a constant input stays constant whatever the guide
    np.testing.assert_allclose(guided_filter(guide, np.full_like(guide, 0.7), 4, 0.3), 0.7,
                               rtol=1e-12)
    # the guide filtering itself with a tiny eps is (nearly) the identity: a ~ 1, b ~ 0
    np.testing.assert_allclose(guided_filter(guide, guide, 2, 1e-9), guide, atol=1e-6)
    # a huge eps: a ~ 0, b ~ mean(p): the box mean of the box mean of the input
    src = RNG.random((20, 25))
    np.testing.assert_allclose(guided_filter(guide, src, 2, 1e9),
                               box_mean(box_mean(src, 2), 2), atol=1e-9)
    # planes of a stack are filtered on their own
    stack = guided_filter(np.stack([guide, RNG.random((20, 25))]), np.stack([src, src]), 3, 0.1)
    np.testing.assert_allclose(stack[0], guided_filter(guide, src, 3, 0.1), rtol=1e-13)


def test_separable_filter_is_matlab_imfilter_and_keeps_exact_zeros():
    g = gaussian_factor(11, 5)
    np.testing.assert_allclose(np.outer(g, g), fspecial_gaussian(11, 5), rtol=1e-14)
    x = RNG.random((40, 50))
    x[:, :20] = 0                                   # a flat zero region wider than the kernel
    ours = separable_imfilter(x, g, g, 'replicate')
    np.testing.assert_allclose(ours, imfilter(x, fspecial_gaussian(11, 5), 'replicate'),
                               atol=1e-14)
    # MATLAB's ties (both saliencies exactly 0) need exact zeros, which a DFT filter loses
    assert (ours[:, :14] == 0).all()
    box = np.full(31, 1 / 31)
    np.testing.assert_allclose(separable_imfilter(x, box, box, 'zero'),
                               imfilter(x, np.full((31, 31), 1 / 961)), atol=1e-14)


def test_gff_of_identical_sources_is_the_source():
    # equal saliencies: the first source gets every pixel, its weights are 1 (+1e-12 each)
    grey = RNG.random((30, 40))
    w_base, w_detail = gff_weights(np.stack([grey, grey]))
    np.testing.assert_allclose(w_base[0], 1, atol=1e-11)
    np.testing.assert_allclose(w_detail[1], 0, atol=1e-11)
    image = RNG.integers(0, 256, (30, 40, 3), np.uint8)
    assert (to_uint8(gff_rgb(image, image) * 255) == image).all()


def test_gff_weights_follow_saliency():
    # a textured left half in source 0, a textured right half in source 1, flat elsewhere
    flat = np.full((40, 80), 0.5)
    left, right = flat.copy(), flat.copy()
    left[:, :40] = RNG.random((40, 40))
    right[:, 40:] = RNG.random((40, 40))
    _, w_detail = gff_weights(np.stack([left, right]))
    assert w_detail[0][:, :30].min() > 0.9 and w_detail[1][:, 50:].min() > 0.9
    fused = gff_combine(np.stack([left, right])[:, None], *gff_weights(np.stack([left, right])))
    assert fused.shape == (1, 40, 80)
    assert np.corrcoef(fused[0][:, :30].ravel(), left[:, :30].ravel())[0, 1] > 0.9
    assert np.corrcoef(fused[0][:, 50:].ravel(), right[:, 50:].ravel())[0, 1] > 0.9


def test_jpeg_roundtrip_keeps_shape_and_changes_values():
    ir, vi = pair(32, 40)
    for image in (ir, vi):
        back = jpeg_roundtrip(image, 75)
        assert back.shape == image.shape and back.dtype == np.uint8
        assert 0 < np.abs(back.astype(int) - image).mean() < 128


# ----------------------------------------------------------------------------- MSVD parts
def test_msvd_blocks_are_matlab_column_major():
    x = np.arange(24, dtype=float).reshape(4, 6)
    a = msvd_blocks(x)
    assert a.shape == (4, 6)
    assert a[:, 0].tolist() == [0, 6, 1, 7]        # block (0, 0): x00, x10, x01, x11
    assert a[:, 1].tolist() == [12, 18, 13, 19]    # block (1, 0): the next block down
    assert a[:, 2].tolist() == [2, 8, 3, 9]        # block (0, 1)
    assert (msvd_unblocks(a, 4, 6) == x).all()


def test_msvd_basis_is_the_svd():
    a = msvd_blocks(RNG.random((40, 50)))
    u = msvd_basis(a)
    np.testing.assert_allclose(u.T @ u, np.eye(4), atol=1e-12)
    singular = np.linalg.norm(u.T @ a, axis=1)      # the rows of T = U'A, descending
    assert (np.diff(singular) < 0).all()
    np.testing.assert_allclose(singular, np.linalg.svd(a, compute_uv=False), rtol=1e-10)


@pytest.mark.parametrize('hw', [(32, 40), (31, 45)])
def test_msvd_of_identical_planes_is_the_plane(hw):
    x = RNG.random(hw)
    np.testing.assert_allclose(msvd_fuse_plane(x, x), x, atol=1e-12)


def test_msvd_known_values():
    # two constants: no detail, the approximation band is their mean (signs agree)
    np.testing.assert_allclose(msvd_fuse_plane(np.full((8, 10), .2), np.full((8, 10), .6)), .4,
                               atol=1e-12)
    # a plane and its double share U: LL = 1.5 x the plane's, details = 2 x the plane's
    x = RNG.random((16, 20))
    a = msvd_blocks(x)
    u0 = msvd_basis(a)[:, :1]
    expected = 2 * x - 0.5 * msvd_unblocks(u0 @ (u0.T @ a), 16, 20)
    np.testing.assert_allclose(msvd_fuse_plane(x, 2 * x), expected, atol=1e-12)
    # odd sizes: padded by repeating the last row/column, cropped back
    odd = msvd_fuse_plane(RNG.random((15, 21)), RNG.random((15, 21)))
    assert odd.shape == (15, 21)


# ------------------------------------------------------------------------------- fusers
@pytest.mark.parametrize('name', ['gff', 'msvd'])
def test_fuser_defaults_colour_modes_and_batches(name):
    fuser = build_fuser(dict(type=name, device='cpu'))   # what tools/fuse.py builds
    assert fuser.name == name and fuser.identity()['colour'] == 'y'
    assert fuser.complexity(480, 640) == dict(params=0, macs=0, input_hw=[480, 640],
                                              note=fuser.note)
    ir1, vi1 = pair(31, 45, seed=1)
    ir2, vi2 = pair(31, 45, seed=2)
    ir = torch.cat([as_input(ir1), as_input(ir2)])
    vi = torch.cat([as_input(vi1), as_input(vi2)])
    y = fuser.fuse(ir, vi).fused
    assert y.shape == (2, 1, 31, 45) and y.dtype == torch.float32
    assert 0 <= y.min() and y.max() <= 1
    assert torch.equal(fuser.fuse(ir[1:], vi[1:]).fused[0], y[1])   # batch-independent
    rgb = build_fuser(dict(type=name, colour='rgb')).fuse(ir, vi).fused
    assert rgb.shape == (2, 3, 31, 45) and rgb.dtype == torch.uint8
    # identical sources (the infrared equal to every visible channel) come back unchanged
    grey = as_input(ir1)
    same = build_fuser(dict(type=name, colour='rgb')).fuse(grey, grey.expand(1, 3, 31, 45))
    assert (as_image(same.fused) == ir1[..., None]).all()
    with pytest.raises(FusingError, match="colour must be one of y, rgb, got 'lab'"):
        build_fuser(dict(type=name, colour='lab'))


def test_gff_jpeg_option_is_rgb_only_and_changes_the_result():
    with pytest.raises(FusingError, match="jpeg_quality.*colour='rgb'"):
        GFFFuser(jpeg_quality=75)
    ir, vi = pair(32, 40)
    plain = GFFFuser(colour='rgb').fuse(as_input(ir), as_input(vi)).fused
    reencoded = GFFFuser(colour='rgb', jpeg_quality=75).fuse(as_input(ir), as_input(vi)).fused
    assert GFFFuser(colour='rgb', jpeg_quality=75).identity()['jpeg_quality'] == 75
    assert not torch.equal(plain, reencoded)


@pytest.mark.parametrize('name', ['gff', 'msvd'])
def test_fuse_dataset_writes_each_pair(name, tmp_path):
    src, out = tmp_path / 'src', tmp_path / 'out'
    write_synthetic_dataset(str(src), num_train=1, num_test=2, num_val=0, height=32, width=40)
    summary = fuse_dataset(name, str(src), 'msrs', str(out), split='test', progress=False)
    assert (summary.method, summary.written, summary.skipped) == (name, 2, 0)
    manifest = json.loads((out / 'manifest.json').read_text())
    assert manifest['complete'] and manifest['method'] == name
    assert (manifest['params'], manifest['macs']) == (0, 0)
    assert manifest['colour'].startswith('fused Y + visible CbCr')
    assert manifest['identity'] == build_fuser(name).identity()
    fuser = build_fuser(name)
    for stem in sorted(p.stem for p in (src / 'test' / 'vi').iterdir()):
        ir = read_infrared(str(src / 'test' / 'ir' / f'{stem}.png'))
        vi = read_visible(str(src / 'test' / 'vi' / f'{stem}.png'))
        ir_t, vi_t = as_input(ir.reshape(ir.shape[:2])), as_input(vi)
        expected = fused_rgb(fuser.fuse(ir_t, vi_t).fused, vi_t, name)[0]
        written = np.asarray(Image.open(out / 'test' / 'fused' / f'{stem}.png'))
        assert written.shape == (32, 40, 3) and (written == expected).all()


# ------------------------------------------------------------------- VIFB (MATLAB) outputs
#: What the comparison reaches (see VIFB_NOTES); asserted with a small margin.
#:   GFF: before our JPEG mean 44.21 dB, min 29.33; after Pillow q75, 16 of 21 bit-identical,
#:        min 38.82 dB (labMan).
#:   MSVD: before mean 37.72 dB, min 22.83 (peopleshadow); after, 15 of 21 bit-identical.
THRESHOLDS = dict(gff=dict(mean=44.0, min=29.0, exact=16, min_after=38.5),
                  msvd=dict(mean=37.5, min=22.5, exact=15, min_after=22.5))
VIFB_NOTES = """
Inputs: VIFB's JPEGs decoded by Pillow as stored: 17 infrared images are RGB (3 channels, fused
as such), 4 are grey (manWalking, running, walking2, walkingnight).
GFF: run_GFF.m re-encodes both inputs as JPEG q75 (jpeg_quality=75: Pillow's libjpeg-turbo turns
out bit-identical to MATLAB's here).  For a grey infrared image, VIFB's load_images writes it
into page 2 of the 4-D array, i.e. over the visible GREEN channel, and the second source stays
all zeros: GFF then returns the visible image with green = infrared.  The test reproduces that
harness bug for those 4 pairs.  Remaining differences (5 pairs): flat regions where both
saliency maps are exactly 0: MATLAB's max() gives ties to the first (visible) source, but the
MATLAB outputs show the infrared winning some of them, i.e. its filtering leaves rounding noise
there (an FFT path); that noise cannot be reproduced (OpenCV's DFT noise fixes 5 pairs and
breaks 3), so exact ties go to the visible image as the code says.
MSVD: VIFB's grey-infrared branch pairs the grey image with every visible channel (= repeating
it).  The output depends on MATLAB's (MKL's) singular-vector signs: msvd_basis matches them in
42 of 63 channels; the rest (carLight, carShadow, labMan, peopleshadow, running, walkingnight)
differ by a sign that cancels a detail band in MATLAB, not in ours, or the reverse.
The MATLAB images went through MATLAB's JPEG q75: 'before' compares our uint8 output with them,
'after' encodes ours with Pillow q75 first (bit-identical where our uint8 output is MATLAB's).
"""


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b) ** 2)
    return float('inf') if mse == 0 else 10 * np.log10(255 ** 2 / mse)


@pytest.fixture(scope='module')
def vifb(shared_data) -> Path:
    root = shared_data / 'vifb'
    for sub in ('ir', 'vi', 'fused/GFF', 'fused/MSVD'):
        if not (root / sub).is_dir():
            pytest.skip(f'{root / sub} not found')
    return root


def vifb_gff(ir: np.ndarray, vi: np.ndarray) -> np.ndarray:
    """VIFB's run_GFF.m on one pair as decoded (``ir`` grey or RGB)."""
    if ir.ndim == 3:
        fused = GFFFuser(colour='rgb', jpeg_quality=75).fuse(as_input(ir), as_input(vi)).fused
        return as_image(fused)
    vis = jpeg_roundtrip(vi, 75)   # load_images' page-2 bug (see VIFB_NOTES)
    vis[..., 1] = jpeg_roundtrip(ir, 75)
    return to_uint8(gff_rgb(vis, np.zeros_like(vis)) * 255)


def vifb_msvd(ir: np.ndarray, vi: np.ndarray) -> np.ndarray:
    """VIFB's run_MSVD.m on one pair as decoded (``ir`` grey or RGB)."""
    return as_image(MSVDFuser(colour='rgb').fuse(as_input(ir), as_input(vi)).fused)


@pytest.mark.parametrize('name', ['gff', 'msvd'])
def test_vifb_matlab_outputs(name, vifb):
    run = dict(gff=vifb_gff, msvd=vifb_msvd)[name]
    rows = []
    for path in sorted((vifb / 'ir').glob('*.jpg')):
        ir = np.asarray(Image.open(path))
        vi = np.asarray(Image.open(vifb / 'vi' / path.name).convert('RGB'))
        ref = np.asarray(Image.open(vifb / 'fused' / name.upper() / path.name).convert('RGB'))
        ours = run(ir, vi)
        assert ours.shape == ref.shape
        after = jpeg_roundtrip(ours, 75)
        rows.append((path.stem, psnr(ours, ref), int(np.abs(ours.astype(int) - ref).max()),
                     psnr(after, ref), int(np.abs(after.astype(int) - ref).max())))
    assert len(rows) == 21
    before = np.array([r[1] for r in rows])
    after = np.array([r[3] for r in rows])
    exact = int(np.isinf(after).sum())
    print(f'\n{name.upper()} vs VIFB MATLAB ({len(rows)} pairs): before JPEG mean PSNR '
          f'{before.mean():.2f} dB, min {before.min():.2f}, max |diff| {max(r[2] for r in rows)}; '
          f'after Pillow q75: {exact} bit-identical, min PSNR {after.min():.2f}, max |diff| '
          f'{max(r[4] for r in rows)}')
    for row in rows:
        print('  {:<13s} before {:6.2f} dB (max {:3d})  after {:6.2f} dB (max {:3d})'.format(*row))
    limits = THRESHOLDS[name]
    assert before.mean() >= limits['mean'] and before.min() >= limits['min']
    assert exact >= limits['exact'] and after.min() >= limits['min_after']
