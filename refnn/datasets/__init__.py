"""Data sets: the IDX (MNIST-format) file reader, MNIST and Fashion-MNIST from local files,
the toy 2-D sets of TensorFlow Playground, and CSV files.

    idx         load_idx, IDXFormatError; fashion_mnist, mnist (Keras-shaped loaders that look
                for the four IDX files locally; nothing is downloaded)
    toy         spirals, circles, xor, blobs: name(n_samples, noise, seed) -> (X, y);
                TOY_DATASETS maps each name to its generator
    csv_files   load_csv(path, target=None, drop=(), task="auto") -> CSVData

Every name is importable from refnn.datasets itself. These functions read or generate the
raw data; refnn.preprocessing splits and scales it into training and test arrays for a
network.
"""
from .csv_files import CSV_MAX_CLASSES, CSV_TASKS, CSVData, load_csv
from .idx import (DATA_ENV, DEBIAN_DATA_DIR, FASHION_MNIST_CLASSES, MNIST_FILES, IDXFormatError,
                  fashion_mnist, load_idx, mnist)
from .toy import TOY_DATASETS, blobs, circles, spirals, xor

__all__ = ["load_idx", "IDXFormatError", "fashion_mnist", "mnist", "FASHION_MNIST_CLASSES",
           "spirals", "circles", "xor", "blobs", "TOY_DATASETS", "load_csv", "CSVData",
           "CSV_MAX_CLASSES", "CSV_TASKS", "MNIST_FILES", "DATA_ENV", "DEBIAN_DATA_DIR"]
