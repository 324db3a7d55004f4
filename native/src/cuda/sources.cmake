# The CUDA backend's translation units, named once for the two builds that compile them:
# libneuron.so with nvcc (CMakeLists.txt here) and the CUDA emulator's library with the C++
# compiler (native/cuda_emulator/CMakeLists.txt).
set(NEURON_CUDA_UNITS cuda_backend gemm pointwise train)

# The units compiled without multiply-add contraction (nvcc -fmad=false), where results must
# round like the host backend: the random fills (bit-identical on every backend), the MSE
# error and its Kahan accumulator, and the fused training kernels. The others, the matrix
# products above all, keep nvcc's default contraction: they are the speed. The emulator
# contracts the same units, so that its runs round the way a GPU does.
set(NEURON_CUDA_UNITS_WITHOUT_FMAD pointwise train)
