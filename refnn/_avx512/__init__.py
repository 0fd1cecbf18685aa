"""The kernels built again for CPUs with AVX-512 (x86-64-v4: AVX-512 F, CD, BW, DQ, VL, on top
of AVX2 and FMA; setup.py); refnn/kernels/_dispatch.py loads them from here when the CPU has
those features."""
