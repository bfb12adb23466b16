"""Reading infrared, visible and label images, with errors that name the file and the fix.

Images are decoded with Pillow rather than OpenCV: Pillow reports truncated files instead of
returning a partly grey image, and the published fusion metrics (VIFB) were computed on images
decoded the way Pillow decodes JPEG.  All readers return ``uint8`` numpy arrays in ``H x W x C``
order (``H x W`` for labels), RGB channel order.
"""
from __future__ import annotations

import os
from typing import Optional, Sequence

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import PsfusionError

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff')
NUM_CLASSES = 9
IGNORE_INDEX = 255
# Largest difference between the channels of an infrared image stored as RGB that still counts
# as grey (JPEG chroma rounding can leave a level or two).
GREY_TOLERANCE = 2


class DataError(PsfusionError, ValueError):
    """A problem with the user's data: the message names the file and says how to fix it."""


def _open(path: str) -> Image.Image:
    """Open and fully decode ``path`` with Pillow, turning every failure into a DataError."""
    if not os.path.isfile(path):
        raise DataError(f'{path}: file not found. Check the dataset root and layout.')
    try:
        image = Image.open(path)
        image.load()  # decodes now, so a truncated file fails here and not later
    except UnidentifiedImageError as exc:
        raise DataError(f'{path}: not a readable image ({exc}). Replace the file with a valid '
                        f'PNG/JPEG/BMP.') from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise DataError(f'{path}: the image is truncated or corrupt ({exc}). Re-export or '
                        f're-download this file.') from exc
    return image


def _to_uint8(array: np.ndarray, path: str) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if np.issubdtype(array.dtype, np.integer) and array.max(initial=0) > 255:
        raise DataError(f'{path}: {array.dtype} pixel values up to {array.max()} (16-bit '
                        f'image?). Convert it to 8 bits per channel before using it.')
    return array.astype(np.uint8)


def read_array(path: str) -> np.ndarray:
    """Decode an image as stored: ``H x W`` (grey) or ``H x W x C`` uint8.

    Palette images are expanded to RGB; grey+alpha keeps two channels.
    """
    image = _open(path)
    if image.mode == 'P':
        image = image.convert('RGBA' if 'transparency' in image.info else 'RGB')
    elif image.mode == 'CMYK' or image.mode == 'YCbCr':
        image = image.convert('RGB')
    elif image.mode == '1':
        image = image.convert('L')
    return _to_uint8(np.array(image), path)  # a writable copy (torch.from_numpy needs one)


def num_channels(array: np.ndarray) -> int:
    return 1 if array.ndim == 2 else array.shape[2]


def select_channels(array: np.ndarray, channels: Optional[Sequence[int]], path: str,
                    modality: str) -> np.ndarray:
    """The ``channels`` of a decoded image (``None``: all of them), ``H x W x C``.

    A dataset that keeps both modalities in one file (MFNet: R, G, B, thermal) reads each
    modality as a channel selection; a file with too few channels is refused by name.
    """
    if channels is None:
        return array
    channels = list(channels)
    have = num_channels(array)
    if not channels or max(channels) >= have or min(channels) < 0:
        raise DataError(
            f'{path}: the {modality} image is channel(s) {channels} of this file, but it has '
            f'{have} channel(s). Is the dataset in the layout you named (e.g. MFNet keeps R, G, '
            f'B, thermal in one 4-channel PNG; MSRS and FMB keep separate files)?')
    if array.ndim == 2:
        array = array[..., None]
    return np.ascontiguousarray(array[..., channels])


