"""Image folders root/<split>/<class>/<image>, as a directory or a .tar.gz."""

import io
import tarfile

import numpy as np
import pytest
from PIL import Image

from aecore.datasets import DatasetError, prepare_dataset
from aecore.datasets.folders import decode_image, plan_folder

SIZE = 8


def png_bytes(array, mode=None):
    buffer = io.BytesIO()
    Image.fromarray(array, mode=mode).save(buffer, format="PNG")
    return buffer.getvalue()


def random_image(rng, size=SIZE):
    return rng.integers(0, 256, (size, size, 3), dtype=np.uint8)


def build_tree(root, rng, layout=None):
    """Write PNG images; return {split: (images in expected order, labels)}."""
    layout = layout or {
        "train": {"cat": 3, "dog": 2, "ant": 1},
        "test": {"cat": 1, "dog": 1, "ant": 2},
    }
    expected = {}
    for split, classes in layout.items():
        images, labels = [], []
        for label, name in enumerate(sorted(classes)):
            folder = root / split / name
            folder.mkdir(parents=True)
            for index in range(classes[name]):
                image = random_image(rng)
                (folder / f"img{index:02d}.png").write_bytes(png_bytes(image))
                images.append(image)
                labels.append(label)
        expected[split] = (np.stack(images), labels)
    return expected


def tar_directory(root, archive, arcname):
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(root, arcname=arcname)
    return archive


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "images"
    expected = build_tree(root, np.random.default_rng(0))
    return root, expected


def check_dataset(dataset, expected):
    assert dataset.class_names == ["ant", "cat", "dog"]
    assert dataset.splits == ("train", "test")
    for split, (images, labels) in expected.items():
        np.testing.assert_array_equal(dataset.images(split), images)
        assert dataset.labels(split).tolist() == labels


def test_directory(tmp_path, tree):
    root, expected = tree
    (root / ".ipynb_checkpoints").mkdir()
    (root / ".ipynb_checkpoints" / "x.png").write_bytes(b"junk")
    (root / "train" / "cat" / ".DS_Store").write_bytes(b"junk")
    (root / "train" / ".cache").mkdir()
    (root / "README.txt").write_text("about these images")
    dataset = prepare_dataset("folder", root, tmp_path / "out")
    check_dataset(dataset, expected)
    assert dataset.meta["image_shape"] == [SIZE, SIZE, 3]
    assert dataset.meta["checksum"]["of"] == "arrays"


@pytest.mark.parametrize("arcname", ["cifar", "."])
def test_archive(tmp_path, tree, arcname):
    root, expected = tree
    archive = tar_directory(root, tmp_path / "images.tar.gz", arcname)
    dataset = prepare_dataset("folder", archive, tmp_path / "out")
    check_dataset(dataset, expected)
    assert dataset.meta["checksum"]["of"] == "archive"


def test_archive_without_directory_members(tmp_path, tree):
    root, expected = tree
    archive = tmp_path / "images.tar"
    with tarfile.open(archive, "w") as tar:
        for path in sorted(root.rglob("*.png"), reverse=True):
            tar.add(path, arcname=path.relative_to(root).as_posix())
    dataset = prepare_dataset("folder", archive, tmp_path / "out")
    check_dataset(dataset, expected)


def test_two_workers_match_one(tmp_path, tree):
    root, expected = tree
    dataset = prepare_dataset("folder", root, tmp_path / "out", workers=2)
    check_dataset(dataset, expected)


def test_unlabelled_split(tmp_path):
    rng = np.random.default_rng(1)
    root = tmp_path / "images"
    (root / "unlabeled").mkdir(parents=True)
    images = [random_image(rng) for _ in range(3)]
    for index, image in enumerate(images):
        (root / "unlabeled" / f"{index}.PNG").write_bytes(png_bytes(image))
    dataset = prepare_dataset("folder", root, tmp_path / "out")
    assert dataset.splits == ("unlabeled",)
    assert dataset.labels("unlabeled") is None
    assert dataset.class_names == []
    np.testing.assert_array_equal(dataset.images("unlabeled"), np.stack(images))


def test_jpeg_matches_direct_decoding(tmp_path):
    rng = np.random.default_rng(2)
    folder = tmp_path / "images" / "train" / "a"
    folder.mkdir(parents=True)
    Image.fromarray(random_image(rng, 16)).save(folder / "x.jpg", quality=90)
    dataset = prepare_dataset("folder", tmp_path / "images", tmp_path / "out")
    direct = np.asarray(Image.open(folder / "x.jpg").convert("RGB"))
    np.testing.assert_array_equal(dataset.images("train")[0], direct)


