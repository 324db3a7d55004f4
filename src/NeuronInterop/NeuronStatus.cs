namespace NeuronInterop;

/// <summary>The result of a native libneuron call (the native <c>nrn_status</c>).</summary>
public enum NeuronStatus
{
    /// <summary>The call succeeded.</summary>
    Ok = 0,

    /// <summary>An argument is out of its range.</summary>
    InvalidArgument = 1,

    /// <summary>Tensor shapes do not fit the operation.</summary>
    ShapeMismatch = 2,

    /// <summary>A host or device allocation failed, or its byte count overflows.</summary>
    OutOfMemory = 3,

    /// <summary>The requested backend or device is not present.</summary>
    DeviceUnavailable = 4,

    /// <summary>The backend reported an error (a CUDA runtime error, for instance).</summary>
    BackendError = 5,

    /// <summary>A handle is null or has already been destroyed.</summary>
    InvalidHandle = 6,

    /// <summary>Tensors passed to one call belong to different devices.</summary>
    ContextMismatch = 7,

    /// <summary>An unexpected internal failure.</summary>
    InternalError = 8,
}
