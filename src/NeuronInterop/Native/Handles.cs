using System.Runtime.InteropServices;

namespace NeuronInterop.Native;

/// <summary>
/// Owns one native context or tensor. Disposing it destroys the native object at once; when the garbage collector
/// finalised it instead, the native object is destroyed on <see cref="FinalizedHandles"/>' thread, since the
/// finalizer thread must not wait for a busy device.
/// </summary>
internal abstract unsafe class NativeHandle : SafeHandle
{
    private bool _finalizing;

    protected NativeHandle()
        : base(IntPtr.Zero, ownsHandle: true)
    {
        FinalizedHandles.EnsureStarted();
    }

    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <summary>Whether the native object is a context (else a tensor).</summary>
    protected abstract bool IsContext { get; }

    /// <summary>Destroys a native context or tensor.</summary>
    public static nrn_status Destroy(IntPtr handle, bool isContext) => isContext
        ? NeuronNative.nrn_context_destroy((nrn_context*)handle)
        : NeuronNative.nrn_tensor_destroy((nrn_tensor*)handle);

    protected override void Dispose(bool disposing)
    {
        _finalizing = !disposing;
        base.Dispose(disposing);
    }

    protected override bool ReleaseHandle()
    {
        OnRelease();
        if (_finalizing)
        {
            FinalizedHandles.Release(handle, IsContext);
            return true;
        }
        return Destroy(handle, IsContext) == nrn_status.NRN_STATUS_OK;
    }

    /// <summary>Called once, as the handle is released (disposed or finalised).</summary>
    protected virtual void OnRelease()
    {
    }
}

/// <summary>Owns one native <c>nrn_context</c>.</summary>
/// <remarks>The native library keeps a context's memory alive while tensors created on it live, so the order in which handles are released does not matter.</remarks>
internal sealed unsafe class ContextHandle : NativeHandle
{
    protected override bool IsContext => true;

    /// <summary>Creates a context on <paramref name="backend"/>; throws through the status table.</summary>
    public static ContextHandle Create(nrn_backend backend, int device)
    {
        var result = new ContextHandle();
        nrn_context* context = null;
        nrn_status status = NeuronNative.nrn_context_create(backend, device, &context);
        if (status != nrn_status.NRN_STATUS_OK)
        {
            result.Dispose();
            Ensure.Success(status);
        }

        result.SetHandle((IntPtr)context);
        return result;
    }
}

/// <summary>Owns one native <c>nrn_tensor</c> (a tensor or a row view).</summary>
internal sealed unsafe class TensorHandle : NativeHandle
{
    private long _pressure;  // bytes reported to the garbage collector for this handle's memory

    protected override bool IsContext => false;

    /// <summary>Takes ownership of a tensor pointer that a successful native call has just returned.</summary>
    public void Attach(nrn_tensor* tensor)
    {
        SetHandle((IntPtr)tensor);
    }

    /// <summary>
    /// Takes ownership of a new tensor's pointer and tells the garbage collector about its <paramref name="bytes"/>,
    /// so that undisposed tensors are collected as their memory, not their small managed objects, grows.
    /// </summary>
    public void AttachNew(nrn_tensor* tensor, long bytes)
    {
        SetHandle((IntPtr)tensor);
        GC.AddMemoryPressure(bytes);
        _pressure = bytes;
    }

    protected override void OnRelease()
    {
        if (_pressure > 0)
        {
            GC.RemoveMemoryPressure(_pressure);
        }
    }
}

/// <summary>
/// A tensor's native pointer for one native call (<c>using var x = tensor.Lease();</c>), with the tensor's handle kept
/// from finalisation until the lease ends. A lease of no tensor passes NULL.
/// </summary>
/// <remarks>
/// A lease takes no reference on the handle (<see cref="SafeHandle.DangerousAddRef"/>), which would cost two
/// interlocked operations per tensor per call: over a third of a small call's time. It needs none. The native library
/// never gives a handle value twice and keeps every object a call names alive until the call returns, so a handle
/// that another thread disposes during the call makes it fail with <c>NRN_STATUS_INVALID_HANDLE</c> (an
/// <see cref="ObjectDisposedException"/>) or finish first; it never reaches freed memory. What the lease must still
/// prevent is the garbage collector finalising a tensor that the caller no longer references while its call runs:
/// the finaliser would release the handle and fail the call. <see cref="Dispose"/> keeps the handle reachable
/// until then.
/// </remarks>
internal unsafe ref struct TensorLease
{
    private readonly SafeHandle? _handle;

    /// <summary>The native pointer, or null for no tensor.</summary>
    public readonly nrn_tensor* Pointer;

    /// <summary>Reads the pointer of a handle that the caller has just seen open.</summary>
    internal TensorLease(SafeHandle handle)
    {
        _handle = handle;
        Pointer = (nrn_tensor*)handle.DangerousGetHandle();
    }

    public readonly void Dispose() => GC.KeepAlive(_handle);
}

/// <summary>A context's native pointer for one native call, as <see cref="TensorLease"/> is a tensor's.</summary>
internal unsafe ref struct ContextLease
{
    private readonly SafeHandle _handle;

    /// <summary>The native pointer.</summary>
    public readonly nrn_context* Pointer;

    /// <summary>Reads the pointer of a handle that the caller has just seen open.</summary>
    internal ContextLease(SafeHandle handle)
    {
        _handle = handle;
        Pointer = (nrn_context*)handle.DangerousGetHandle();
    }

    public readonly void Dispose() => GC.KeepAlive(_handle);
}
