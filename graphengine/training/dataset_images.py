"""Keras 3's `image_dataset_from_directory`: image files indexed as Keras indexes them (class
folders, file order, shuffle, validation split), read with Pillow a batch at a time in a
PyDataset, so that fit's workers read files while the engine computes."""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from graphengine import common
from graphengine.training.pydataset import PyDataset

OWNER = "image_dataset_from_directory"
ALLOWLIST_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
CHANNELS = {"grayscale": 1, "rgb": 3, "rgba": 4}
# Pillow's filters for Keras's interpolations ("area" averages, as Pillow's box filter; see
# `resize` for bilinear and nearest)
FILTERS = {
    "bilinear": "BILINEAR",
    "nearest": "NEAREST",
    "bicubic": "BICUBIC",
    "area": "BOX",
    "lanczos3": "LANCZOS",
}
NOT_IN_PILLOW = ("lanczos5", "gaussian", "mitchellcubic")
READ_WORKERS = min(8, os.cpu_count() or 1)


class ImageDataset(PyDataset):
    """Batch i: the images `file_paths[order[i * batch_size : (i + 1) * batch_size]]`, read,
    resized and stacked as float32 (N, H, W, C) (channels first with data_format
    "channels_first"), with their labels per `label_mode` ("int": int32 (N,), "binary": float32
    (N, 1), "categorical": float32 (N, num_classes), None: images alone). `batch_size=None`
    gives one image per index. The first epoch follows `file_paths`; with `rng`, the order is
    drawn anew after every epoch. `workers` threads read ahead in fit (Pillow decodes and
    resizes without holding the GIL)."""

    def __init__(
        self,
        file_paths: list[str],
        labels: np.ndarray | None,
        label_mode: str | None,
        class_names: list[str] | None,
        batch_size: int | None,
        load: dict[str, Any],
        rng: np.random.RandomState | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("workers", READ_WORKERS)
        super().__init__(**kwargs)
        self.file_paths, self.labels, self.label_mode = file_paths, labels, label_mode
        self.class_names = class_names
        self.batch_size = batch_size
        self.load = load  # load_image's keyword arguments
        self._order = np.arange(len(file_paths))
        self._rng = rng

    def __len__(self) -> int:
        if self.batch_size is None:
            return len(self.file_paths)
        return math.ceil(len(self.file_paths) / self.batch_size)

    def __getitem__(self, index: int) -> Any:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"{type(self).__name__}: batch index {index} out of range [0, {n})")
        index %= n
        order = self._order  # one read: on_epoch_end replaces the array, never edits it
        if self.batch_size is None:
            chosen = order[index]
            images = load_image(self.file_paths[chosen], **self.load)
        else:
            chosen = order[index * self.batch_size : (index + 1) * self.batch_size]
            images = np.stack([load_image(self.file_paths[j], **self.load) for j in chosen])
        if self.label_mode is None:
            return images
        return images, self._encode(self.labels[chosen])

    def _encode(self, labels: Any) -> np.ndarray:
        if self.label_mode == "binary":
            return np.asarray(labels, np.float32)[..., None]
        if self.label_mode == "categorical":
            return np.eye(len(self.class_names), dtype=np.float32)[labels]
        return np.asarray(labels, np.int32)

    def on_epoch_end(self) -> None:
        if self._rng is not None:
            self._order = self._rng.permutation(self._order)


