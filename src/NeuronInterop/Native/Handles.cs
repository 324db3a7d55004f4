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
/// Keeps a tensor's native handle from being released for the duration of a native call
/// (<c>using var x = tensor.Lease();</c>). A lease of no tensor passes NULL.
/// </summary>
internal unsafe ref struct TensorLease
{
    private readonly SafeHandle? _handle;
    private bool _added;

    /// <summary>The native pointer, or null for no tensor.</summary>
    public readonly nrn_tensor* Pointer;

    internal TensorLease(SafeHandle handle)
    {
        _handle = handle;
        _added = false;
        handle.DangerousAddRef(ref _added);
        Pointer = (nrn_tensor*)handle.DangerousGetHandle();
    }

    public void Dispose()
    {
        if (_added)
        {
            _added = false;
            _handle!.DangerousRelease();
        }
    }
}

/// <summary>Keeps a context's native handle from being released for the duration of a native call.</summary>
internal unsafe ref struct ContextLease
{
    private readonly SafeHandle _handle;
    private bool _added;

    /// <summary>The native pointer.</summary>
    public readonly nrn_context* Pointer;

    internal ContextLease(SafeHandle handle)
    {
        _handle = handle;
        _added = false;
        handle.DangerousAddRef(ref _added);
        Pointer = (nrn_context*)handle.DangerousGetHandle();
    }

    public void Dispose()
    {
        if (_added)
        {
            _added = false;
            _handle.DangerousRelease();
        }
    }
}
