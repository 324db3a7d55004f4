# The CUDA backend's translation units, named once for the two builds that compile them:
# libneuron.so with nvcc (CMakeLists.txt here) and the CUDA emulator's library with the C++
# compiler (native/cuda_emulator/CMakeLists.txt).
set(NEURON_CUDA_UNITS cuda_backend gemm pointwise train)

# The units compiled without multiply-add contraction (nvcc -fmad=false), where results must
# round like the host backend: the random fills (bit-identical on every backend), the MSE
# error and its float-float accumulator (whose error-free additions a contracted product would
# break), and the fused training kernels. The others, the matrix products above all, keep nvcc's
# default contraction: they are the speed. The emulator contracts the same units, so that its
# runs round the way a GPU does.
set(NEURON_CUDA_UNITS_WITHOUT_FMAD pointwise train)

# Compile definitions of these units in both builds. One GEMM variant exists only to be timed
# against the default on a GPU (scripts/gpu-check.sh; see gemm_tiling.h):
# NEURON_CUDA_GEMM_SWAPPED_LANES, each block tile with the other lane order.
option(NEURON_CUDA_GEMM_SWAPPED_LANES "Build each GEMM tile with its other lane order (for timing)" OFF)
set(NEURON_CUDA_DEFINITIONS "")
if(NEURON_CUDA_GEMM_SWAPPED_LANES)
  list(APPEND NEURON_CUDA_DEFINITIONS NRN_GEMM_SWAPPED_LANES=1)
endif()
