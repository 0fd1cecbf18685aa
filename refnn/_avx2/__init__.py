"""The kernels built again for CPUs with AVX2 and FMA (setup.py); refnn/kernels/_dispatch.py
loads them from here when the CPU has those features."""