def read_infrared(path: str, channels: Optional[Sequence[int]] = None) -> np.ndarray:
    """Read an infrared image as ``H x W x 1`` uint8.

    Accepts single-channel images, grey stored as RGB/RGBA (channels equal within
    :data:`GREY_TOLERANCE` levels; BT.601 luma is taken) and grey+alpha.  An infrared file whose
    colour channels really differ is refused: it is most likely a visible image or a
    false-colour rendering.  ``channels`` selects the infrared channel(s) of a file that holds
    both modalities (see :func:`select_channels`).
    """
    array = select_channels(read_array(path), channels, path, 'infrared')
    channels = num_channels(array)
    if channels == 1:
        return array[..., None] if array.ndim == 2 else array
    if channels == 2:  # grey + alpha
        return array[..., :1]
    if channels in (3, 4):
        rgb = array[..., :3].astype(np.int16)
        spread = int(np.abs(rgb - rgb[..., :1]).max())
        if spread > GREY_TOLERANCE:
            raise DataError(
                f'{path}: infrared image has {channels} channels whose colours differ (by up to '
                f'{spread} levels); expected a single-channel thermal image (grey stored as RGB '
                f'is accepted). Is this a visible or false-colour image in the infrared folder?')
        if spread == 0:
            return array[..., :1].copy()
        luma = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
        return np.clip(np.rint(luma), 0, 255).astype(np.uint8)[..., None]
    raise DataError(f'{path}: infrared image with {channels} channels; expected 1 (or grey '
                    f'stored as RGB).')


def read_visible(path: str, channels: Optional[Sequence[int]] = None) -> np.ndarray:
    """Read a visible image as ``H x W x 3`` uint8 RGB.

    Grey visible images (TNO) are replicated to three channels; an alpha channel is dropped.
    ``channels`` selects the visible channels of a file that holds both modalities.
    """
    array = select_channels(read_array(path), channels, path, 'visible')
    channels = num_channels(array)
    if channels == 1:
        grey = array if array.ndim == 2 else array[..., 0]
        return np.repeat(grey[..., None], 3, axis=2)
    if channels == 2:
        return np.repeat(array[..., :1], 3, axis=2)
    if channels in (3, 4):
        return np.ascontiguousarray(array[..., :3])
    raise DataError(f'{path}: visible image with {channels} channels; expected 1, 3 or 4.')


def read_label(path: str, num_classes: int = NUM_CLASSES,
               ignore_index: int = IGNORE_INDEX) -> np.ndarray:
    """Read a semantic label image of class ids as ``H x W`` uint8.

    Ids must lie in ``0 .. num_classes-1`` or equal ``ignore_index``.  A colour (palette
    rendered) label is refused: convert it to class ids first.
    """
    image = _open(path)
    if image.mode == 'P':  # indexed PNG: the indices are the class ids
        array = np.asarray(image)
    else:
        array = read_array(path)
    channels = num_channels(array)
    if channels != 1:
        if channels >= 3 and np.array_equal(array[..., 0], array[..., 1]) and np.array_equal(
                array[..., 1], array[..., 2]):
            array = array[..., 0]
        else:
            raise DataError(
                f'{path}: label has {channels} colour channels; expected one channel of class '
                f'ids 0-{num_classes - 1} (255 = ignore). Convert colour labels to ids with the '
                f'dataset palette.')
    if array.ndim == 3:
        array = array[..., 0]
    valid = (array < num_classes) | (array == ignore_index)
    if not valid.all():
        bad = np.unique(array[~valid])
        shown = ', '.join(str(v) for v in bad[:10]) + (' ...' if bad.size > 10 else '')
        raise DataError(
            f'{path}: label ids {shown} are outside 0-{num_classes - 1} and {ignore_index} '
            f'(ignore). Map them to valid ids (or to {ignore_index}) before training.')
    return np.ascontiguousarray(array, dtype=np.uint8)


def list_images(folder: str, extensions: Sequence[str] = IMAGE_EXTENSIONS) -> dict[str, str]:
    """Map file stem -> path for the images in ``folder`` (not recursive).

    Raises DataError for a missing or empty folder and for two files sharing one stem.
    """
    if not os.path.isdir(folder):
        raise DataError(f'{folder}: folder not found. Check the dataset root and layout.')
    found: dict[str, str] = {}
    for name in sorted(os.listdir(folder)):
        stem, ext = os.path.splitext(name)
        if ext.lower() not in extensions or name.startswith('.'):
            continue
        if stem in found:
            raise DataError(f'{folder}: two images share the stem {stem!r} '
                            f'({os.path.basename(found[stem])}, {name}); keep one.')
        found[stem] = os.path.join(folder, name)
    if not found:
        raise DataError(f'{folder}: no images ({", ".join(extensions)}) in this folder.')
    return found
