# Decides whether the CUDA backend is compiled and enables the CUDA language when it is.
#
#   NEURON_CUDA = AUTO (default): compile the CUDA backend when nvcc is found
#                 ON:             fail when nvcc is not found
#                 OFF:            build the host backend only
#
# Sets NEURON_HAS_CUDA (ON/OFF) for the caller.

set(NEURON_CUDA "AUTO" CACHE STRING "Compile the CUDA backend: AUTO (when nvcc is found), ON or OFF")
set_property(CACHE NEURON_CUDA PROPERTY STRINGS AUTO ON OFF)
string(TOUPPER "${NEURON_CUDA}" _neuron_cuda_mode)
if(NOT _neuron_cuda_mode MATCHES "^(AUTO|ON|OFF)$")
  message(FATAL_ERROR "NEURON_CUDA must be AUTO, ON or OFF, not '${NEURON_CUDA}'")
endif()

set(NEURON_HAS_CUDA OFF)
if(_neuron_cuda_mode STREQUAL "OFF")
  message(STATUS "NEURON_CUDA=OFF: building the host backend only")
  return()
endif()

# CUDA releases before 12 reject the newer GCC that a distribution ships as its default
# compiler (Debian's CUDA 11.8 next to GCC 12). When the user chose no host compiler and
# that is the case, use clang++-14, which those releases accept. This has to happen before
# the compiler check below, which compiles a test program with the host compiler.
if(NOT DEFINED CMAKE_CUDA_COMPILER AND NOT CMAKE_CUDA_HOST_COMPILER AND NOT DEFINED ENV{CUDAHOSTCXX})
  if(DEFINED ENV{CUDACXX})
    set(_neuron_nvcc "$ENV{CUDACXX}")
  else()
    find_program(_neuron_nvcc NAMES nvcc
                 HINTS ENV CUDA_PATH ENV CUDA_HOME
                 PATHS /usr/local/cuda/bin /usr/lib/cuda/bin
                 PATH_SUFFIXES bin NO_CACHE)
  endif()
  if(_neuron_nvcc)
    execute_process(COMMAND "${_neuron_nvcc}" --version
                    OUTPUT_VARIABLE _neuron_nvcc_version_text ERROR_QUIET RESULT_VARIABLE _neuron_nvcc_result)
    if(_neuron_nvcc_result EQUAL 0 AND _neuron_nvcc_version_text MATCHES "release ([0-9]+)\\.([0-9]+)")
      set(_neuron_nvcc_major "${CMAKE_MATCH_1}")
      if(_neuron_nvcc_major LESS 12)
        find_program(_neuron_clang14 NAMES clang++-14 NO_CACHE)
        if(_neuron_clang14)
          message(STATUS "nvcc ${CMAKE_MATCH_1}.${CMAKE_MATCH_2} found: using ${_neuron_clang14} as its host compiler")
          set(CMAKE_CUDA_HOST_COMPILER "${_neuron_clang14}" CACHE FILEPATH "CUDA host compiler")
          # check_language() runs a separate CMake project, which reads the environment.
          set(ENV{CUDAHOSTCXX} "${_neuron_clang14}")
        endif()
      endif()
    endif()
  endif()
endif()

# check_language() runs a separate CMake project that reads the host compiler from the
# environment only: hand it a host compiler the user chose on the command line too.
if(CMAKE_CUDA_HOST_COMPILER AND NOT DEFINED ENV{CUDAHOSTCXX})
  set(ENV{CUDAHOSTCXX} "${CMAKE_CUDA_HOST_COMPILER}")
endif()

include(CheckLanguage)
check_language(CUDA)
if(NOT CMAKE_CUDA_COMPILER)
  # Say whether nvcc is missing or present but failed CMake's check (e.g. an unsupported host compiler).
  find_program(_neuron_nvcc_present NAMES nvcc HINTS ENV CUDA_PATH ENV CUDA_HOME
               PATHS /usr/local/cuda/bin /usr/lib/cuda/bin PATH_SUFFIXES bin NO_CACHE)
  if(_neuron_nvcc_present OR DEFINED ENV{CUDACXX})
    set(_neuron_no_cuda_reason "nvcc was found but failed CMake's CUDA compiler check (see CMakeFiles/CMakeOutput.log and CMakeError.log; set CMAKE_CUDA_HOST_COMPILER or CUDAHOSTCXX to a host compiler it supports)")
  else()
    set(_neuron_no_cuda_reason "nvcc was not found (set CUDACXX or add nvcc to PATH)")
  endif()
  if(_neuron_cuda_mode STREQUAL "ON")
    message(FATAL_ERROR "NEURON_CUDA=ON but ${_neuron_no_cuda_reason}")
  endif()
  message(STATUS "No CUDA: ${_neuron_no_cuda_reason}; building the host backend only")
  return()
endif()

# Architectures: only when the user chose none (cache variable or the CUDAARCHS variable).
# Real code for Ampere (sm_80) and Hopper (sm_90), plus compute_90 PTX for newer GPUs.
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES AND NOT DEFINED ENV{CUDAARCHS})
  set(CMAKE_CUDA_ARCHITECTURES "80-real;90" CACHE STRING "CUDA architectures to compile for")
endif()

enable_language(CUDA)
find_package(CUDAToolkit REQUIRED)
set(NEURON_HAS_CUDA ON)
message(STATUS "CUDA backend: nvcc ${CMAKE_CUDA_COMPILER_VERSION}, host compiler "
               "${CMAKE_CUDA_HOST_COMPILER}, architectures ${CMAKE_CUDA_ARCHITECTURES}")