def test_wrong_size_needs_resize(tmp_path, tree):
    root, _ = tree
    big = random_image(np.random.default_rng(3), 12)
    (root / "test" / "dog" / "zz.png").write_bytes(png_bytes(big))
    with pytest.raises(
        DatasetError,
        match=r"zz.png: image is 12x12 pixels \(height x width\), expected 8x8; set"
        r" resize=True \(--resize for aecore-prepare, dataset.options.resize: true",
    ):
        prepare_dataset("folder", root, tmp_path / "out")
    dataset = prepare_dataset("folder", root, tmp_path / "out", resize=True)
    expected = np.asarray(
        Image.fromarray(big).resize((SIZE, SIZE), Image.Resampling.BICUBIC)
    )
    np.testing.assert_array_equal(dataset.images("test")[-1], expected)


def test_image_size_option(tmp_path, tree):
    root, expected = tree
    dataset = prepare_dataset(
        "folder", root, tmp_path / "out", image_size=(4, 6), resize=True
    )
    assert dataset.images("train").shape == (6, 4, 6, 3)
    first = Image.fromarray(expected["train"][0][0]).resize(
        (6, 4), Image.Resampling.BICUBIC
    )
    np.testing.assert_array_equal(dataset.images("train")[0], np.asarray(first))


def test_wrong_mode_needs_convert(tmp_path, tree):
    root, _ = tree
    grey = np.random.default_rng(4).integers(0, 256, (SIZE, SIZE), dtype=np.uint8)
    (root / "train" / "ant" / "grey.png").write_bytes(png_bytes(grey))
    with pytest.raises(
        DatasetError,
        match="grey.png: image mode is L, expected RGB; set convert=True"
        r" \(--convert for aecore-prepare, dataset.options.convert: true",
    ):
        prepare_dataset("folder", root, tmp_path / "out")
    dataset = prepare_dataset("folder", root, tmp_path / "out", convert=True)
    np.testing.assert_array_equal(
        dataset.images("train")[0], np.repeat(grey[..., None], 3, axis=2)
    )


