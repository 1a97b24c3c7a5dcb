"""Command line interface ``aecore-prepare`` (also ``python -m aecore.datasets``)."""

from __future__ import annotations

import argparse
import logging
import sys
from argparse import SUPPRESS
from collections.abc import Sequence

from .arrays import ROW_LAYOUTS
from .errors import DatasetError, DownloadError
from .prepare import KINDS, prepare_dataset
from .stl10 import STL10_ARCHIVE_SHA256, STL10_ARCHIVE_SIZE, STL10_URL

EXAMPLES = """\
examples:
  aecore-prepare --kind stl10 --out results/data/stl10
  aecore-prepare --kind stl10 --source ~/Downloads/stl10_binary.tar.gz \\
      --out results/data/stl10
  aecore-prepare --kind folder --source cifar10-jpg.tar.gz --out results/data/cifar10
  aecore-prepare --kind pickles --source course/ --out results/data/stl10-course

exit status: 0 on success, 1 if a download fails, 2 on invalid arguments or input.
"""


def _optional_int(text: str) -> int | None:
    if text.lower() == "none":
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an integer or 'none', got {text!r}"
        ) from None
    return value


def _optional_text(text: str) -> str | None:
    return None if text.lower() == "none" else text.lower()


def _image_size(text: str) -> tuple[int, int]:
    parts = text.lower().split("x")
    try:
        values = [int(part) for part in parts]
    except ValueError:
        values = []
    if len(values) == 1:
        values = values * 2
    if len(values) != 2 or min(values) < 1:
        raise argparse.ArgumentTypeError(
            "expected SIZE or HEIGHTxWIDTH in pixels, such as 32 or 32x48, got"
            f" {text!r}"
        )
    return values[0], values[1]


