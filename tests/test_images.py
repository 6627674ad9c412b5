"""Images in and out: readers, decoders, PNM, formats, writers and atomic output.

PNM: core/io/pnm.py.
"""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from flipconv.core._shared.errors import ImageReadError, ImageWriteError, ResourceLimitError
from flipconv.core.io.atomic import write_bytes_atomic
from flipconv.core.io.formats import format_for_path, sniff
from flipconv.core.io.readers import read_image
from flipconv.core.io.writers import encode_image, write_image
from forged import png_header
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image as PILImage

RNG = np.random.default_rng(11)


def sample(dtype: str, channels: int | None, shape: tuple[int, int] = (5, 7)) -> np.ndarray:
    full = shape if channels is None else (*shape, channels)
    if dtype == "uint8":
        return RNG.integers(0, 256, full, dtype=np.uint8)
    if dtype == "uint16":
        return RNG.integers(0, 65536, full, dtype=np.uint16)
    return (RNG.random(full) * 1.5 - 0.25).astype(dtype)


LOSSLESS = [
    (fmt, dtype, channels)
    for fmt, dtypes, chans in [
        ("png", ("uint8", "uint16"), (None, 2, 3, 4)),
        ("tiff", ("uint8", "uint16", "float32", "float64"), (None, 2, 3, 4)),
        ("pnm", ("uint8", "uint16"), (None, 2, 3, 4)),
        ("npy", ("uint8", "uint16", "float32", "float64"), (None, 2, 3, 4)),
        ("bmp", ("uint8",), (None, 3)),
    ]
    for dtype in dtypes
    for channels in chans
]


@pytest.mark.parametrize(("fmt", "dtype", "channels"), LOSSLESS)
def test_lossless_round_trips(fmt: str, dtype: str, channels: int | None) -> None:
    pixels = sample(dtype, channels)
    data = encode_image(pixels, fmt)
    assert sniff(data) == fmt
    back = read_image(data)
    assert back.format == fmt
    assert back.pixels.dtype == pixels.dtype
    assert back.pixels.shape == pixels.shape
    np.testing.assert_array_equal(back.pixels, pixels)


@pytest.mark.parametrize(("fmt", "dtype", "channels"), LOSSLESS)
def test_lossless_round_trips_through_a_file(
    fmt: str, dtype: str, channels: int | None, tmp_path: Path
) -> None:
    # TIFF, NPY and BMP are encoded into the file itself, PNG and PNM as bytes
    pixels = sample(dtype, channels, (9, 11))
    target = tmp_path / f"out.{fmt}"
    target.write_bytes(b"x" * 100_000)  # longer than the image: nothing of it may remain
    write_image(pixels, target)
    assert target.read_bytes() == encode_image(pixels, fmt)
    np.testing.assert_array_equal(read_image(target).pixels, pixels)
    assert [p.name for p in tmp_path.iterdir()] == [target.name]
    write_image(pixels, "/dev/null", fmt=fmt)  # a device is written as a stream


def test_jpeg_round_trip_is_close() -> None:
    y, x = np.mgrid[0:32, 0:32]
    pixels = np.stack([x * 8, y * 8, (x + y) * 4], axis=-1).astype(np.uint8)
    back = read_image(encode_image(pixels, "jpeg"))
    assert back.pixels.shape == pixels.shape
    assert np.abs(back.pixels.astype(int) - pixels).mean() < 2


@pytest.mark.parametrize(
    ("fmt", "dtype", "channels", "message"),
    [
        ("png", "float32", None, "PNG cannot store float32"),
        ("jpeg", "uint16", 3, "JPEG cannot store uint16"),
        ("jpeg", "uint8", 4, "JPEG cannot store an alpha channel"),
        ("bmp", "uint8", 2, "BMP cannot store an alpha channel"),
        ("pnm", "float64", 3, "PNM cannot store float64"),
        ("gif", "uint8", 3, "cannot write 'gif'"),
    ],
)
def test_unstorable_combinations_fail_clearly(
    fmt: str, dtype: str, channels: int | None, message: str
) -> None:
    with pytest.raises(ImageWriteError, match=message):
        encode_image(sample(dtype, channels), fmt)


def test_palette_with_transparency_keeps_alpha() -> None:
    im = PILImage.new("P", (4, 2))
    im.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    im.putpixel((1, 0), 1)
    buf = io.BytesIO()
    im.save(buf, format="PNG", transparency=0)
    pixels = read_image(buf.getvalue()).pixels
    assert pixels.shape == (2, 4, 4)
    assert pixels[0, 1].tolist() == [0, 0, 255, 255]
    assert pixels[0, 0].tolist() == [255, 0, 0, 0]


