"""Image readers: accepted formats and the precise error for each kind of bad input."""
import numpy as np
import pytest

from psfusion.data import DataError, read_infrared, read_label, read_visible
from psfusion.data.io import list_images

from .helpers import save


def test_infrared_accepts_grey_grey_as_rgb_and_grey_alpha(tmp_path):
    grey = np.arange(48, dtype=np.uint8).reshape(6, 8)
    for name, array, mode in [('l.png', grey, None),
                              ('rgb.png', np.repeat(grey[..., None], 3, 2), None),
                              ('la.png', np.stack([grey, np.full_like(grey, 255)], 2), 'LA'),
                              ('jpg-like.png', np.stack([grey, grey + 1, grey], 2), None)]:
        ir = read_infrared(str(save(tmp_path / name, array, mode)))
        assert ir.shape == (6, 8, 1) and ir.dtype == np.uint8
        expected = grey if name != 'jpg-like.png' else np.rint(grey + 0.587).astype(np.uint8)
        np.testing.assert_array_equal(ir[..., 0], expected)


def test_infrared_refuses_colour_image(tmp_path):
    colour = np.zeros((4, 4, 3), np.uint8)
    colour[..., 0] = 200
    path = save(tmp_path / 'ir_colour.png', colour)
    with pytest.raises(DataError, match=r'ir_colour\.png.*colours differ.*single-channel'):
        read_infrared(str(path))


def test_visible_grey_replicated_and_alpha_dropped(tmp_path):
    grey = np.full((3, 5), 7, np.uint8)
    vi = read_visible(str(save(tmp_path / 'g.png', grey)))
    assert vi.shape == (3, 5, 3) and (vi == 7).all()
    rgba = np.dstack([np.full((3, 5, 3), 9, np.uint8), np.zeros((3, 5), np.uint8)])
    vi = read_visible(str(save(tmp_path / 'a.png', rgba)))
    assert vi.shape == (3, 5, 3) and (vi == 9).all()


def test_channel_selection_reads_both_modalities_of_one_file(tmp_path):
    """MFNet keeps R, G, B, thermal in one PNG: each modality is a channel selection."""
    rgbt = np.zeros((4, 6, 4), np.uint8)
    rgbt[..., 0], rgbt[..., 3] = 10, 200
    path = str(save(tmp_path / 'x.png', rgbt))
    ir, vi = read_infrared(path, [3]), read_visible(path, [0, 1, 2])
    assert ir.shape == (4, 6, 1) and (ir == 200).all()
    assert vi.shape == (4, 6, 3) and (vi[..., 0] == 10).all() and (vi[..., 1:] == 0).all()
    rgb = str(save(tmp_path / 'rgb.png', rgbt[..., :3]))
    with pytest.raises(DataError, match=r'rgb\.png: the infrared image is channel\(s\) \[3\] '
                       r'of this file, but it has 3 channel\(s\).*MFNet'):
        read_infrared(rgb, [3])


def test_label_ids_out_of_range(tmp_path):
    label = np.zeros((4, 4), np.uint8)
    label[0, 0], label[1, 1], label[2, 2] = 9, 255, 37
    path = save(tmp_path / 'lab.png', label)
    with pytest.raises(DataError, match=r'lab\.png: label ids 9, 37 are outside 0-8 and 255'):
        read_label(str(path))
    label[0, 0] = label[2, 2] = 8
    np.testing.assert_array_equal(read_label(str(save(tmp_path / 'ok.png', label))), label)


def test_label_colour_refused_but_grey_rgb_accepted(tmp_path):
    colour = np.zeros((4, 4, 3), np.uint8)
    colour[0, 0] = (64, 0, 128)
    with pytest.raises(DataError, match=r'c\.png: label has 3 colour channels.*palette'):
        read_label(str(save(tmp_path / 'c.png', colour)))
    ids = np.full((4, 4, 3), 3, np.uint8)
    assert (read_label(str(save(tmp_path / 'g.png', ids))) == 3).all()


@pytest.mark.parametrize('suffix', ['png', 'jpg'])
def test_truncated_image(tmp_path, suffix):
    rng = np.random.default_rng(1)
    path = save(tmp_path / f'full.{suffix}', rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    data = path.read_bytes()
    cut = tmp_path / f'cut.{suffix}'
    cut.write_bytes(data[:len(data) // 2])
    with pytest.raises(DataError, match=rf'cut\.{suffix}: the image is truncated or corrupt'):
        read_visible(str(cut))


def test_not_an_image_and_missing_file(tmp_path):
    junk = tmp_path / 'junk.png'
    junk.write_text('hello')
    with pytest.raises(DataError, match=r'junk\.png: not a readable image'):
        read_visible(str(junk))
    with pytest.raises(DataError, match=r'nope\.png: file not found'):
        read_infrared(str(tmp_path / 'nope.png'))


def test_sixteen_bit_image_refused(tmp_path):
    from PIL import Image
    path = tmp_path / 'deep.png'
    Image.fromarray(np.full((4, 4), 4000, np.uint16)).save(path)
    with pytest.raises(DataError, match=r'deep\.png: .*16-bit'):
        read_infrared(str(path))


def test_list_images_errors(tmp_path):
    with pytest.raises(DataError, match='folder not found'):
        list_images(str(tmp_path / 'absent'))
    (tmp_path / 'empty').mkdir()
    (tmp_path / 'empty' / 'notes.txt').write_text('x')
    with pytest.raises(DataError, match=r'empty: no images'):
        list_images(str(tmp_path / 'empty'))
    save(tmp_path / 'dup' / 'a.png', np.zeros((2, 2), np.uint8))
    save(tmp_path / 'dup' / 'a.jpg', np.zeros((2, 2), np.uint8))
    with pytest.raises(DataError, match=r"two images share the stem 'a'"):
        list_images(str(tmp_path / 'dup'))
