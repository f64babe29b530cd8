"""DICOM import (pydicom ≥ 3) and export of synthetic MR images.

Import: single- and multi-frame files; Rescale Slope/Intercept (also per-frame functional
groups) applied; MONOCHROME1 inverted so that bright always means high signal; compressed
transfer syntaxes decoded by whichever pydicom plugin is installed — see
:func:`available_handlers`. A file whose transfer syntax has no installed decoder raises an
``InputError`` naming the syntax and the packages that would decode it.

Export (:func:`write_dicom_series`): one MR Image Storage file per image, 16-bit
MONOCHROME2, ImageType ``DERIVED\\SECONDARY``, described as a synthetic phantom, fresh UIDs.
"""

from __future__ import annotations

import datetime as _dt
import re
import warnings
from pathlib import Path

import numpy as np

from ganaudit.gan_models.data.raw import RawImage
from ganaudit.gan_models.errors import InputError

RANGE_MARKER = "ganaudit-range=-1,1"
MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"

# Package names (what to install) for pydicom's decoder plugins.
_PLUGIN_PACKAGES = {"gdcm": "python-gdcm", "pyjpegls": "pyjpegls"}


def is_dicom_file(path: Path) -> bool:
    """True when the file has the DICOM preamble ("DICM" at byte 128)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(128)
            return fh.read(4) == b"DICM"
    except OSError:
        return False


def _transfer_syntaxes():
    import pydicom.uid as uid

    names = ["ImplicitVRLittleEndian", "ExplicitVRLittleEndian", "ExplicitVRBigEndian",
             "DeflatedExplicitVRLittleEndian", "RLELossless", "JPEGBaseline8Bit",
             "JPEGExtended12Bit", "JPEGLossless", "JPEGLosslessSV1", "JPEGLSLossless",
             "JPEGLSNearLossless", "JPEG2000Lossless", "JPEG2000", "HTJ2KLossless",
             "HTJ2KLosslessRPCL", "HTJ2K"]
    return [getattr(uid, n) for n in names if hasattr(uid, n)]


def available_handlers() -> dict[str, list[str]]:
    """Which pixel-data decoders are installed, per transfer syntax.

    Returns
    -------
    dict
        Transfer syntax name → list of installed pydicom plugins that decode it (empty when
        none is installed; uncompressed syntaxes are decoded by pydicom itself).
    """
    from pydicom.pixels import get_decoder

    out = {}
    for ts in _transfer_syntaxes():
        try:
            decoder = get_decoder(ts)
        except NotImplementedError:
            out[ts.name] = []
            continue
        plugins = list(decoder.available_plugins)
        out[ts.name] = plugins or (["pydicom"] if not ts.is_compressed else [])
    return out


def _install_hint(transfer_syntax) -> str:
    """'pyjpegls, or pylibjpeg + pylibjpeg-libjpeg, or python-gdcm' for a transfer syntax."""
    from pydicom.pixels import get_decoder

    try:
        missing = get_decoder(transfer_syntax).missing_dependencies
    except NotImplementedError:
        return "no pydicom plugin decodes it"
    options = []
    for line in missing:
        plugin, _, requirement = line.partition(" - requires ")
        packages = [re.split(r"[<>=!\s]", p.strip())[0] for p in requirement.split(" and ")]
        packages = [_PLUGIN_PACKAGES.get(p, p) for p in packages if p and p != "numpy"]
        options.append(" + ".join(packages) or _PLUGIN_PACKAGES.get(plugin, plugin))
    return ", or ".join(options) if options else "a pydicom pixel-data plugin"


def _describe(ds) -> str:
    """'Basic Text SR Storage (Modality SR)' for the error about a non-image file."""
    sop = ds.get("SOPClassUID")
    sop_name = getattr(sop, "name", str(sop)) if sop else "an object without SOP class"
    return f"{sop_name} (Modality {ds.get('Modality', '') or 'unknown'})"


def _first(value) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value[0]) if hasattr(value, "__len__") and not isinstance(value, str) else float(value)
    except (TypeError, ValueError, IndexError):
        return None


def _group_item(ds, k: int, sequence: str):
    """The item of a functional-group sequence for frame k (per-frame first, then shared)."""
    for groups, index in (("PerFrameFunctionalGroupsSequence", k),
                          ("SharedFunctionalGroupsSequence", 0)):
        seq = ds.get(groups)
        if seq is not None and len(seq) > index and sequence in seq[index]:
            items = seq[index][sequence]
            if len(items):
                return items[0]
    return None


def _rescale(ds, k: int) -> tuple[float, float]:
    item = _group_item(ds, k, "PixelValueTransformationSequence") or ds
    slope = _first(item.get("RescaleSlope"))
    intercept = _first(item.get("RescaleIntercept"))
    return (1.0 if slope is None else slope), (0.0 if intercept is None else intercept)


def _window(ds, k: int) -> tuple[float, float] | None:
    item = _group_item(ds, k, "FrameVOILUTSequence") or ds
    center, width = _first(item.get("WindowCenter")), _first(item.get("WindowWidth"))
    if center is None or width is None or width <= 0:
        return None
    return center, width


def _stored_limits(ds) -> tuple[float, float]:
    bits = int(ds.get("BitsStored", ds.get("BitsAllocated", 16)))
    if int(ds.get("PixelRepresentation", 0)) == 1:
        return -(2.0 ** (bits - 1)), 2.0 ** (bits - 1) - 1
    return 0.0, 2.0 ** bits - 1


def read_dicom(path: Path, name: str, group: str) -> list[RawImage]:
    """Decode one DICOM file into 2-D images (one per frame) in physical units."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            ds = pydicom.dcmread(path)
        except (InvalidDicomError, OSError, EOFError, ValueError, KeyError, TypeError) as exc:
            raise InputError(f"{path.name}: not a readable DICOM file ({exc})") from exc
    truncated = [str(w.message) for w in caught if "End of file" in str(w.message)]
    if truncated or len(ds) == 0:
        declared = ds.file_meta.get("MediaStorageSOPClassUID") if hasattr(ds, "file_meta") else None
        said = f" (header says {getattr(declared, 'name', declared)})" if declared else ""
        raise InputError(f"{path.name}: corrupt or truncated DICOM file{said}: the data ends "
                         "early or holds no elements")
    if not any(tag in ds for tag in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        raise InputError(f"{path.name}: no pixel data; it is {_describe(ds)}")
    meta = getattr(ds, "file_meta", None)
    ts = meta.get("TransferSyntaxUID") if meta is not None else None
    try:
        pixels = ds.pixel_array
    except (RuntimeError, NotImplementedError) as exc:
        text = str(exc)
        if ts is not None and ("missing" in text or "plugin" in text or "decoder" in text.lower()):
            raise InputError(
                f"{path.name}: its transfer syntax {ts.name} ({ts}) needs a pixel decoder that "
                f"is not installed; install {_install_hint(ts)}") from exc
        raise InputError(f"{path.name}: pixel data could not be decoded ({text.splitlines()[0]})") from exc
    except Exception as exc:  # pydicom raises many types for truncated or corrupt pixel data
        raise InputError(f"{path.name}: corrupt pixel data ({type(exc).__name__}: {exc})") from exc

    samples = int(ds.get("SamplesPerPixel", 1))
    n_frames = int(_first(ds.get("NumberOfFrames")) or 1)
    if samples > 1:
        # Colour: luminance from the last axis.
        pixels = pixels[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    if n_frames == 1 and pixels.ndim == 2:
        pixels = pixels[None]
    if pixels.ndim != 3:
        raise InputError(f"{path.name}: unexpected pixel array shape {pixels.shape}")

    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip()
    invert = photometric == "MONOCHROME1"
    marked = RANGE_MARKER in str(ds.get("ImageComments", ""))
    instance = _first(ds.get("InstanceNumber"))
    if len(pixels) == 1 and "SeriesInstanceUID" in ds:
        group = f"series:{ds.SeriesInstanceUID}"  # single-frame slices of one series go together
    position = _slice_position(ds)
    out = []
    for k, frame in enumerate(pixels):
        slope, intercept = _rescale(ds, k)
        values = frame.astype(np.float64) * slope + intercept
        window = _window(ds, k)
        lo, hi = (v * slope + intercept for v in _stored_limits(ds))
        lo, hi = min(lo, hi), max(lo, hi)
        if invert:
            values = lo + hi - values
            if window is not None:
                window = (lo + hi - window[0], window[1])
        frame_name = name if len(pixels) == 1 else f"{name}-{k:05d}"
        key = (instance if instance is not None else np.inf,
               position if position is not None else np.inf, k)
        out.append(RawImage(frame_name, values, group, "dicom",
                            stored_range=(lo, hi) if marked else None,
                            dicom_window=window, sort_key=key))
    return out


def _slice_position(ds) -> float | None:
    """Position along the slice normal (ImagePositionPatient · normal), for series ordering."""
    ipp, iop = ds.get("ImagePositionPatient"), ds.get("ImageOrientationPatient")
    if ipp is None or iop is None or len(ipp) != 3 or len(iop) != 6:
        return None
    normal = np.cross(np.asarray(iop[:3], float), np.asarray(iop[3:], float))
    return float(np.dot(normal, np.asarray(ipp, float)))


def write_dicom_series(images: np.ndarray, folder, names: list[str], *, pixel_mm: float,
                       description: str, slice_positions=None,
                       centre_lps: tuple[float, float] = (0.0, 18.0)) -> list[Path]:
    """Write images in [-1, 1] as MR DICOM files, one synthetic subject per file.

    Each file has its own patient, study and series (the images are different subjects),
    16-bit MONOCHROME2 pixels (stored 0..65535 spans [-1, 1]; WindowCenter/Width cover the
    full range), ImageType ``DERIVED\\SECONDARY``, and ``description`` in SeriesDescription
    and ImageComments. The folder appears atomically.
    """
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, PYDICOM_IMPLEMENTATION_UID, generate_uid

    from ganaudit.gan_models.atomic import atomic_path

    images = np.asarray(images)
    if images.ndim != 3 or len(names) != len(images):
        raise InputError(f"write_dicom_series needs (N, H, W) images and N names, got "
                         f"{images.shape} and {len(names)} names")
    positions = np.zeros(len(images)) if slice_positions is None else np.asarray(slice_positions, float)
    now = _dt.datetime.now(_dt.timezone.utc)
    date, time = now.strftime("%Y%m%d"), now.strftime("%H%M%S")
    folder = Path(folder)
    paths = []
    with atomic_path(folder) as tmp:
        tmp.mkdir()
        for i, (img, name) in enumerate(zip(images, names)):
            rows, cols = img.shape
            u16 = np.round((np.clip(np.nan_to_num(img, nan=-1.0), -1, 1) + 1) / 2 * 65535).astype(np.uint16)
            meta = FileMetaDataset()
            meta.MediaStorageSOPClassUID = MR_IMAGE_STORAGE
            meta.MediaStorageSOPInstanceUID = generate_uid()
            meta.TransferSyntaxUID = ExplicitVRLittleEndian
            meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
            ds = Dataset()
            ds.file_meta = meta
            ds.SpecificCharacterSet = "ISO_IR 100"
            ds.ImageType = ["DERIVED", "SECONDARY"]
            ds.SOPClassUID = MR_IMAGE_STORAGE
            ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
            ds.StudyDate = ds.SeriesDate = ds.ContentDate = date
            ds.StudyTime = ds.SeriesTime = ds.ContentTime = time
            ds.AccessionNumber = ""
            ds.Modality = "MR"
            ds.Manufacturer = "ganaudit"
            ds.ReferringPhysicianName = ""
            ds.StudyDescription = description
            ds.SeriesDescription = description
            ds.PatientName = f"Phantom^{name}"
            ds.PatientID = name
            ds.PatientBirthDate = ""
            ds.PatientSex = "O"
            ds.ScanningSequence = "RM"  # research mode: no real acquisition
            ds.SequenceVariant = "NONE"
            ds.ScanOptions = ""
            ds.MRAcquisitionType = "2D"
            ds.SliceThickness = f"{pixel_mm:.4f}"
            ds.RepetitionTime = ""
            ds.EchoTime = ""
            ds.EchoTrainLength = ""
            ds.StudyInstanceUID = generate_uid()
            ds.SeriesInstanceUID = generate_uid()
            ds.FrameOfReferenceUID = generate_uid()
            ds.PositionReferenceIndicator = ""
            ds.StudyID = "1"
            ds.SeriesNumber = 1
            ds.InstanceNumber = 1
            ds.ImagePositionPatient = [
                f"{centre_lps[0] - (cols - 1) / 2 * pixel_mm:.4f}",
                f"{centre_lps[1] - (rows - 1) / 2 * pixel_mm:.4f}", f"{positions[i]:.4f}"]
            ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
            ds.PixelSpacing = [f"{pixel_mm:.4f}", f"{pixel_mm:.4f}"]
            ds.ImageComments = f"{description}; {RANGE_MARKER}"
            ds.BurnedInAnnotation = "NO"
            ds.SamplesPerPixel = 1
            ds.PhotometricInterpretation = "MONOCHROME2"
            ds.Rows, ds.Columns = rows, cols
            ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
            ds.PixelRepresentation = 0
            ds.WindowCenter = "32767.5"
            ds.WindowWidth = "65535"
            ds.PixelData = u16.tobytes()
            pydicom.dcmwrite(tmp / f"{name}.dcm", ds, enforce_file_format=True)
            paths.append(folder / f"{name}.dcm")
    return paths
