# The CUDA backend's translation units, named once for the two builds that compile them:
# libneuron.so with nvcc (CMakeLists.txt here) and the CUDA emulator's library with the C++
# compiler (native/cuda_emulator/CMakeLists.txt).
set(NEURON_CUDA_UNITS cuda_backend gemm pointwise train)
