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

# Compile definitions of these units in both builds. Three GEMM variants exist only to be timed
# against the default on a GPU (scripts/gpu-check.sh; see gemm_tiling.h):
# NEURON_CUDA_GEMM_CONTIGUOUS_COLUMNS, the former thread-to-column mapping;
# NEURON_CUDA_GEMM_PAIRED_LANES, the lane order that pairs lanes on each fragment read; and
# NEURON_CUDA_GEMM_MIN_BLOCKS=1, no cap on registers.
option(NEURON_CUDA_GEMM_CONTIGUOUS_COLUMNS "Build the GEMM kernels with contiguous thread columns (for timing)" OFF)
option(NEURON_CUDA_GEMM_PAIRED_LANES "Build the GEMM kernels with paired lanes (for timing)" OFF)
set(NEURON_CUDA_GEMM_MIN_BLOCKS 2 CACHE STRING "Blocks per multiprocessor the GEMM kernels are compiled for: 2 or 1 (for timing)")
set_property(CACHE NEURON_CUDA_GEMM_MIN_BLOCKS PROPERTY STRINGS 1 2)
if(NOT NEURON_CUDA_GEMM_MIN_BLOCKS MATCHES "^[12]$")
  message(FATAL_ERROR "NEURON_CUDA_GEMM_MIN_BLOCKS is 1 or 2, not '${NEURON_CUDA_GEMM_MIN_BLOCKS}'")
endif()
set(NEURON_CUDA_DEFINITIONS NRN_GEMM_MIN_BLOCKS=${NEURON_CUDA_GEMM_MIN_BLOCKS})
if(NEURON_CUDA_GEMM_CONTIGUOUS_COLUMNS)
  list(APPEND NEURON_CUDA_DEFINITIONS NRN_GEMM_CONTIGUOUS_COLUMNS=1)
endif()
if(NEURON_CUDA_GEMM_PAIRED_LANES)
  list(APPEND NEURON_CUDA_DEFINITIONS NRN_GEMM_PAIRED_LANES=1)
endif()
