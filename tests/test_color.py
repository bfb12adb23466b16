"""BT.601 YCbCr conversion."""
import torch

from psfusion.color import merge_luma, rgb_to_y, rgb_to_ycbcr, ycbcr_to_rgb


def test_known_values():
    rgb = torch.tensor([0.2, 0.5, 0.9]).view(1, 3, 1, 1)
    y, cb, cr = rgb_to_ycbcr(rgb).flatten().tolist()
    assert abs(y - (0.299 * 0.2 + 0.587 * 0.5 + 0.114 * 0.9)) < 1e-6
    assert abs(cb - (0.564 * (0.9 - y) + 0.5)) < 1e-3
    assert abs(cr - (0.713 * (0.2 - y) + 0.5)) < 1e-3
    assert torch.allclose(rgb_to_y(rgb), torch.tensor(y).view(1, 1, 1, 1))


def test_round_trip_within_one_level_on_all_uint8_colours_sampled():
    generator = torch.Generator().manual_seed(0)
    rgb = torch.randint(0, 256, (4, 3, 64, 64), generator=generator).float() / 255
    corners = torch.tensor([[0, 0, 0], [1, 1, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]],
                           dtype=torch.float32).T.reshape(1, 3, 6, 1)
    for batch in (rgb, corners):
        back = ycbcr_to_rgb(rgb_to_ycbcr(batch))
        assert (back - batch).abs().max().item() <= 1 / 255
        assert back.min() >= 0 and back.max() <= 1


def test_way_back_uses_the_psfusion_codes_coefficients():
    # Y = .5, Cb = .6, Cr = .3: R = .5 + 1.403 (-.2), G = .5 - .714 (-.2) - .344 (.1),
    # B = .5 + 1.773 (.1): the authors' utils.py, not kornia 0.9's exact inverse (1.40252...)
    rgb = ycbcr_to_rgb(torch.tensor([0.5, 0.6, 0.3]).view(1, 3, 1, 1)).flatten().tolist()
    expected = [0.5 - 0.2806, 0.5 + 0.1428 - 0.0344, 0.5 + 0.1773]
    assert max(abs(a - b) for a, b in zip(rgb, expected)) < 1e-6


def test_merge_luma_replaces_y_keeps_chroma():
    generator = torch.Generator().manual_seed(1)
    # low-saturation colours and mid luma stay inside the RGB gamut (no clamping)
    rgb = torch.rand(2, 3, 8, 8, generator=generator) * 0.2 + 0.4
    y = torch.rand(2, 1, 8, 8, generator=generator) * 0.2 + 0.4
    out = merge_luma(y, rgb)
    # the rounded way-back coefficients are not an exact inverse: at most 2.7e-4 of drift
    assert torch.allclose(rgb_to_y(out), y, atol=3e-4)
    assert torch.allclose(rgb_to_ycbcr(out)[:, 1:], rgb_to_ycbcr(rgb)[:, 1:], atol=3e-4)