def load_image(
    path: str,
    image_size: tuple[int, int],
    num_channels: int,
    interpolation: str,
    data_format: str,
    crop_to_aspect_ratio: bool = False,
    pad_to_aspect_ratio: bool = False,
) -> np.ndarray:
    """One image file as float32 (H, W, C) of `image_size`, with Pillow: converted to
    `num_channels` (16- and 32-bit grayscale kept as they are, as Keras), cropped to the target
    aspect ratio first (Keras's smart_resize box) or resized to fit and padded with zeros
    (tf.image.resize_with_pad's box); see `resize`."""
    from PIL import Image

    with Image.open(path) as img:
        if num_channels == 1 and img.mode not in ("L", "I;16", "I;16L", "I;16B", "I", "F"):
            img = img.convert("L")
        elif num_channels != 1 and img.mode != ("RGB", "RGBA")[num_channels == 4]:
            img = img.convert(("RGB", "RGBA")[num_channels == 4])
        pixels = np.asarray(img, dtype=np.float32)
    pixels = pixels.reshape(pixels.shape[:2] + (num_channels,))
    height, width = image_size
    if crop_to_aspect_ratio:
        top, left, h, w = crop_box(pixels.shape[:2], image_size)
        pixels = resize(pixels[top : top + h, left : left + w], image_size, interpolation)
    elif pad_to_aspect_ratio:
        top, left, h, w = pad_box(pixels.shape[:2], image_size)
        padded = np.zeros((height, width, num_channels), np.float32)
        padded[top : top + h, left : left + w] = resize(pixels, (h, w), interpolation)
        pixels = padded
    else:
        pixels = resize(pixels, image_size, interpolation)
    return pixels.transpose(2, 0, 1) if data_format == "channels_first" else pixels


def resize(pixels: np.ndarray, size: tuple[int, int], interpolation: str) -> np.ndarray:
    """float32 (h, w, C) -> (size[0], size[1], C). "nearest" and "bilinear" give Keras's numbers
    (tf.image.resize: half-pixel centers, no antialiasing, up or down): nearest picks rows
    floor((i + 0.5) * h / H) in float32 as TensorFlow does (Pillow rounds ties the other way),
    bilinear is Pillow's affine transform, which samples the same points. The others are
    Pillow's resize filters on 32-bit float channels: Keras's numbers when enlarging (lanczos3
    exactly, bicubic within 0.1 of 255), antialiased when shrinking, where Keras's are not."""
    from PIL import Image

    height, width = pixels.shape[:2]
    if (height, width) == tuple(size):
        return pixels
    if interpolation == "nearest":
        return pixels[np.ix_(_nearest(height, size[0]), _nearest(width, size[1]))]
    channels = []
    for c in range(pixels.shape[2]):
        image = Image.fromarray(np.ascontiguousarray(pixels[..., c]))
        if interpolation == "bilinear":
            scale = (width / size[1], 0, 0, 0, height / size[0], 0)
            image = image.transform(
                (size[1], size[0]), Image.Transform.AFFINE, scale, Image.Resampling.BILINEAR
            )
        else:
            method = getattr(Image.Resampling, FILTERS[interpolation])
            image = image.resize((size[1], size[0]), resample=method)
        channels.append(np.asarray(image, dtype=np.float32))
    return np.stack(channels, axis=-1)


def _nearest(size: int, target: int) -> np.ndarray:
    """TensorFlow's nearest source index of each of `target` samples over `size` (float32)."""
    scale = np.float32(size) / np.float32(target)
    centers = (np.arange(target, dtype=np.float32) + np.float32(0.5)) * scale
    return np.minimum(np.floor(centers).astype(np.intp), size - 1)


def crop_box(shape: tuple[int, int], size: tuple[int, int]) -> tuple[int, int, int, int]:
    """(top, left, height, width) of the largest centered window of `shape` with `size`'s
    aspect ratio, in float32 as Keras's smart_resize computes it in a tf.data map."""
    height, width = shape
    f32 = np.float32
    crop_h = max(min(height, int(f32(width * size[0]) / f32(size[1]))), 1)
    crop_w = max(min(width, int(f32(height * size[1]) / f32(size[0]))), 1)
    return int(f32(height - crop_h) / f32(2)), int(f32(width - crop_w) / f32(2)), crop_h, crop_w


def pad_box(shape: tuple[int, int], size: tuple[int, int]) -> tuple[int, int, int, int]:
    """(top, left, height, width) of the image resized to fit in `size` with its aspect ratio
    kept, centered, in float32 as tf.image.resize_with_pad."""
    height, width = np.float32(shape[0]), np.float32(shape[1])
    target_h, target_w = np.float32(size[0]), np.float32(size[1])
    ratio = max(width / target_w, height / target_h)
    fit_h, fit_w = height / ratio, width / ratio
    top = max(0, int(np.floor((target_h - fit_h) / np.float32(2))))
    left = max(0, int(np.floor((target_w - fit_w) / np.float32(2))))
    return top, left, max(int(np.floor(fit_h)), 1), max(int(np.floor(fit_w)), 1)


