using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace NeuronInterop.Native;

/// <summary>Turns native status codes into exceptions: the one table that maps every status.</summary>
internal static unsafe class Ensure
{
    /// <summary>Returns when <paramref name="status"/> is OK; otherwise throws the mapped exception with the native message.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Success(nrn_status status)
    {
        if (status != nrn_status.NRN_STATUS_OK)
        {
            Throw(status);
        }
    }

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Throw(nrn_status status)
    {
        throw ToException(status, LastError(status));
    }

    /// <summary>The calling thread's last native error message, or the status name when the library gave none.</summary>
    internal static string LastError(nrn_status status)
    {
        string? message = Marshal.PtrToStringUTF8((IntPtr)NeuronNative.nrn_last_error());
        if (string.IsNullOrEmpty(message))
        {
            message = Marshal.PtrToStringUTF8((IntPtr)NeuronNative.nrn_status_string(status));
        }

        return string.IsNullOrEmpty(message) ? $"libneuron failed with status {(int)status}." : message;
    }

    /// <summary>The status table: the exception for a failed status and its message.</summary>
    internal static Exception ToException(nrn_status status, string message)
    {
        return (NeuronStatus)status switch
        {
            NeuronStatus.InvalidArgument => new NeuronArgumentException(message, NeuronStatus.InvalidArgument),
            NeuronStatus.ContextMismatch => new NeuronArgumentException(message, NeuronStatus.ContextMismatch),
            NeuronStatus.ShapeMismatch => new ShapeMismatchException(message),
            NeuronStatus.OutOfMemory => new NeuronOutOfMemoryException(message),
            NeuronStatus.DeviceUnavailable => new DeviceUnavailableException(message),
            NeuronStatus.InvalidHandle => new ObjectDisposedException(null, message),
            NeuronStatus.Ok => new InvalidOperationException($"A successful status is not an error ({message})."),
            var other => new NeuronException(message, other),
        };
    }
}