def test_one_bit_png_becomes_0_and_255() -> None:
    im = PILImage.new("1", (3, 1))
    im.putpixel((1, 0), 1)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    pixels = read_image(buf.getvalue()).pixels
    assert pixels.dtype == np.uint8 and pixels.tolist() == [[0, 255, 0]]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"P2\n# gray\n3 1\n1023\n0 1023 512\n", [[0, 65535, 32800]]),
        (b"P1\n3 2\n1 0 1\n010\n", [[0, 255, 0], [255, 0, 255]]),
        (b"P4\n3 1\n\xa0", [[0, 255, 0]]),
        (b"P5 2 1 255\n\x05\xfa", [[5, 250]]),
        (b"P5\n2 1\n65535\n\x01\x02\xff\xff", [[258, 65535]]),
    ],
)
def test_pnm_variants(data: bytes, expected: list[list[int]]) -> None:
    assert read_image(data).pixels.tolist() == expected


def test_pam_with_alpha() -> None:
    data = (
        b"P7\nWIDTH 2\nHEIGHT 1\nDEPTH 2\nMAXVAL 255\nTUPLTYPE GRAYSCALE_ALPHA\nENDHDR\n"
        b"\x01\x02\x03\x04"
    )
    assert read_image(data).pixels.tolist() == [[[1, 2], [3, 4]]]


def test_multipage_tiff_takes_first_page_with_a_note() -> None:
    import tifffile

    buf = io.BytesIO()
    with tifffile.TiffWriter(buf) as tw:
        tw.write(np.full((3, 4), 7, np.uint8))
        tw.write(np.full((3, 4), 9, np.uint8))
    image = read_image(buf.getvalue(), name="stack.tif")
    assert image.pixels.tolist() == [[7] * 4] * 3
    assert image.notes == ("stack.tif: has 2 pages; using the first",)


def test_animated_gif_takes_first_frame_with_a_note() -> None:
    frames = [PILImage.new("L", (4, 3), v) for v in (10, 200)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    image = read_image(buf.getvalue(), name="anim.gif")
    assert image.pixels.shape == (3, 4, 3)
    assert int(image.pixels[0, 0, 0]) == 10
    assert "has 2 frames; using the first" in image.notes[0]


def png_with_size(width: int, height: int) -> bytes:
    return png_header(width, height)


def test_decompression_bomb_refused_from_the_header() -> None:
    with pytest.raises(ResourceLimitError, match="100000x100000 is 10,000,000,000 pixels"):
        read_image(png_with_size(100_000, 100_000))
    with pytest.raises(ResourceLimitError, match="over the limit of 100"):
        read_image(encode_image(np.zeros((20, 20), np.uint8), "png"), max_pixels=100)
    with pytest.raises(ResourceLimitError):
        read_image(b"P5\n99999 99999\n255\n")
    with pytest.raises(ResourceLimitError):
        read_image(encode_image(np.zeros((20, 20), np.uint8), "tiff"), max_pixels=100)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty input"),
        (b"hello, I am text", "not a recognised image"),
        (b"\x89PNG\r\n\x1a\n" + os.urandom(64), "corrupt|truncated"),
        (png_with_size(0, 5), "has no pixels"),
        (b"P5\n4 4\n255\n\x00\x00", "truncated PNM"),
        (b"P6\n2 2\n255\n", "truncated PNM"),
        (b"P6\n2 2\n", "corrupt PNM header"),
        (b"P5\nx y\n255\n", "corrupt PNM header"),
        (b"\x93NUMPY\x01\x00" + b"\x00" * 8, "corrupt NPY header"),
        (b"II*\x00" + b"\x00" * 12, "corrupt TIFF header"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 12, "corrupt JPEG header"),
    ],
)
def test_bad_bytes_raise_read_errors(data: bytes, message: str) -> None:
    with pytest.raises(ImageReadError, match=message):
        read_image(data)


