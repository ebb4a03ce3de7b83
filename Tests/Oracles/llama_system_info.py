"""The CPU kernels the llama.cpp peer of the benchmarks was built with and runs.

usage: llama_system_info.py
Prints llama_cpp.llama_print_system_info() on one line, e.g. "CPU : SSE3 = 1 | ... | AVX512 = 1 | AVX512_VNNI = 1 | ...".
"""
import llama_cpp

print(llama_cpp.llama_print_system_info().decode().strip())