def image_dataset_from_directory(
    directory: str | os.PathLike,
    labels: Any = "inferred",
    label_mode: str | None = "int",
    class_names: list[str] | None = None,
    color_mode: str = "rgb",
    batch_size: int | None = 32,
    image_size: Any = (256, 256),
    shuffle: bool = True,
    seed: int | None = None,
    validation_split: float | None = None,
    subset: str | None = None,
    interpolation: str = "bilinear",
    follow_links: bool = False,
    crop_to_aspect_ratio: bool = False,
    pad_to_aspect_ratio: bool = False,
    data_format: str | None = None,
    verbose: bool = True,
) -> ImageDataset | list[ImageDataset]:
    """The images under `directory` (.bmp, .gif, .jpeg, .jpg, .png; a gif's first frame) as an
    `ImageDataset` of float32 batches, read with Pillow when a batch is asked for. With
    `labels="inferred"` each subfolder is a class (sorted names, or `class_names`' order);
    `labels` may also list one integer per file in sorted path order, or be None. Files are
    in Keras's order (sorted folders and names; shuffled by np.random.RandomState(seed)), so
    `file_paths` and the `validation_split` subsets ("training", "validation", or "both" for
    both) are Keras's. Needs Pillow: pip install graphengine[image]."""
    try:
        import PIL.Image  # noqa: F401
    except ImportError:
        raise ImportError(
            f"{OWNER} reads images with Pillow, which is not installed: "
            "pip install graphengine[image]"
        ) from None
    labels, label_mode = _check_labels(labels, label_mode, class_names)
    load = _load_arguments(
        color_mode, image_size, interpolation, crop_to_aspect_ratio, pad_to_aspect_ratio,
        data_format,
    )  # fmt: skip
    if batch_size is not None:
        batch_size = common.check_int(batch_size, "batch_size", OWNER, minimum=1)
    check_validation_split_arg(validation_split, subset, shuffle, seed)
    if seed is None:
        seed = int(common.rng().integers(1_000_000))
    paths, labels, class_names, rng = _indexed(
        directory, labels, label_mode, class_names, shuffle, seed, follow_links, verbose
    )
    parts = ("training", "validation") if subset == "both" else (subset,)
    datasets = []
    for part in parts:
        files, ids = training_or_validation(paths, labels, validation_split, part, verbose)
        if not files:
            which = f"{part} " if part else ""
            raise ValueError(
                f"{OWNER}: No {which}images found in directory {directory}. "
                f"Allowed formats: {ALLOWLIST_FORMATS}"
            )
        # subset="both": Keras does not shuffle the validation set
        reshuffle = None if subset == "both" and part == "validation" else rng
        datasets.append(
            ImageDataset(files, ids, label_mode, class_names, batch_size, load, reshuffle)
        )
    return datasets if subset == "both" else datasets[0]


def _indexed(
    directory: str | os.PathLike,
    labels: Any,
    label_mode: str | None,
    class_names: list[str] | None,
    shuffle: bool,
    seed: int,
    follow_links: bool,
    verbose: bool,
) -> tuple[list[str], np.ndarray | None, list[str] | None, np.random.RandomState | None]:
    """The files and labels in Keras's order, checked against label_mode, and with `shuffle`
    the generator that shuffled them, to draw the next epochs' orders from."""
    paths, labels, class_names = index_directory(
        directory, labels, ALLOWLIST_FORMATS, class_names, follow_links, verbose
    )
    if label_mode == "binary" and len(class_names) != 2:
        raise ValueError(
            f'{OWNER}: When passing `label_mode="binary"`, there must be exactly 2 '
            f"class_names. Received: class_names={class_names}"
        )
    if labels is not None and label_mode in ("binary", "categorical"):
        common.check_class_ids(labels, len(class_names), f"{OWNER}: labels", f"{label_mode=}")
    if not shuffle:
        return paths, labels, class_names, None
    # globally, as Keras's index_directory (one RandomState(seed) per list, the same draws)
    rng = np.random.RandomState(seed)
    order = np.arange(len(paths))
    rng.shuffle(order)
    paths = [paths[i] for i in order]
    return paths, None if labels is None else labels[order], class_names, rng