@pytest.mark.parametrize("fmt", ["png", "jpeg", "tiff", "npy", "pnm", "bmp"])
def test_truncated_files_raise_read_errors(fmt: str) -> None:
    data = encode_image(sample("uint8", 3, (40, 50)), fmt)
    for cut in (len(data) // 2, len(data) - 7):
        with pytest.raises((ImageReadError, ResourceLimitError)):
            read_image(data[:cut])


def test_unsupported_sample_types() -> None:
    buf = io.BytesIO()
    np.save(buf, np.zeros((3, 3), np.int16))
    with pytest.raises(ImageReadError, match="int16 samples are not supported"):
        read_image(buf.getvalue())
    buf = io.BytesIO()
    np.save(buf, np.zeros((3, 3, 6), np.uint8))
    with pytest.raises(ImageReadError, match="6 channels"):
        read_image(buf.getvalue())


def test_paths(tmp_path: Path) -> None:
    with pytest.raises(ImageReadError, match="no such file"):
        read_image(tmp_path / "missing.png")
    with pytest.raises(ImageReadError, match="is a directory"):
        read_image(tmp_path)
    assert format_for_path("a.JPEG") == "jpeg"
    with pytest.raises(ImageWriteError, match="extension '.xyz' does not name an output format"):
        format_for_path("a.xyz")


def test_atomic_write_replaces_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.png"
    write_image(np.zeros((2, 2), np.uint8), target)
    first = target.read_bytes()
    with pytest.raises(ImageWriteError):
        write_image(np.zeros((2, 2), np.float32), target)  # PNG cannot store floats
    assert target.read_bytes() == first
    write_image(np.full((2, 2), 9, np.uint8), target)
    assert read_image(target).pixels.tolist() == [[9, 9], [9, 9]]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]


