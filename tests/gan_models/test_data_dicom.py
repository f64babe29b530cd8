"""DICOM import: every emri_small variant of pydicom-data, series order, rescale, MONOCHROME1,
windows from tags, non-image and corrupt files, and the synthetic MR export."""

from __future__ import annotations

import warnings

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

from ganaudit.gan_models.data import IntensityPolicy, load_images
from ganaudit.gan_models.data.dicom import available_handlers, write_dicom_series
from ganaudit.gan_models.errors import InputError

FIXED_RAW = IntensityPolicy(mode="fixed", window_center=1000.0, window_width=2000.0)


def _testdata(name: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = get_testdata_file(name)
    if path is None:
        pytest.skip(f"pydicom-data does not ship {name}")
    return path


@pytest.fixture(scope="module")
def reference_frames():
    """The uncompressed emri_small frames, decoded by pydicom directly (the oracle)."""
    ds = pydicom.dcmread(_testdata("emri_small.dcm"))
    return ds.pixel_array.astype(np.float64)


@pytest.mark.parametrize("name", [
    "emri_small.dcm", "emri_small_big_endian.dcm", "emri_small_jpeg_2k_lossless.dcm",
    "emri_small_RLE.dcm", "emri_small_jpeg_ls_lossless.dcm"])
def test_emri_small_variants_load_ten_frames_or_name_the_missing_decoder(name, reference_frames):
    path = _testdata(name)
    syntax = pydicom.dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID
    if not available_handlers()[syntax.name]:
        with pytest.raises(InputError, match=rf"{name}: its transfer syntax {syntax.name} .*"
                                             r"not installed; install .*(pylibjpeg|pyjpegls|gdcm)"):
            load_images(path)
        return
    images = load_images(path, policy=FIXED_RAW)
    assert images.images.shape == (10, 64, 64)
    assert images.names == [f"{name[:-4]}-{k:05d}" for k in range(10)]
    expected = np.clip((reference_frames - 0.0) / 2000.0 * 2 - 1, -1, 1)
    np.testing.assert_allclose(images.images, expected, atol=1e-6)


def test_available_handlers_reports_uncompressed_and_pillow_backed_syntaxes():
    handlers = available_handlers()
    assert handlers["Explicit VR Little Endian"] == ["pydicom"]
    assert "RLE Lossless" in handlers and "JPEG-LS Lossless Image Compression" in handlers
    assert all(isinstance(v, list) for v in handlers.values())


def test_default_policy_is_a_percentile_window_per_frame(reference_frames):
    images = load_images(_testdata("emri_small.dcm"))
    for got, frame in zip(images.images, reference_frames):
        lo, hi = np.percentile(frame, [0.5, 99.5])
        np.testing.assert_allclose(got, np.clip((frame - lo) / (hi - lo) * 2 - 1, -1, 1), atol=1e-6)


def _mr_slice(pixels: np.ndarray, *, instance: int, z: float, series: str, **extra) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "MR"
    ds.SeriesInstanceUID = series
    ds.InstanceNumber = instance
    ds.ImagePositionPatient = [0, 0, z]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    for key, value in extra.items():
        setattr(ds, key, value)
    ds.PixelData = pixels.astype(np.uint16).tobytes()
    return ds


def test_series_of_single_frame_files_is_ordered_by_instance_number(tmp_path, reference_frames):
    series = generate_uid()
    order = [7, 2, 9, 0, 4, 1, 8, 3, 6, 5]  # file names deliberately out of slice order
    for file_index, k in enumerate(order):
        ds = _mr_slice(reference_frames[k], instance=k + 1, z=2.0 * k, series=series)
        pydicom.dcmwrite(tmp_path / f"IM{file_index:03d}", ds, enforce_file_format=True)
    images = load_images(tmp_path, policy=FIXED_RAW)
    expected = np.clip(reference_frames / 2000.0 * 2 - 1, -1, 1)
    np.testing.assert_allclose(images.images, expected, atol=1e-6)
    assert len(set(images.groups)) == 1  # one series: one group for the split


def test_rescale_slope_intercept_is_applied(tmp_path, reference_frames):
    ds = _mr_slice(reference_frames[3], instance=1, z=0, series=generate_uid(),
                   RescaleSlope="2", RescaleIntercept="-100")
    pydicom.dcmwrite(tmp_path / "slice.dcm", ds, enforce_file_format=True)
    policy = IntensityPolicy(mode="fixed", window_center=500.0, window_width=1000.0)
    got = load_images(tmp_path / "slice.dcm", policy=policy).images[0]
    physical = reference_frames[3] * 2 - 100
    np.testing.assert_allclose(got, np.clip(physical / 1000.0 * 2 - 1, -1, 1), atol=1e-6)


def test_monochrome1_is_inverted(tmp_path, reference_frames):
    frame = reference_frames[5]
    for name, photometric in (("m2.dcm", "MONOCHROME2"), ("m1.dcm", "MONOCHROME1")):
        ds = _mr_slice(frame, instance=1, z=0, series=generate_uid())
        ds.PhotometricInterpretation = photometric
        pydicom.dcmwrite(tmp_path / name, ds, enforce_file_format=True)
    m2 = load_images(tmp_path / "m2.dcm").images[0]
    m1 = load_images(tmp_path / "m1.dcm").images[0]
    np.testing.assert_allclose(m1, -m2, atol=1e-5)


def test_window_from_dicom_tags(tmp_path, reference_frames):
    frame = reference_frames[4]
    ds = _mr_slice(frame, instance=1, z=0, series=generate_uid(),
                   WindowCenter=["300", "600"], WindowWidth=["400", "800"])
    pydicom.dcmwrite(tmp_path / "w.dcm", ds, enforce_file_format=True)
    got = load_images(tmp_path / "w.dcm",
                      policy=IntensityPolicy(mode="fixed", from_dicom_tags=True)).images[0]
    np.testing.assert_allclose(got, np.clip((frame - 100.0) / 400.0 * 2 - 1, -1, 1), atol=1e-6)

    ds = _mr_slice(frame, instance=1, z=0, series=generate_uid())
    pydicom.dcmwrite(tmp_path / "no_tags.dcm", ds, enforce_file_format=True)
    with pytest.raises(InputError, match="no_tags-?.*has no WindowCenter/WindowWidth tags"):
        load_images(tmp_path / "no_tags.dcm", policy=IntensityPolicy(mode="fixed",
                                                                     from_dicom_tags=True))


def test_structured_report_is_named_as_non_image():
    with pytest.raises(InputError, match=r"test-SR.dcm: no pixel data; it is .*SR Storage "
                                         r"\(Modality SR\)"):
        load_images(_testdata("test-SR.dcm"))


def test_truncated_file_is_named_corrupt():
    with pytest.raises(InputError, match=r"emri_small_jpeg_2k_lossless_too_short.dcm: corrupt "
                                         r"or truncated DICOM file"):
        load_images(_testdata("emri_small_jpeg_2k_lossless_too_short.dcm"))


def test_corrupt_file_in_a_series_folder_is_skipped_with_a_warning_or_fails_strict(tmp_path):
    good = pydicom.dcmread(_testdata("emri_small.dcm"))
    pydicom.dcmwrite(tmp_path / "good.dcm", good)
    raw = (tmp_path / "good.dcm").read_bytes()
    (tmp_path / "bad.dcm").write_bytes(raw[:900])
    with pytest.warns(UserWarning, match=r"1 of 2 files could not be read: bad.dcm: .*; "
                                         r"the rest was loaded"):
        images = load_images(tmp_path)
    assert len(images) == 10 and all(n.startswith("good-") for n in images.names)
    with pytest.raises(InputError, match=r"1 of 2 files could not be read: bad.dcm.*strict=False"):
        load_images(tmp_path, strict=True)


def test_write_dicom_series_is_valid_synthetic_mr_and_loads_back(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, size=(3, 32, 32)).astype(np.float32)
    paths = write_dicom_series(images, tmp_path / "dcm", ["a", "b", "c"], pixel_mm=3.75,
                               description="synthetic phantom", slice_positions=[1, 2, 3])
    uids = set()
    for path in paths:
        ds = pydicom.dcmread(path)
        assert ds.Modality == "MR" and ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.4"
        assert list(ds.ImageType) == ["DERIVED", "SECONDARY"]
        assert "synthetic phantom" in ds.SeriesDescription and "synthetic" in ds.ImageComments
        assert ds.PhotometricInterpretation == "MONOCHROME2" and ds.BitsStored == 16
        assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
        for uid in (ds.SOPInstanceUID, ds.SeriesInstanceUID, ds.StudyInstanceUID):
            assert UID(uid).is_valid
            uids.add(str(uid))
    assert len(uids) == 9  # every object its own instance, series and study
    back = load_images(tmp_path / "dcm")
    assert back.names == ["a", "b", "c"]
    np.testing.assert_allclose(back.images, images, atol=2e-5)
    tags = load_images(tmp_path / "dcm", policy=IntensityPolicy(mode="fixed", from_dicom_tags=True))
    np.testing.assert_allclose(tags.images, images, atol=2e-5)
