namespace NeuronInterop;

/// <summary>How the host backend computes, as the native library chose when it first needed it.</summary>
/// <param name="Simd">The instruction set of its matrix kernels: "avx512", "avx2" or "baseline" (the widest the CPU has, or the narrower one NEURON_HOST_SIMD asks for).</param>
/// <param name="Threads">The threads its operations may use, the caller's included (NEURON_HOST_THREADS, or the hardware's, at most 64).</param>
public readonly record struct HostBackendInfo(string Simd, int Threads);
