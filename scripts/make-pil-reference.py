#!/usr/bin/python3
"""Builds the PIL reference fixtures in test/fixtures/image/ that vlmkit's preprocessing is compared to.

Run with Debian's Python and Pillow (apt-get install python3-pil python3-numpy):
    /usr/bin/python3 scripts/make-pil-reference.py

It writes
  reference-320x240.png        deterministic synthetic RGB image (gradients, edges, fine detail)
  reference-40x30.png          a crop of it, for an upsampling case
  reference-64x48.png          another crop, for upscaling to 224x224, a mixed 224x32 and NaFlex 256
  reference.json               one entry per case: file, dims, resample, target size
  <case>.f32.gz                gzip of the float32 little-endian output of that case
  cmyk-16x12.jpg + cmyk-16x12.rgb   a CMYK JPEG and PIL's convert("RGB") of it ([H, W, 3] uint8)

The processing mirrors transformers' slow (PIL) image processors: PIL resize of the uint8 image with
reducing_gap=None, back to uint8, rescale in float64 then cast to float32, normalize in float32.
"""
import gzip
import json
import math
import os
import sys

import numpy as np
from PIL import Image

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "image")
FILTERS = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC}


def synthetic_image(width=320, height=240):
    """Smooth gradients, hard edges, a fine checkerboard, thin lines and a glyph-like block pattern."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    r = 255 * x / (width - 1)
    g = 255 * y / (height - 1)
    b = 127.5 + 127.5 * np.sin(x / 9.0) * np.cos(y / 13.0)
    img = np.stack([r, g, b], axis=-1)
    # Hard-edged rectangle and disc.
    img[40:100, 30:130] = [230, 30, 40]
    disc = (x - 240) ** 2 + (y - 70) ** 2 < 40 ** 2
    img[disc] = [20, 40, 220]
    # One-pixel checkerboard: aliasing shows up here first if a kernel does not antialias.
    checker = ((x.astype(int) + y.astype(int)) % 2 == 0) & (y >= 130) & (y < 180) & (x >= 20) & (x < 120)
    img[checker] = [255, 255, 255]
    img[((x.astype(int) + y.astype(int)) % 2 == 1) & (y >= 130) & (y < 180) & (x >= 20) & (x < 120)] = [0, 0, 0]
    # Thin horizontal and vertical lines.
    img[(y >= 120) & (y < 230) & (x.astype(int) % 7 == 0) & (x >= 150) & (x < 220)] = [0, 0, 0]
    img[(y.astype(int) % 5 == 0) & (y >= 120) & (y < 230) & (x >= 230) & (x < 310)] = [255, 255, 0]
    # "Text": 5x7 blocks of pseudo-random on/off cells from a fixed LCG.
    state = 12345
    for row in range(3):
        for col in range(20):
            for cy in range(7):
                for cx in range(5):
                    state = (1103515245 * state + 12345) % (2 ** 31)
                    if (state >> 16) & 1:
                        y0, x0 = 190 + row * 16 + cy * 2, 130 + col * 9 + cx
                        if y0 + 2 <= height and x0 < width:
                            img[y0:y0 + 2, x0] = [10, 10, 10]
    return Image.fromarray(np.clip(np.round(img), 0, 255).astype(np.uint8), "RGB")


def rescale_normalize(arr_uint8, mean=0.5, std=0.5):
    """transformers: rescale in float64 → float32, then (x - mean) / std in float32."""
    x = (arr_uint8.astype(np.float64) * (1 / 255)).astype(np.float32)
    m = np.array([mean] * 3, dtype=np.float32)
    s = np.array([std] * 3, dtype=np.float32)
    return (x - m) / s


def naflex_size(height, width, patch, max_patches):
    """Largest scale (binary search on [1e-6, 100] to 1e-5) whose patch-rounded sides fit max_patches."""

    def side(scale, size):
        return max(patch, int(math.ceil(size * scale / patch) * patch))

    lo, hi = 1e-6, 100.0
    while hi - lo >= 1e-5:
        mid = (lo + hi) / 2
        if (side(mid, height) / patch) * (side(mid, width) / patch) <= max_patches:
            lo = mid
        else:
            hi = mid
    return side(lo, height), side(lo, width)


def patchify(hwc, patch):
    h, w, c = hwc.shape
    grid = hwc.reshape(h // patch, patch, w // patch, patch, c).transpose(0, 2, 1, 3, 4)
    return grid.reshape((h // patch) * (w // patch), patch * patch * c)


def write_case(cases, name, array, **meta):
    data = np.ascontiguousarray(array, dtype="<f4")
    with gzip.GzipFile(os.path.join(OUT, f"{name}.f32.gz"), "wb", mtime=0) as f:
        f.write(data.tobytes())
    cases.append({"name": name, "file": f"{name}.f32.gz", "dims": list(data.shape), **meta})


def main():
    os.makedirs(OUT, exist_ok=True)
    src = synthetic_image()
    src.save(os.path.join(OUT, "reference-320x240.png"), optimize=True)
    img = Image.open(os.path.join(OUT, "reference-320x240.png")).convert("RGB")
    cases = []
    for resample, flt in FILTERS.items():
        resized = np.array(img.resize((224, 224), resample=flt, reducing_gap=None))
        chw = rescale_normalize(resized).transpose(2, 0, 1)
        write_case(cases, f"fixed-224-{resample}", chw, kind="fixed", resample=resample, height=224, width=224)
    for max_patches in (256, 64):
        th, tw = naflex_size(img.height, img.width, 16, max_patches)
        resized = np.array(img.resize((tw, th), resample=Image.BILINEAR, reducing_gap=None))
        patches = patchify(rescale_normalize(resized), 16)
        padded = np.zeros((max_patches, patches.shape[1]), dtype=np.float32)
        padded[: patches.shape[0]] = patches
        write_case(cases, f"naflex-{max_patches}", padded, kind="naflex", resample="bilinear", patchSize=16,
                   maxNumPatches=max_patches, height=th, width=tw, numPatches=int(patches.shape[0]))
    # Upsampling: a 40x30 crop with edges and fine detail, enlarged to fill 256 patches.
    small = img.crop((100, 90, 140, 120))
    small.save(os.path.join(OUT, "reference-40x30.png"), optimize=True)
    th, tw = naflex_size(small.height, small.width, 16, 256)
    resized = np.array(small.resize((tw, th), resample=Image.BILINEAR, reducing_gap=None))
    patches = patchify(rescale_normalize(resized), 16)
    padded = np.zeros((256, patches.shape[1]), dtype=np.float32)
    padded[: patches.shape[0]] = patches
    write_case(cases, "naflex-256-upsample", padded, kind="naflex", image="reference-40x30.png", resample="bilinear",
               patchSize=16, maxNumPatches=256, height=th, width=tw, numPatches=int(patches.shape[0]))
    # Upscaling a 64x48 crop (hard edges, checkerboard, thin lines): fixed 224x224 with both filters, a
    # 224-wide strip that grows in width and shrinks in height, and NaFlex 256 (grows to 224x288).
    small = img.crop((90, 90, 154, 138))
    small.save(os.path.join(OUT, "reference-64x48.png"), optimize=True)
    for resample, flt in FILTERS.items():
        resized = np.array(small.resize((224, 224), resample=flt, reducing_gap=None))
        write_case(cases, f"fixed-224-{resample}-upscale", rescale_normalize(resized).transpose(2, 0, 1),
                   kind="fixed", image="reference-64x48.png", resample=resample, height=224, width=224)
    resized = np.array(small.resize((224, 32), resample=Image.BICUBIC, reducing_gap=None))
    write_case(cases, "fixed-224x32-bicubic-mixed", rescale_normalize(resized).transpose(2, 0, 1),
               kind="fixed", image="reference-64x48.png", resample="bicubic", height=32, width=224)
    th, tw = naflex_size(small.height, small.width, 16, 256)
    resized = np.array(small.resize((tw, th), resample=Image.BILINEAR, reducing_gap=None))
    patches = patchify(rescale_normalize(resized), 16)
    padded = np.zeros((256, patches.shape[1]), dtype=np.float32)
    padded[: patches.shape[0]] = patches
    write_case(cases, "naflex-256-upscale", padded, kind="naflex", image="reference-64x48.png", resample="bilinear",
               patchSize=16, maxNumPatches=256, height=th, width=tw, numPatches=int(patches.shape[0]))
    # A CMYK JPEG and what PIL's convert("RGB") makes of it (no ICC, PIL's own formula).
    y, x = np.mgrid[0:12, 0:16]
    cmyk = np.stack([x * 16, y * 20, (x + y) * 9, (x * y) % 256], axis=-1).astype(np.uint8)
    Image.fromarray(cmyk, "CMYK").save(os.path.join(OUT, "cmyk-16x12.jpg"), quality=95)
    decoded = Image.open(os.path.join(OUT, "cmyk-16x12.jpg"))
    assert decoded.mode == "CMYK", decoded.mode
    with open(os.path.join(OUT, "cmyk-16x12.rgb"), "wb") as f:
        f.write(np.array(decoded.convert("RGB")).tobytes())
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump({"image": "reference-320x240.png", "pillow": Image.__version__, "cases": cases}, f, indent=2)
        f.write("\n")
    # NaFlex target sizes for the unit-test table, computed independently of the TypeScript code.
    table = [(224, 224, 256), (100, 1000, 256), (1000, 100, 256), (10, 10, 256), (480, 640, 1024),
             (1, 5000, 256), (5000, 1, 256), (240, 320, 256), (240, 320, 64), (768, 1024, 576), (17, 33, 1),
             (3000, 2000, 729), (512, 512, 1024)]
    for h, w, m in table:
        print(json.dumps([h, w, m, *naflex_size(h, w, 16, m)]))
    print(f"wrote {len(cases)} cases to {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