def _check_labels(labels: Any, label_mode: Any, class_names: Any) -> tuple[Any, Any]:
    """Keras's checks of labels, label_mode and class_names; (None, None) without labels."""
    inferred = isinstance(labels, str) and labels == "inferred"
    if not inferred and labels is not None:
        if not isinstance(labels, (list, tuple, np.ndarray)):
            raise ValueError(
                f"{OWNER}: `labels` argument should be a list/tuple of integer labels, of the "
                "same size as the number of image files in the target directory, "
                '"inferred" (labels from the subdirectory names) or None (no labels). '
                f"Received: labels={labels!r}"
            )
        if class_names:
            raise ValueError(
                f'{OWNER}: You can only pass `class_names` if `labels="inferred"`. '
                f"Received: labels={labels}, and class_names={class_names}"
            )
    if label_mode not in ("int", "categorical", "binary", None):
        raise ValueError(
            f'{OWNER}: `label_mode` argument must be one of "int", "categorical", "binary", '
            f"or None. Received: label_mode={label_mode!r}"
        )
    if labels is None or label_mode is None:
        return None, None
    return labels, label_mode


def _load_arguments(
    color_mode: Any,
    image_size: Any,
    interpolation: Any,
    crop_to_aspect_ratio: bool,
    pad_to_aspect_ratio: bool,
    data_format: Any,
) -> dict[str, Any]:
    """load_image's keyword arguments, each checked as Keras checks it."""
    if color_mode not in CHANNELS:
        raise ValueError(
            f'{OWNER}: `color_mode` must be one of {{"rgb", "rgba", "grayscale"}}. '
            f"Received: color_mode={color_mode!r}"
        )
    if isinstance(image_size, (int, np.integer)):
        image_size = (image_size, image_size)
    if not isinstance(image_size, (list, tuple)) or len(image_size) != 2:
        raise ValueError(
            f"{OWNER}: Invalid `image_size` value. Expected a tuple of 2 integers. "
            f"Received: image_size={image_size!r}"
        )
    image_size = tuple(common.check_int(s, "image_size", OWNER, minimum=1) for s in image_size)
    method = str(interpolation).lower()
    if method not in FILTERS:
        reason = " (Keras resizes with it, Pillow has no such filter)" * (method in NOT_IN_PILLOW)
        raise ValueError(
            f"{OWNER}: Argument `interpolation` should be one of {tuple(FILTERS)}. "
            f"Received: interpolation={interpolation!r}{reason}"
        )
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError(
            f"{OWNER}: Only one of `pad_to_aspect_ratio`, `crop_to_aspect_ratio` can be set "
            "to `True`."
        )
    data_format = "channels_last" if data_format is None else data_format
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(
            f'{OWNER}: `data_format` must be "channels_last", "channels_first" or None. '
            f"Received: data_format={data_format!r}"
        )
    return dict(
        image_size=image_size,
        num_channels=CHANNELS[color_mode],
        interpolation=method,
        data_format=data_format,
        crop_to_aspect_ratio=bool(crop_to_aspect_ratio),
        pad_to_aspect_ratio=bool(pad_to_aspect_ratio),
    )


def check_validation_split_arg(
    validation_split: Any, subset: Any, shuffle: bool, seed: Any
) -> None:
    """Keras's checks: a split in (0, 1) and a subset go together, and a shuffled split needs
    a seed (so that two calls, one per subset, cut the same order)."""
    if validation_split and not 0 < validation_split < 1:
        raise ValueError(
            f"{OWNER}: `validation_split` must be between 0 and 1, "
            f"received: validation_split={validation_split}"
        )
    if (validation_split or subset) and not (validation_split and subset):
        raise ValueError(
            f"{OWNER}: If `subset` is set, `validation_split` must be set, and inversely. "
            f"Received: validation_split={validation_split}, subset={subset!r}"
        )
    if subset not in ("training", "validation", "both", None):
        raise ValueError(
            f'{OWNER}: `subset` must be either "training", "validation" or "both", '
            f"received: subset={subset!r}"
        )
    if validation_split and shuffle and seed is None:
        raise ValueError(
            f"{OWNER}: If using `validation_split` and shuffling the data, you must provide a "
            "`seed` argument, to make sure that there is no overlap between the training and "
            "validation subset."
        )


