namespace NeuronInterop;

/// <summary>A failure reported by the native library that has no more specific .NET exception type.</summary>
public class NeuronException : Exception
{
    /// <summary>Creates an exception with a message and the native status <see cref="NeuronStatus.InternalError"/>.</summary>
    public NeuronException(string message)
        : this(message, NeuronStatus.InternalError)
    {
    }

    /// <summary>Creates an exception with a message and the native status that caused it.</summary>
    public NeuronException(string message, NeuronStatus status)
        : base(message)
    {
        Status = status;
    }

    /// <summary>Creates an exception with a message and an inner exception.</summary>
    public NeuronException(string message, Exception innerException)
        : base(message, innerException)
    {
        Status = NeuronStatus.InternalError;
    }

    /// <summary>The native status that caused this exception.</summary>
    public NeuronStatus Status { get; }
}

/// <summary>The requested backend or device is not present: no CUDA support compiled in, no GPU, or an index out of range.</summary>
public sealed class DeviceUnavailableException : NeuronException
{
    /// <summary>Creates an exception with a message.</summary>
    public DeviceUnavailableException(string message)
        : base(message, NeuronStatus.DeviceUnavailable)
    {
    }
}

/// <summary>An argument that the native library rejected (a value out of range, or tensors on different devices).</summary>
public class NeuronArgumentException : ArgumentException
{
    /// <summary>Creates an exception with a message and the native status that caused it.</summary>
    public NeuronArgumentException(string message, NeuronStatus status = NeuronStatus.InvalidArgument)
        : base(message)
    {
        Status = status;
    }

    /// <summary>Creates an exception with a message, the name of the argument at fault and the status that describes the fault.</summary>
    public NeuronArgumentException(string message, string? paramName, NeuronStatus status)
        : base(message, paramName)
    {
        Status = status;
    }

    /// <summary>The native status that caused this exception.</summary>
    public NeuronStatus Status { get; }
}

/// <summary>Tensor shapes do not fit the operation.</summary>
public sealed class ShapeMismatchException : NeuronArgumentException
{
    /// <summary>Creates an exception with a message naming the operation and the shapes involved.</summary>
    public ShapeMismatchException(string message)
        : base(message, NeuronStatus.ShapeMismatch)
    {
    }

    /// <summary>
    /// Creates an exception with a message naming the operation and the shapes involved, and the name of the
    /// argument whose shape does not fit (<see cref="ArgumentException.ParamName"/>).
    /// </summary>
    public ShapeMismatchException(string message, string? paramName)
        : base(message, paramName, NeuronStatus.ShapeMismatch)
    {
    }
}

/// <summary>A host or device allocation made by the native library failed.</summary>
public sealed class NeuronOutOfMemoryException : OutOfMemoryException
{
    /// <summary>Creates an exception with a message naming the allocation that failed.</summary>
    public NeuronOutOfMemoryException(string message)
        : base(message)
    {
    }

    /// <summary>The native status that caused this exception (always <see cref="NeuronStatus.OutOfMemory"/>).</summary>
    public NeuronStatus Status => NeuronStatus.OutOfMemory;
}

/// <summary>libneuron.so could not be found or loaded; the message lists every path tried and how to build it.</summary>
public sealed class NativeLibraryNotFoundException : DllNotFoundException
{
    /// <summary>Creates an exception with a message listing the paths tried.</summary>
    public NativeLibraryNotFoundException(string message)
        : base(message)
    {
    }

    /// <summary>The paths that were tried, in order.</summary>
    public IReadOnlyList<string> PathsTried { get; init; } = [];
}
