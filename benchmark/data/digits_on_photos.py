"""An image folder that can be made on any machine with this repository's
requirements and MNIST, offline: coloured MNIST digits on crops of photos.

    python -m benchmark.data.digits_on_photos data/digits-on-photos --count 2000

Each image is 64x64 RGB, saved as a JPEG (quality 90) under ``<digit>/``, as
an image folder of any size holds them. Its background is a random square
crop (a tenth to two thirds of the photo's shorter side, mirrored at random)
of one of the photos that installed packages ship (matplotlib's
``grace_hopper.jpg``, scikit-learn's ``china.jpg`` and ``flower.jpg``), resized
to 64x64 and darkened to half its brightness; on it, one MNIST training digit,
scaled to 36 to 56 pixels, is drawn in a random saturated colour at a random
place, its grey level the alpha. The same ``--seed`` and MNIST give the same
files, byte for byte (the JPEG encoder is PIL's, pinned in requirements.txt).

Why this data: the 64x64 example needs a folder of photographs that a test
machine without network can make, with content a GAN learns visibly in
minutes on a CPU (bright digit shapes) over varied natural textures (real
photos' JPEG statistics, not noise), like the faces of CelebA over their
backgrounds. It is an example, not a benchmark data set.
"""

from __future__ import annotations

import argparse
import colorsys
import importlib.util
import sys
from pathlib import Path

import numpy as np
from PIL import Image

SIZE = 64
JPEG_QUALITY = 90
PHOTOS = (("matplotlib", "mpl-data/sample_data/grace_hopper.jpg"),
          ("sklearn", "datasets/images/china.jpg"), ("sklearn", "datasets/images/flower.jpg"))


def photo_paths() -> list[Path]:
    """The shipped photos, found without importing their packages."""
    paths = []
    for package, relative in PHOTOS:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise FileNotFoundError(f"{package} is not installed; `make install` installs it")
        paths.append(Path(next(iter(spec.submodule_search_locations))) / relative)
    return paths


def compose(photo: Image.Image, digit: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """One 64x64 RGB image: `digit` (28x28 uint8) coloured, on a crop of `photo`."""
    short = min(photo.size)
    side = int(rng.integers(short // 10, 2 * short // 3))
    left = int(rng.integers(0, photo.width - side + 1))
    top = int(rng.integers(0, photo.height - side + 1))
    background = photo.crop((left, top, left + side, top + side)).resize((SIZE, SIZE), Image.BILINEAR)
    if rng.random() < 0.5:
        background = background.transpose(Image.FLIP_LEFT_RIGHT)
    base = np.asarray(background, np.float32) * 0.5
    scale = int(rng.integers(36, 57))
    alpha = np.asarray(Image.fromarray(digit).resize((scale, scale), Image.BILINEAR), np.float32)[..., None] / 255
    colour = np.array(colorsys.hsv_to_rgb(rng.random(), 0.6 + 0.4 * rng.random(), 1.0), np.float32) * 255
    x, y = (int(v) for v in rng.integers(0, SIZE - scale + 1, 2))
    patch = base[y:y + scale, x:x + scale]
    base[y:y + scale, x:x + scale] = patch * (1 - alpha) + colour * alpha
    return Image.fromarray(np.round(base).astype(np.uint8))


def make_folder(out: Path, count: int, seed: int = 0, data_dir: str | None = None) -> list[Path]:
    """Writes `count` images under `out` (created); returns their paths."""
    from benchmark.data import load_pixels

    digits, labels = load_pixels("mnist", "train", data_dir)
    photos = [Image.open(path).convert("RGB") for path in photo_paths()]
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(digits), size=count, replace=False)
    written = []
    for i, row in enumerate(chosen):
        image = compose(photos[i % len(photos)], digits[row, :, :, 0], rng)
        path = out / str(labels[row]) / f"{i:05d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path, "JPEG", quality=JPEG_QUALITY)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmark.data.digits_on_photos",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="the folder to write (created)")
    parser.add_argument("--count", type=int, default=2000, help="images (default 2000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", help="MNIST's folder (default: MNIST's search order)")
    args = parser.parse_args(argv)
    written = make_folder(args.out, args.count, args.seed, args.data_dir)
    print(f"{len(written)} images in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
