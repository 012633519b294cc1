"""Photos sent from the field: checked by their content (JPEG or PNG, not by name), and their
location and other metadata taken out without decoding or re-encoding the image.

A JPEG is walked segment by segment: APP1 (Exif, with its GPS block, and XMP), APP3-APP13,
APP15, comments and anything after the end of the image (motion photos, extra images) go; the
image data, tables, JFIF, ICC profile and Adobe segments stay byte for byte. The Exif
orientation alone is written back in a new, minimal Exif block, so a phone's upright photo
stays upright. A PNG keeps its image and colour chunks only (eXIf, tEXt, zTXt, iTXt, tIME and
unknown chunks go), each chunk's CRC checked. Pillow then reads the header of what is kept:
its format must be what the bytes said, and it gives the size.
"""

from __future__ import annotations

import hashlib
import io
import struct
import warnings
import zlib
from dataclasses import dataclass

from PIL import Image

from geo_service.errors import InvalidParameter, PayloadTooLarge

JPEG_SOI = b"\xff\xd8"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MEDIA_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png"}
ORIENTATION = 0x0112
# JPEG segments kept: JFIF/JFXX (APP0), ICC profile (APP2 "ICC_PROFILE" only), Adobe (APP14)
_KEEP_APP = {0xE0, 0xEE}
_ICC = b"ICC_PROFILE\x00"
# markers with no length: TEM, RST0-7 (SOI and EOI are handled apart)
_STANDALONE = {0x01, *range(0xD0, 0xD8)}
# PNG chunks kept: the image and how to show its colours
_PNG_KEEP = {
    b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"cHRM", b"gAMA", b"iCCP", b"sBIT", b"sRGB",
    b"cICP", b"bKGD", b"hIST", b"pHYs", b"sPLT", b"acTL", b"fcTL", b"fdAT",
}  # fmt: skip
MAX_PIXELS = 100_000_000  # a phone photo has at most some 50 million


@dataclass(frozen=True, slots=True)
class Photo:
    """A photo as stored: media type, size in pixels, bytes and their SHA-256."""

    media_type: str
    width: int
    height: int
    data: bytes
    sha256: bytes


def clean_photo(raw: bytes, *, max_bytes: int, label: str = "photo") -> Photo:
    """The photo without its location and metadata; PayloadTooLarge over ``max_bytes``,
    InvalidParameter (parameter photos) when the bytes are not a whole JPEG or PNG image."""
    if len(raw) > max_bytes:
        raise PayloadTooLarge(
            f"{label} is {len(raw)} bytes; at most {max_bytes} are accepted", parameter="photos"
        )
    if raw.startswith(JPEG_SOI + b"\xff"):
        data, expected = strip_jpeg(raw, label=label), "JPEG"
    elif raw.startswith(PNG_SIGNATURE):
        data, expected = strip_png(raw, label=label), "PNG"
    else:
        raise InvalidParameter(
            f"{label} is neither a JPEG nor a PNG image (its content is checked, not its name "
            "or type)",
            parameter="photos",
        )
    width, height = _header(data, expected, label)
    return Photo(MEDIA_TYPES[expected], width, height, data, hashlib.sha256(data).digest())


