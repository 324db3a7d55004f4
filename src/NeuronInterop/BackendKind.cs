namespace NeuronInterop;

/// <summary>The compute backend of a <see cref="Device"/>.</summary>
public enum BackendKind
{
    /// <summary>The host (CPU) implementation, always present.</summary>
    Host = 0,

    /// <summary>Hand-written CUDA kernels on an NVIDIA GPU.</summary>
    Cuda = 1,
}