def training_or_validation(
    paths: list[str], labels: Any, validation_split: Any, subset: str | None, verbose: bool
) -> tuple[list[str], Any]:
    """The last int(validation_split * n) files for "validation", the others for "training"
    (all for no split). Keras's `paths[:-k]` gives no training files when k is 0; here all."""
    if not validation_split:
        return paths, labels
    cut = len(paths) - int(validation_split * len(paths))
    part = slice(cut, None) if subset == "validation" else slice(None, cut)
    if verbose:
        print(f"Using {len(paths[part])} files for {subset}.")
    return paths[part], None if labels is None else labels[part]


def index_directory(
    directory: str | os.PathLike,
    labels: Any,
    formats: tuple[str, ...],
    class_names: list[str] | None,
    follow_links: bool,
    verbose: bool,
) -> tuple[list[str], np.ndarray | None, list[str] | None]:
    """(file_paths, labels, class_names) as Keras's index_directory lists them before its
    shuffle: the class folders' files (or all files, with no or explicit labels) walked in
    sorted order, filtered by extension."""
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"{OWNER}: directory={directory!r} is not a directory")
    inferred = isinstance(labels, str) and labels == "inferred"
    if inferred:
        subdirs = sorted(
            d
            for d in os.listdir(directory)
            if os.path.isdir(os.path.join(directory, d)) and not d.startswith(".")
        )
        if class_names is not None:
            if not set(class_names) <= set(subdirs):
                raise ValueError(
                    f"{OWNER}: The `class_names` passed did not match the names of the "
                    f"subdirectories of the target directory. Expected: {subdirs} (or a subset "
                    f"of it), but received: class_names={class_names}"
                )
            subdirs = list(class_names)
    elif class_names is not None:
        raise ValueError(
            f"{OWNER}: When `labels=None` (no labels) or `label_mode=None`, argument "
            f"`class_names` cannot be specified. Received: class_names={class_names}"
        )
    else:
        subdirs = [""]
    paths, ids = [], []
    for i, subdir in enumerate(subdirs):
        found = list(_valid_files(os.path.join(directory, subdir), follow_links, formats))
        paths += found
        ids += [i] * len(found)
    if inferred:
        labels, class_names = np.array(ids, np.int32), subdirs
    elif labels is not None:
        labels, class_names = _explicit_labels(labels, len(paths), directory)
    if verbose:
        classes = "" if labels is None else f" belonging to {len(class_names)} classes"
        print(f"Found {len(paths)} files{classes}.")
    return paths, labels, class_names


def _explicit_labels(labels: Any, count: int, directory: str) -> tuple[np.ndarray, list[str]]:
    """Labels given one per file: checked (integers >= 0, one per file) and their class names,
    the sorted distinct labels as strings."""
    if len(labels) != count:
        raise ValueError(
            f"{OWNER}: Expected the lengths of `labels` to match the number of files in the "
            f"target directory. len(labels) is {len(labels)} while we found {count} files in "
            f"directory {directory}."
        )
    labels = np.asarray(labels)
    common.check_class_ids(labels, None, f"{OWNER}: labels", "image_dataset_from_directory")
    return labels.astype(np.int64), [str(label) for label in sorted(set(labels.tolist()))]


def _valid_files(directory: str, follow_links: bool, formats: tuple[str, ...]) -> Any:
    """Paths of the files under `directory` with an allowed extension (any case), folders
    in sorted order, names sorted in each."""
    walk = os.walk(directory, followlinks=follow_links)
    for root, _, files in sorted(walk, key=lambda entry: entry[0]):
        for name in sorted(files):
            if name.lower().endswith(formats):
                yield os.path.join(root, name)