def test_corrupt_jpeg(tmp_path, tree):
    root, _ = tree
    buffer = io.BytesIO()
    Image.fromarray(random_image(np.random.default_rng(5))).save(buffer, format="JPEG")
    (root / "train" / "dog" / "broken.jpg").write_bytes(buffer.getvalue()[:40])
    with pytest.raises(
        DatasetError, match=r"train/dog/broken.jpg: cannot decode image"
    ):
        prepare_dataset("folder", root, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_corrupt_image_in_worker(tmp_path, tree):
    root, _ = tree
    (root / "test" / "cat" / "junk.png").write_bytes(b"not a png")
    with pytest.raises(DatasetError, match=r"test/cat/junk.png: cannot decode image"):
        prepare_dataset("folder", root, tmp_path / "out", workers=2)


def test_corrupt_first_image(tmp_path, tree):
    root, _ = tree
    (root / "train" / "ant" / "img00.png").write_bytes(b"not a png")
    with pytest.raises(DatasetError, match=r"train/ant/img00.png: cannot decode image"):
        prepare_dataset("folder", root, tmp_path / "out")


def test_empty_class_folder(tmp_path, tree):
    root, _ = tree
    (root / "test" / "eel").mkdir()
    (root / "test" / "eel" / ".keep").write_text("")
    with pytest.raises(DatasetError, match="test/eel: empty class folder"):
        prepare_dataset("folder", root, tmp_path / "out")


def test_missing_source(tmp_path):
    with pytest.raises(DatasetError, match="source not found: .*nowhere"):
        prepare_dataset("folder", tmp_path / "nowhere", tmp_path / "out")


def test_not_an_archive(tmp_path):
    path = tmp_path / "images.tar.gz"
    path.write_bytes(b"\x1f\x8b garbage")
    with pytest.raises(
        DatasetError, match="images.tar.gz: not a readable .tar.gz archive"
    ):
        prepare_dataset("folder", path, tmp_path / "out")


def test_archive_with_link(tmp_path, tree):
    root, _ = tree
    archive = tmp_path / "images.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(root, arcname="images")
        link = tarfile.TarInfo("images/train/cat/link.png")
        link.type = tarfile.SYMTYPE
        link.linkname = "img00.png"
        tar.addfile(link)
    with pytest.raises(
        DatasetError, match="link.png: links and special files are not supported"
    ):
        prepare_dataset("folder", archive, tmp_path / "out")


def test_archive_with_parent_reference(tmp_path):
    archive = tmp_path / "images.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("a/../../evil.png")
        tar.addfile(info, io.BytesIO(b""))
    with pytest.raises(
        DatasetError, match=r"member name 'a/../../evil.png' contains '..'"
    ):
        prepare_dataset("folder", archive, tmp_path / "out")


@pytest.mark.parametrize(
    ("files", "dirs", "message"),
    [
        ([], [], "no split folders found"),
        (["a.jpg"], [], "root/a.jpg: image at the top level"),
        (["train/cat/sub/a.jpg"], [], "train/cat/sub/a.jpg: image in a nested folder"),
        (["train/cat/notes.txt"], [], "train/cat/notes.txt: not a JPEG or PNG file"),
        (
            ["train/a.jpg", "train/cat/b.jpg"],
            [],
            "root/train: contains both images and class folders",
        ),
        ([], ["train"], "root/train: empty split folder"),
        (
            ["train/cat/a.jpg", "test/dog/b.jpg"],
            [],
            "root/train: missing class folders dog",
        ),
        (["tr ain/cat/a.jpg"], [], "invalid split name 'tr ain'"),
    ],
)
def test_layout_errors(files, dirs, message):
    with pytest.raises(DatasetError, match=message):
        plan_folder(files, dirs, "root")


def test_plan_orders_splits_classes_and_files():
    files = [
        "val/b/2.png",
        "test/b/1.png",
        "train/b/10.png",
        "train/b/09.png",
        "train/a/z.jpg",
        "test/a/x.jpeg",
        "val/a/y.png",
    ]
    hidden_files = [".git/x.png", "train/.ipynb_checkpoints/a.png", "train/a/.DS_Store"]
    hidden_dirs = [".git", "train/.ipynb_checkpoints", "test/.cache/x"]
    plan = plan_folder(files + hidden_files, hidden_dirs, "root")
    assert [split.name for split in plan.splits] == ["train", "test", "val"]
    assert plan.splits[0].paths == ["train/a/z.jpg", "train/b/09.png", "train/b/10.png"]
    assert plan.splits[0].labels.tolist() == [0, 1, 1]
    assert plan.class_names == ["a", "b"]
    assert plan.count == 7


def test_decode_image_returns_rgb():
    image = random_image(np.random.default_rng(6))
    decoded = decode_image(png_bytes(image), "x.png", None)
    np.testing.assert_array_equal(decoded, image)
    rgba = np.dstack([image, np.full((SIZE, SIZE), 9, np.uint8)])
    converted = decode_image(png_bytes(rgba), "x.png", (SIZE, SIZE), convert=True)
    np.testing.assert_array_equal(converted, image)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"image_size": 0}, "image_size must be a positive integer or a"),
        ({"image_size": (3, 4, 5)}, "image_size must be a positive integer or a"),
        ({"image_size": True}, "image_size must be a positive integer or a"),
        ({"resize": "yes"}, "resize must be True or False, got 'yes'"),
        ({"convert": 1}, "convert must be True or False, got 1"),
        ({"workers": 0}, "workers must be a positive integer, got 0"),
        (
            {"colour": True},
            r"unknown option colour for kind 'folder'; allowed: convert, image_size",
        ),
    ],
)
def test_invalid_folder_options(tmp_path, tree, options, message):
    with pytest.raises(DatasetError, match=message):
        prepare_dataset("folder", tree[0], tmp_path / "out", **options)


def test_archive_without_images(tmp_path):
    archive = tmp_path / "images.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("README")
        tar.addfile(info, io.BytesIO(b""))
    with pytest.raises(DatasetError, match=r"images.tar.gz: no split folders found"):
        prepare_dataset("folder", archive, tmp_path / "out")


def test_many_batches_with_workers(tmp_path, monkeypatch):
    from aecore.datasets import folders

    monkeypatch.setattr(folders, "BATCH_IMAGES", 2)
    root = tmp_path / "images"
    layout = {"train": {"a": 5, "b": 4}, "test": {"a": 3, "b": 3}}
    expected = build_tree(root, np.random.default_rng(8), layout)
    dataset = prepare_dataset("folder", root, tmp_path / "out", workers=2)
    for split, (images, labels) in expected.items():
        np.testing.assert_array_equal(dataset.images(split), images)
        assert dataset.labels(split).tolist() == labels
