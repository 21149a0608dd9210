"""Where the real datasets come from, how their raw files are read, and their content checksums.

Each entry:
  kind        "csr" or "dense": the .npz layout written (bench/_data.py)
  format      "libsvm" (text, 1-based indices, optionally .bz2 / .gz), "csv" (features then the label
              per line) or "idx" (the MNIST idx format of fashion_mnist, .gz)
  train/test  raw file names; several files of one split are concatenated in the given order
  n_features  the width (a LIBSVM file only shows the largest index it uses)
  content_sha256  bench/_data.content_sha256 of the converted arrays.  These were computed from the
              .npz files of the project's shared data folder, whose contents are the public files
              below (its MANIFEST.json lists the copies they were taken from); they are checksums of
              CONTENT (labels, values, indices, shapes, dtypes), not of the files you download.
  raw_sha256  optional {file name: sha256 of the downloaded file}; none are recorded yet (the raw
              files could not be downloaded where this table was written); when present they are
              checked before conversion.
  urls        file name -> public URL.  ``fetch --base-url`` replaces them all by <base>/<file name>.
"""

LIBSVM_BINARY = "https://www.csie.ntu.edu.tw/~cjlin/libsvmtools/datasets/binary/"
UCI_BANKNOTE = "https://archive.ics.uci.edu/ml/machine-learning-databases/00267/"
TICK_REUTERS = "https://github.com/X-DataInitiative/tick-datasets/raw/master/binary/reuters/"
FASHION = "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/"


def _urls(base, *names):
    return {n: base + n for n in names}


SOURCES = {
    "a9a": dict(
        kind="csr", format="libsvm", train=("a9a",), test=("a9a.t",), n_features=123,
        urls=_urls(LIBSVM_BINARY, "a9a", "a9a.t"),
        content_sha256="3ddb37d9b060a71deb08f0c296f32e64a3dcffda81d52b56735c621eee4345e2",
        about="UCI Adult as LIBSVM a9a, 123 binary features, labels -1/+1"),
    "w8a": dict(
        kind="csr", format="libsvm", train=("w8a",), test=(), n_features=300,
        urls=_urls(LIBSVM_BINARY, "w8a"),
        content_sha256="eb53396231d5da0248dc3a10cf2ba87d0ec0308c4e3a30b3d5f95e2e8b6f5478",
        about="LIBSVM w8a, training split only, 300 binary features, labels -1/+1"),
    "ijcnn1": dict(
        kind="dense", format="libsvm", train=("ijcnn1.tr.bz2", "ijcnn1.val.bz2"), test=("ijcnn1.t.bz2",),
        n_features=22, urls=_urls(LIBSVM_BINARY, "ijcnn1.tr.bz2", "ijcnn1.val.bz2", "ijcnn1.t.bz2"),
        content_sha256="2af53989f2c9bbf8f6fd82582251ed8d0418ed2c8f5fa23b1cf5bd1039779375",
        about="LIBSVM ijcnn1: train = .tr + .val (49990 rows), test = .t (91701), dense 22 columns"),
    "mushrooms": dict(
        kind="csr", format="libsvm", train=("mushrooms",), test=(), n_features=112,
        urls=_urls(LIBSVM_BINARY, "mushrooms"),
        content_sha256="bf109cddcd6417cfd7ea208fdd0ee8c0b232460425d3be1831a786cbe400e906",
        about="LIBSVM mushrooms, 112 one-hot features, labels 1/2"),
    "reuters_moneyfx": dict(
        kind="csr", format="libsvm", train=("reuters.trn.bz2",), test=("reuters.tst.bz2",),
        n_features=8315, urls=_urls(TICK_REUTERS, "reuters.trn.bz2", "reuters.tst.bz2"),
        content_sha256="85b698b537d9e34ade9168f90fbeb591065a0cd73f594803f328b898be42a3d1",
        about="Reuters-21578 money-fx vs rest (LaSVM distribution, as in tick-datasets), tf-idf"),
    "banknote": dict(
        kind="dense", format="csv", train=("data_banknote_authentication.txt",), test=(), n_features=4,
        urls=_urls(UCI_BANKNOTE, "data_banknote_authentication.txt"),
        content_sha256="fb986cce319742046940a3b0228cdc54dfc05828179480a1c1d1020db043ab46",
        about="UCI banknote authentication, 4 features, labels 0/1"),
    "fashion_mnist": dict(
        kind="dense", format="idx",
        train=("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
        test=("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"), n_features=784,
        urls=_urls(FASHION, "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                   "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
        content_sha256="db0b063eb87baf28e99ef8723e7bf5d37c493109d6f1940d86079c2a610365ea",
        about="Fashion-MNIST, 28x28 uint8 pixels, 10 classes (idx files: images, then labels)"),
}