def test_atomic_write_cleans_up_on_interrupt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def interrupted(src: str, dst: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_bytes_atomic(b"new", target)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_write_errors(tmp_path: Path) -> None:
    with pytest.raises(ImageWriteError, match="does not exist"):
        write_image(np.zeros((2, 2), np.uint8), tmp_path / "nope" / "out.png")
    (tmp_path / "dir.png").mkdir()
    with pytest.raises(ImageWriteError, match="is a directory"):
        write_image(np.zeros((2, 2), np.uint8), tmp_path / "dir.png")


@pytest.mark.parametrize("fmt", ["png", "tiff", "npy"])
def test_full_disk_leaves_no_partial_file(
    fmt: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    target = tmp_path / f"out.{fmt}"
    target.write_bytes(b"previous")
    real_fsync = os.fsync

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(ImageWriteError, match="No space left on device"):
        write_image(np.zeros((4, 4), np.uint8), target)
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


@pytest.mark.parametrize("codec", ["zlib-ng", "zlib"])
@pytest.mark.parametrize("level", [0, 1, 3, 9])
@pytest.mark.parametrize("threads", [1, 2, 5])
def test_png_encoder_levels_and_threads_are_lossless(
    codec: str, level: int, threads: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flipconv.core.io import pngwrite
    from flipconv.core.io.pngwrite import encode_png

    monkeypatch.setattr(pngwrite, "_PART_BYTES", 4096)  # many deflate parts per image
    rng = np.random.default_rng(level * 10 + threads)
    for pixels in (
        rng.integers(0, 256, (300, 41, 3), dtype=np.uint8),
        rng.integers(0, 65536, (200, 13, 4), dtype=np.uint16),
        rng.integers(0, 256, (1, 1), dtype=np.uint8),
    ):
        data = encode_png(pixels, level=level, threads=threads, codec=codec)
        assert (
            zlib.decompress(data[data.index(b"IDAT") + 4 : -16]) is not None
        )  # plain zlib inflates it
        decoded = PILImage.open(io.BytesIO(data))
        decoded.load()  # Pillow checks the zlib stream and CRCs
        decoded.close()
        np.testing.assert_array_equal(read_image(data).pixels, pixels)


def test_png_bytes_do_not_depend_on_threads() -> None:
    # A batch run with -j2 gives each file fewer threads than -j1 does; the
    # files must still be byte-identical. 3 MiB of rows makes several parts.
    from flipconv.core.io.pngwrite import encode_png

    pixels = np.random.default_rng(5).integers(0, 256, (1024, 1024, 3), dtype=np.uint8)
    outputs = {encode_png(pixels, threads=t) for t in (1, 2, 3, 8)}
    assert len(outputs) == 1
    np.testing.assert_array_equal(read_image(outputs.pop()).pixels, pixels)


def test_png_compression_level_is_checked() -> None:
    with pytest.raises(ImageWriteError, match="between 0 and 9"):
        encode_image(np.zeros((2, 2), np.uint8), "png", compression=11)
    small = encode_image(np.zeros((64, 64), np.uint8), "png", compression=9)
    none = encode_image(np.zeros((64, 64), np.uint8), "png", compression=0)
    assert len(small) < len(none)


def test_sixteen_bit_png_is_read_exactly_and_damage_is_one_clean_line(tmp_path: Path) -> None:

    rng = np.random.default_rng(4)
    for channels in (2, 3, 4):
        pixels = rng.integers(0, 65536, (17, 23, channels), dtype=np.uint16)
        np.testing.assert_array_equal(read_image(encode_image(pixels, "png")).pixels, pixels)
    data = bytearray(encode_image(rng.integers(0, 65536, (40, 50, 3), dtype=np.uint16), "png"))
    data[len(data) // 2] ^= 0xFF  # inside the pixel data
    with pytest.raises(ImageReadError, match="'IDAT' chunk fails its CRC"):
        read_image(bytes(data))
    bad = tmp_path / "bad.png"
    bad.write_bytes(bytes(data))
    run = _box_in_a_process(bad, tmp_path / "o.png")
    assert run.returncode == 1
    assert run.stderr.decode().splitlines() == [
        f"flipconv: error: {bad}: corrupt PNG ('IDAT' chunk fails its CRC)"
    ]
    assert not (tmp_path / "o.png").exists()


# ---------------------------------------------------------------- 8-bit PNG through libpng

PNG_MODES = [("L", None), ("LA", 2), ("RGB", 3), ("RGBA", 4)]


def _with_chunk_before_idat(data: bytes, chunk: bytes) -> bytes:
    at = data.index(b"IDAT") - 4
    return data[:at] + chunk + data[at:]


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _inflate_damaged(data: bytes) -> bytes:
    """The first IDAT's deflate stream damaged, its CRC made right again."""
    out = bytearray(data)
    at = data.index(b"IDAT") - 4
    (length,) = struct.unpack(">I", data[at : at + 4])
    out[at + 8 + length // 2] ^= 0xFF
    out[at + 8 + length : at + 12 + length] = struct.pack(
        ">I", zlib.crc32(bytes(out[at + 4 : at + 8 + length]))
    )
    return bytes(out)


@pytest.mark.parametrize(("mode", "channels"), PNG_MODES)
def test_eight_bit_png_is_read_by_libpng_as_stored(
    mode: str, channels: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cv2

    calls: list[int] = []
    real = cv2.imdecode
    monkeypatch.setattr(cv2, "imdecode", lambda *a: calls.append(1) or real(*a))
    pixels = sample("uint8", channels, (37, 53))
    buffer = io.BytesIO()
    PILImage.fromarray(pixels, mode).save(buffer, "png")  # Pillow's adaptive row filters
    np.testing.assert_array_equal(read_image(buffer.getvalue()).pixels, pixels)
    assert calls, "OpenCV did not decode it"


@pytest.mark.parametrize(("mode", "channels"), PNG_MODES)
@pytest.mark.parametrize("depth", ["uint8", "uint16"])
def test_png_exif_orientation_does_not_turn_the_samples(
    mode: str, channels: int | None, depth: str
) -> None:
    """flipconv filters samples as stored: an eXIf "rotate 90" (orientation 6) turns nothing."""
    pixels = sample(depth, channels, (23, 41))
    exif = PILImage.Exif()
    exif[0x0112] = 6
    if depth == "uint16":  # Pillow writes no 16-bit colour: flipconv's encoder, and the chunk
        from flipconv.core.io.pngwrite import encode_png

        data = _with_exif(encode_png(pixels), exif.tobytes())
    else:
        buffer = io.BytesIO()
        PILImage.fromarray(pixels, mode).save(buffer, "png", exif=exif)
        data = buffer.getvalue()
    assert b"eXIf" in data
    got = read_image(data).pixels
    assert got.shape == pixels.shape
    np.testing.assert_array_equal(got, pixels)


def _with_exif(png: bytes, exif: bytes) -> bytes:
    """``png`` with an eXIf chunk after its IHDR."""
    body = exif[6:] if exif.startswith(b"Exif\x00\x00") else exif
    chunk = struct.pack(">I", len(body)) + b"eXIf" + body
    chunk += struct.pack(">I", zlib.crc32(b"eXIf" + body))
    return png[:33] + chunk + png[33:]


@pytest.mark.parametrize(("mode", "channels"), PNG_MODES)
def test_interlaced_png_is_read_as_stored(mode: str, channels: int | None, tmp_path: Path) -> None:
    import shutil
    import subprocess

    if shutil.which("convert") is None:
        pytest.skip("ImageMagick writes the interlaced files")
    pixels = sample("uint8", channels, (29, 31))
    plain, interlaced = tmp_path / "plain.png", tmp_path / "interlaced.png"
    PILImage.fromarray(pixels, mode).save(plain)
    subprocess.run(["convert", str(plain), "-interlace", "PNG", str(interlaced)], check=True)
    assert interlaced.read_bytes()[28] == 1  # Adam7
    np.testing.assert_array_equal(read_image(interlaced).pixels, pixels)


def test_transparency_key_png_keeps_its_samples() -> None:
    pixels = sample("uint8", 3, (6, 9))
    buffer = io.BytesIO()
    PILImage.fromarray(pixels).save(buffer, "png", transparency=(1, 2, 3))
    np.testing.assert_array_equal(read_image(buffer.getvalue()).pixels, pixels)


@pytest.mark.parametrize("dtype", ["uint8", "uint16"])
def test_png_whose_pixel_data_does_not_inflate_is_one_clean_line(
    dtype: str, tmp_path: Path
) -> None:

    bad = tmp_path / "bad.png"
    bad.write_bytes(_inflate_damaged(encode_image(sample(dtype, 3, (40, 50)), "png")))
    with pytest.raises(ImageReadError, match="corrupt PNG"):
        read_image(bad)
    run = _box_in_a_process(bad, tmp_path / "o.png")
    assert run.returncode == 1
    lines = run.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"flipconv: error: {bad}: corrupt PNG ("), lines
    assert not (tmp_path / "o.png").exists()


def test_libpng_complaints_about_metadata_stay_off_stderr(tmp_path: Path) -> None:
    import subprocess
    import sys

    pixels = sample("uint8", 3, (20, 30))
    data = encode_image(pixels, "png")
    for chunk in (_chunk(b"sRGB", b"\x09"), _chunk(b"iCCP", b"x\x00\x00" + zlib.compress(b"?"))):
        data = _with_chunk_before_idat(
            data, chunk
        )  # libpng warns: "sRGB: invalid", "iCCP: too short"
    src = tmp_path / "odd.png"
    src.write_bytes(data)
    image = read_image(src)
    np.testing.assert_array_equal(image.pixels, pixels)
    assert image.notes == ()
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "flipconv.cli",
            "convolve",
            "-k",
            "box:1",
            str(src),
            "-o",
            str(tmp_path / "o.png"),
        ],
        capture_output=True,
        timeout=60,
    )
    assert (run.returncode, run.stderr) == (0, b"")
    np.testing.assert_array_equal(read_image(tmp_path / "o.png").pixels, pixels)


def test_what_others_print_meanwhile_still_reaches_stderr(
    capfd: pytest.CaptureFixture[str],
) -> None:
    from flipconv.core.io.decoders import stderr_captured

    with stderr_captured() as said:
        os.write(2, b"libpng warning: kept aside\nsomething else\n")
    assert said == ["libpng warning: kept aside"]
    assert capfd.readouterr().err == "something else\n"


def _box_in_a_process(src: Path, out: Path) -> subprocess.CompletedProcess[bytes]:
    """``flipconv convolve -k box SRC -o OUT`` as a real process."""
    command = [sys.executable, "-m", "flipconv.cli", "convolve", "-k", "box", str(src), "-o"]
    return subprocess.run([*command, str(out)], capture_output=True, timeout=60)


@settings(max_examples=200, deadline=None)
@given(
    parts=st.lists(st.binary(max_size=300), min_size=1, max_size=6),
    long=st.sampled_from([0, 65520, 65521, 200_000]),
    fill=st.integers(0, 255),
)
def test_adler32_of_parts_joined_is_that_of_the_whole(
    parts: list[bytes], long: int, fill: int
) -> None:
    """The encoder sums each part of the rows on its own thread: joined, the sums
    must be zlib's for the whole stream (long parts pass the modulus)."""
    from flipconv.core.io.pngwrite import adler32_joined

    parts = [*parts, bytes([fill]) * long, *parts[:1]]
    checksum = 1
    for part in parts:
        checksum = adler32_joined(checksum, zlib.adler32(part), len(part))
    assert checksum == zlib.adler32(b"".join(parts))