def _label_base(text: str) -> str | int:
    if text in ("auto", "0", "1"):
        return text if text == "auto" else int(text)
    raise argparse.ArgumentTypeError(f"expected auto, 0 or 1, got {text!r}")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``aecore-prepare``."""
    parser = argparse.ArgumentParser(
        prog="aecore-prepare",
        description=(
            "Convert a dataset source into a directory of memory-mappable .npy\n"
            "arrays (uint8 images of shape (N, H, W, 3), int64 labels 0..K-1, folds)\n"
            "and a meta.json. A complete directory prepared from the same source is\n"
            "reused. Preparation writes to a temporary directory and renames it, so\n"
            "an interrupted run leaves no directory that looks complete."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--kind", required=True, choices=list(KINDS), help="source format"
    )
    parser.add_argument(
        "--source",
        metavar="PATH",
        help=(
            "stl10: stl10_binary.tar.gz, or a data directory that contains the"
            " extracted files or receives the download (default: --download-dir)."
            " pickles: folder of <split>.pk files. cifar10-python:"
            " cifar-10-python.tar.gz or cifar-10-batches-py/. folder: directory"
            " root/<split>/<class>/<image> or a .tar.gz of one"
        ),
    )
    parser.add_argument(
        "--out", required=True, metavar="DIR", help="dataset directory to create"
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="rebuild and replace an existing prepared dataset in --out",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="print only warnings and errors"
    )

    stl = parser.add_argument_group("stl10 options")
    stl.add_argument(
        "--download-dir",
        default=SUPPRESS,
        metavar="DIR",
        help="where the archive is downloaded and kept (default: OUT/../downloads)",
    )
    stl.add_argument(
        "--url", default=SUPPRESS, help=f"archive address (default: {STL10_URL})"
    )
    stl.add_argument(
        "--expected-size",
        default=SUPPRESS,
        type=_optional_int,
        metavar="BYTES",
        help=f"archive size in bytes, or none to skip (default: {STL10_ARCHIVE_SIZE})",
    )
    stl.add_argument(
        "--expected-sha256",
        default=SUPPRESS,
        type=_optional_text,
        metavar="HEX",
        help=f"archive SHA-256, or none to skip (default: {STL10_ARCHIVE_SHA256})",
    )
    stl.add_argument(
        "--timeout",
        default=SUPPRESS,
        type=float,
        metavar="SECONDS",
        help="network timeout per connection and read, in seconds (default: 60)",
    )
    stl.add_argument(
        "--retries",
        default=SUPPRESS,
        type=int,
        metavar="N",
        help="download attempts after the first, each resuming (default: 3)",
    )
    stl.add_argument(
        "--any-counts",
        default=SUPPRESS,
        action="store_true",
        help="accept image counts other than the official 5000/8000/100000",
    )

    pk = parser.add_argument_group("pickles options")
    pk.add_argument(
        "--row-layout",
        default=SUPPRESS,
        choices=ROW_LAYOUTS,
        help=(
            "axis order of one row of X: hwc (height, width, channel; default), chw"
            " (channel planes, row by row) or cwh (channel planes, column by column)"
        ),
    )
    pk.add_argument(
        "--label-base",
        default=SUPPRESS,
        type=_label_base,
        metavar="{auto,0,1}",
        help="label of the first class in y; auto: 0 if any label is 0, else 1",
    )

    folder = parser.add_argument_group("folder options")
    folder.add_argument(
        "--image-size",
        default=SUPPRESS,
        type=_image_size,
        metavar="HxW",
        help="image height x width in pixels (default: size of the first image)",
    )
    folder.add_argument(
        "--resize",
        default=SUPPRESS,
        action="store_true",
        help="resize images of another size (bicubic) instead of failing",
    )
    folder.add_argument(
        "--convert",
        default=SUPPRESS,
        action="store_true",
        help="convert greyscale, palette, RGBA or CMYK images to RGB, not fail",
    )
    folder.add_argument(
        "--workers",
        default=SUPPRESS,
        type=int,
        metavar="N",
        help="processes decoding images (default: 1)",
    )
    return parser


# Destinations of the options of each kind. They default to argparse.SUPPRESS, so
# an option appears in the parsed namespace only when it is on the command line.
_KIND_OPTIONS = {
    "stl10": (
        "download_dir",
        "url",
        "expected_size",
        "expected_sha256",
        "timeout",
        "retries",
        "any_counts",
    ),
    "pickles": ("row_layout", "label_base"),
    "cifar10-python": (),
    "folder": ("image_size", "resize", "convert", "workers"),
}


def _collect_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> dict:
    """Return the options given for ``args.kind``; reject options of other kinds."""
    given = {dest for dests in _KIND_OPTIONS.values() for dest in dests if dest in args}
    wrong = sorted(given - set(_KIND_OPTIONS[args.kind]))
    if wrong:
        flags = ", ".join("--" + dest.replace("_", "-") for dest in wrong)
        parser.error(f"{flags}: not an option of --kind {args.kind}")
    options = {dest: getattr(args, dest) for dest in given}
    if options.pop("any_counts", False):
        options["expected_counts"] = None
    return options


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``aecore-prepare``; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    options = _collect_options(parser, args)

    # A handler on the package logger, not basicConfig, so that the progress
    # lines appear even when the root logger is already configured.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S")
    )
    package_logger = logging.getLogger("aecore")
    previous = (package_logger.level, package_logger.propagate)
    package_logger.addHandler(handler)
    package_logger.setLevel(logging.WARNING if args.quiet else logging.INFO)
    package_logger.propagate = False
    try:
        dataset = prepare_dataset(
            args.kind, args.source, args.out, force=args.force, **options
        )
    except DownloadError as error:
        print(f"aecore-prepare: error: {error}", file=sys.stderr)
        return 1
    except DatasetError as error:
        print(f"aecore-prepare: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("aecore-prepare: interrupted; nothing was left in --out", file=sys.stderr)
        return 130
    finally:
        package_logger.removeHandler(handler)
        package_logger.setLevel(previous[0])
        package_logger.propagate = previous[1]
    counts = ", ".join(
        f"{split} {dataset.meta['counts'][split]}" for split in dataset.splits
    )
    print(
        f"prepared {dataset.path}: {counts} images of {dataset.meta['image_shape']}",
        file=sys.stderr,
    )
    return 0
