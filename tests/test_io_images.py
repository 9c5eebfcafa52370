"""Reading images with their pixel size (ImageJ, OME, FEI, Zeiss) and refusing what we can't."""

import numpy as np
import pytest
import tifffile

from napari_labourfree.io.images import list_images, read_image
from napari_labourfree.units import PixelSize, normalise_unit

DATA = np.arange(20 * 30, dtype=np.uint16).reshape(20, 30)


def test_imagej_resolution_and_unit(tmp_path):
    path = tmp_path / "ij.tif"
    tifffile.imwrite(path, DATA, imagej=True, resolution=(1 / 0.5, 1 / 0.5),
                     metadata={"unit": "\\u00B5m"})
    im = read_image(path)
    assert im.pixel_size == PixelSize(0.5, "um", "ImageJ")
    assert im.data.dtype == np.uint16 and (im.data == DATA).all()


def test_ome_physical_size(tmp_path):
    path = tmp_path / "ome.tif"
    tifffile.imwrite(path, DATA, ome=True,
                     metadata={"PhysicalSizeX": 2.5, "PhysicalSizeXUnit": "nm",
                               "PhysicalSizeY": 2.5, "PhysicalSizeYUnit": "nm"})
    assert read_image(path).pixel_size == PixelSize(2.5, "nm", "OME")


def test_fei_pixel_width_in_metres(tmp_path):
    path = tmp_path / "fei.tif"
    header = "[User]\r\nDate=01/02/2025\r\n[Scan]\r\nPixelWidth=1.5e-08\r\nPixelHeight=1.5e-08\r\n"
    tifffile.imwrite(path, DATA, extratags=[(34682, "s", 0, header, True)])
    size = read_image(path).pixel_size
    assert size.source == "FEI" and size.unit == "um" and size.value == pytest.approx(0.015)


def test_zeiss_image_pixel_size(tmp_path):
    path = tmp_path / "zeiss.tif"
    header = ("\r\n0\r\n0\r\nAP_IMAGE_PIXEL_SIZE\r\nImage Pixel Size = 2.233 nm\r\n"
              "AP_WD\r\nWD = 5.0 mm\r\n")
    tifffile.imwrite(path, DATA, extratags=[(34118, "s", 0, header, True)])
    assert read_image(path).pixel_size == PixelSize(2.233, "nm", "Zeiss")


def test_plain_tiff_and_png_have_no_pixel_size(tmp_path):
    import imageio.v3 as iio

    tifffile.imwrite(tmp_path / "plain.tif", DATA, resolution=(72, 72))  # a dpi, not a scale
    assert read_image(tmp_path / "plain.tif").pixel_size is None
    iio.imwrite(tmp_path / "grey.png", DATA.astype(np.uint8))
    im = read_image(tmp_path / "grey.png")
    assert im.pixel_size is None and im.data.shape == (20, 30)


def test_rgb_becomes_grey_with_a_note(tmp_path):
    rgb = np.zeros((20, 30, 3), np.uint8)
    rgb[..., 1] = 255
    tifffile.imwrite(tmp_path / "rgb.tif", rgb, photometric="rgb")
    im = read_image(tmp_path / "rgb.tif")
    assert im.data.shape == (20, 30) and im.data.dtype == np.float32
    assert im.data.max() == pytest.approx(0.7154, abs=1e-3)  # one colour: its luminance
    assert "grey along its strongest colour contrast" in im.notes[0]
    with pytest.raises(ValueError, match="single-channel"):
        read_image(tmp_path / "rgb.tif", grey=False)


def test_rgb_mask_with_equal_channels_is_one_channel(tmp_path):
    mask = np.zeros((20, 30, 3), np.uint8)
    mask[5] = 255
    tifffile.imwrite(tmp_path / "m.tif", mask, photometric="rgb")
    im = read_image(tmp_path / "m.tif", grey=False)
    assert im.data.shape == (20, 30) and im.data.dtype == np.uint8 and not im.notes


def test_float_and_16_bit_are_kept(tmp_path):
    tifffile.imwrite(tmp_path / "f.tif", DATA.astype(np.float32) / 7)
    assert read_image(tmp_path / "f.tif").data.dtype == np.float32


def test_stacks_are_refused_unless_allowed(tmp_path):
    tifffile.imwrite(tmp_path / "s.tif", np.zeros((4, 20, 30), np.float32),
                     photometric="minisblack")
    with pytest.raises(ValueError, match="stack of 4 frames"):
        read_image(tmp_path / "s.tif")
    assert read_image(tmp_path / "s.tif", allow_stack=True).data.shape == (4, 20, 30)
    tifffile.imwrite(tmp_path / "5d.tif", np.zeros((2, 3, 20, 30), np.float32),
                     photometric="minisblack")
    with pytest.raises(ValueError, match="only 2-D images"):
        read_image(tmp_path / "5d.tif", allow_stack=True)


def test_missing_corrupt_and_foreign_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_image(tmp_path / "nope.tif")
    (tmp_path / "bad.tif").write_bytes(b"this is not a tiff")
    with pytest.raises(ValueError, match="bad.tif: cannot read"):
        read_image(tmp_path / "bad.tif")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="unsupported file type"):
        read_image(tmp_path / "notes.txt")


def test_list_images_from_files_and_folders(tmp_path):
    for name in ("b.tif", "a.png", ".hidden.tif", "readme.txt"):
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in list_images([tmp_path])] == ["a.png", "b.tif"]
    with pytest.raises(FileNotFoundError):
        list_images([tmp_path / "missing"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no images"):
        list_images([tmp_path / "empty"])


def test_units():
    assert normalise_unit("µm") == normalise_unit("micron") == "um"
    assert PixelSize(2, "nm").mm == pytest.approx(2e-6)
    with pytest.raises(ValueError, match="unknown length unit"):
        PixelSize(1, "pixel")
    with pytest.raises(ValueError, match="positive"):
        PixelSize(float("nan"))


def test_atomic_writes_get_ordinary_permissions(tmp_path):
    import os
    import stat

    from napari_labourfree.io.atomic import write_text
    from napari_labourfree.io.tiff import write_tiff

    mask = os.umask(0o022)
    try:
        write_text(tmp_path / "a.txt", "x")
        write_tiff(tmp_path / "a.tif", np.zeros((4, 4), np.uint8))
    finally:
        os.umask(mask)
    for name in ("a.txt", "a.tif"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644, name
    (tmp_path / "a.txt").chmod(0o640)  # a replaced file keeps the mode its owner gave it
    write_text(tmp_path / "a.txt", "y")
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o640
    assert not list(tmp_path.glob(".*.part"))
