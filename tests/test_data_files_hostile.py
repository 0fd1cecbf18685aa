"""Data files that are not what they seem: refused at once, naming the file, with memory in
proportion to the file (tracemalloc measures NumPy's allocations too)."""
import os
import struct
import subprocess
import sys
import tracemalloc
import zlib

import pytest

from refnn.datasets import IDXFormatError, load_idx


def idx_header(shape, code=0x08):
    return struct.pack(">BBBB", 0, 0, code, len(shape)) + struct.pack(f">{len(shape)}I", *shape)


def gzip_of_zeros(path, header, n_zeros):
    """header + n_zeros zero bytes, gzipped in pieces (the whole never held in memory)."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, 31)        # 31: a gzip container
    piece = bytes(1 << 20)
    with open(path, "wb") as f:
        f.write(deflate.compress(header))
        for start in range(0, n_zeros, len(piece)):
            f.write(deflate.compress(piece[:min(len(piece), n_zeros - start)]))
        f.write(deflate.flush())
    return path


def peak_of(call):
    tracemalloc.start()
    try:
        result = call()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_small_gzipped_file_declaring_much_more_data_is_refused_before_reading(tmp_path):
    """80 MiB of zeros gzip to about 80 KB: beyond 64 times the file plus 64 MiB, refused
    with a few KB allocated (a 300 KB gzipped IDX used to cost 619 MB); max_bytes reads it."""
    n = 107_000 * 784                                     # 80 MiB of 28 x 28 images
    path = gzip_of_zeros(tmp_path / "zeros.idx.gz", idx_header((n // 784, 28, 28)), n)
    assert path.stat().st_size < 200_000
    refused, peak = peak_of(lambda: pytest.raises(IDXFormatError, load_idx, path))
    assert refused.match(r"zeros\.idx\.gz: the header declares 83,888,000 bytes of data .* "
                         r"more than this file can hold")
    assert peak < 4 << 20, f"{peak / 2**20:.1f} MiB allocated before refusing"
    arr = load_idx(path, max_bytes=n)
    assert arr.shape == (n // 784, 28, 28) and not arr.any()


def test_a_gzipped_file_within_the_budget_loads(tmp_path):
    """1 MiB of zeros, compressed about 1,000 times, is within the 64 MiB allowance."""
    path = gzip_of_zeros(tmp_path / "small.idx.gz", idx_header((1 << 20,)), 1 << 20)
    assert load_idx(path).shape == (1 << 20,)
    with pytest.raises(IDXFormatError, match=r"more than this file can hold \(1,000 bytes"):
        load_idx(path, max_bytes=1000)
    with pytest.raises(TypeError, match="max_bytes must be None or an integer >= 0, got -1"):
        load_idx(path, max_bytes=-1)


def test_a_plain_file_declaring_more_than_it_holds_reads_no_more_than_it_holds(tmp_path):
    path = tmp_path / "liar.idx"
    path.write_bytes(idx_header((4_000_000_000,)) + bytes(100))
    refused, peak = peak_of(lambda: pytest.raises(IDXFormatError, load_idx, path))
    assert refused.match(r"truncated IDX data: .* needs 4,000,000,000|needs 4000000000")
    assert peak < 1 << 20


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_a_fifo_is_refused_at_once_instead_of_blocking(tmp_path):
    """load_idx on a FIFO used to block forever in open(); run in a child with a timeout."""
    fifo = tmp_path / "pipe.idx"
    os.mkfifo(fifo)
    code = ("import sys\nfrom refnn.datasets import load_idx\ntry:\n    load_idx(sys.argv[1])\n"
            "except ValueError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code, str(fifo)], capture_output=True,
                         text=True, timeout=60)
    assert out.stdout.strip() == f"{fifo}: not a regular file (a FIFO)", out.stderr


@pytest.mark.parametrize("path, kind", [("/dev/zero", "a device"), (".", "a directory")])
def test_devices_and_directories_are_refused(path, kind):
    if not os.path.exists(path):
        pytest.skip(f"{path} does not exist here")
    with pytest.raises(IDXFormatError, match=f"not a regular file \\({kind}\\)"):
        load_idx(path)