def _header(data: bytes, expected: str, label: str) -> tuple[int, int]:
    """Size of the image as Pillow reads its header; refused unless the format is expected."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[expected]) as image:
                width, height = image.size
    except Exception as exc:
        raise _broken(label, expected, f"its header cannot be read ({type(exc).__name__})") from exc
    if width <= 0 or height <= 0 or width * height > MAX_PIXELS:
        raise _broken(label, expected, f"{width}×{height} pixels is not a photo")
    return width, height


def _broken(label: str, kind: str, why: str) -> InvalidParameter:
    return InvalidParameter(f"{label} is not a whole {kind} image: {why}", parameter="photos")


def strip_jpeg(raw: bytes, *, label: str = "photo") -> bytes:
    """The JPEG with only the segments that show the image, and its orientation."""
    out = [JPEG_SOI]
    orientation: int | None = None
    exif_at = 1  # where the minimal Exif block goes: after SOI, or after JFIF
    pos, end = 2, len(raw)
    scanning = False  # inside entropy-coded data, after a start of scan
    while True:
        if scanning:  # the scan's data, byte for byte, up to the next marker
            following = _next_marker(raw, pos)
            if following < 0:
                raise _broken(label, "JPEG", "it ends before its end-of-image marker")
            out.append(raw[pos:following])
            pos = following
        if pos + 2 > end or raw[pos] != 0xFF:
            raise _broken(label, "JPEG", f"no marker at byte {pos}")
        marker = raw[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xD9:  # end of image: whatever follows is not this image
            out.append(b"\xff\xd9")
            break
        if marker in _STANDALONE:
            out.append(raw[pos : pos + 2])
            pos += 2
            continue
        if marker == 0xD8 or pos + 4 > end:
            raise _broken(label, "JPEG", f"a misplaced marker at byte {pos}")
        (length,) = struct.unpack(">H", raw[pos + 2 : pos + 4])
        stop = pos + 2 + length
        if length < 2 or stop > end:
            raise _broken(label, "JPEG", f"a segment at byte {pos} runs past the end")
        segment = raw[pos:stop]
        if marker == 0xE1 and segment[4:10] == b"Exif\x00\x00" and orientation is None:
            orientation = _orientation(segment[4:])
        if _keep_segment(marker, segment):
            out.append(segment)
            if marker == 0xE0 and len(out) == 2:
                exif_at = 2
        pos = stop
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            scanning = True
    if orientation not in (None, 1):
        out.insert(exif_at, _exif_segment(int(orientation)))
    return b"".join(out)


def _keep_segment(marker: int, segment: bytes) -> bool:
    """Whether a JPEG segment stays: not APPn metadata (but JFIF, ICC and Adobe) nor COM."""
    if marker == 0xFE:  # comment
        return False
    if 0xE0 <= marker <= 0xEF:
        return marker in _KEEP_APP or (marker == 0xE2 and segment[4:16] == _ICC)
    return True


def _next_marker(raw: bytes, pos: int) -> int:
    """Position of the next marker in entropy-coded data (0xFF not followed by a stuffed zero
    or a restart marker), -1 if none."""
    while True:
        pos = raw.find(b"\xff", pos)
        if pos < 0 or pos + 1 >= len(raw):
            return -1
        following = raw[pos + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
            pos += 1
            continue
        return pos


def _orientation(exif: bytes) -> int | None:
    """The orientation tag of an Exif block (b"Exif\\0\\0" and a TIFF header), if readable."""
    try:
        data = Image.Exif()
        data.load(exif)
        value = data.get(ORIENTATION)
    except Exception:
        return None
    return value if isinstance(value, int) and 1 <= value <= 8 else None


def _exif_segment(orientation: int) -> bytes:
    """An APP1 segment holding an Exif block with the orientation and nothing else."""
    data = Image.Exif()
    data[ORIENTATION] = orientation
    payload = data.tobytes()
    if not payload.startswith(b"Exif\x00\x00"):
        payload = b"Exif\x00\x00" + payload
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def strip_png(raw: bytes, *, label: str = "photo") -> bytes:
    """The PNG with its image and colour chunks only, every chunk's CRC checked."""
    out = [PNG_SIGNATURE]
    pos, end = len(PNG_SIGNATURE), len(raw)
    first = True
    while True:
        if pos + 12 > end:
            raise _broken(label, "PNG", "it ends before its IEND chunk")
        (length,) = struct.unpack(">I", raw[pos : pos + 4])
        kind = raw[pos + 4 : pos + 8]
        stop = pos + 12 + length
        if stop > end:
            raise _broken(label, "PNG", f"the {kind!r} chunk at byte {pos} runs past the end")
        (crc,) = struct.unpack(">I", raw[stop - 4 : stop])
        if zlib.crc32(raw[pos + 4 : stop - 4]) != crc:
            raise _broken(label, "PNG", f"the {kind!r} chunk at byte {pos} has a wrong CRC")
        if first and kind != b"IHDR":
            raise _broken(label, "PNG", "it does not start with IHDR")
        first = False
        if kind in _PNG_KEEP:
            out.append(raw[pos:stop])
        pos = stop
        if kind == b"IEND":
            break
    return b"".join(out)
