namespace NeuronInterop;

/// <summary>Properties of a CUDA device, as reported by the CUDA runtime.</summary>
/// <param name="Index">The CUDA device index.</param>
/// <param name="Name">The device's name, e.g. "NVIDIA H200".</param>
/// <param name="TotalMemory">Total device memory in bytes.</param>
/// <param name="ComputeMajor">Compute capability, major part.</param>
/// <param name="ComputeMinor">Compute capability, minor part.</param>
/// <param name="MultiprocessorCount">Number of streaming multiprocessors.</param>
public readonly record struct CudaDeviceInfo(
    int Index, string Name, ulong TotalMemory, int ComputeMajor, int ComputeMinor, int MultiprocessorCount);
