using System.Collections.ObjectModel;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using NeuronInterop.Native;

namespace NeuronInterop;

/// <summary>
/// A dense, row-major float32 tensor of 1 to 4 dimensions that lives on one <see cref="Device"/>.
/// Dispose it to release its memory; a row view (<see cref="SliceRows"/>) shares the memory
/// and is disposed independently.
/// </summary>
public sealed unsafe class Tensor : IDisposable
{
    /// <summary>The largest number of dimensions a tensor can have.</summary>
    public const int MaxRank = NeuronNative.NRN_MAX_DIMS;

    private readonly long[] _shape;

    // What this tensor and its row views have in common (SharesMemoryWith): one object per allocation.
    private readonly object _memory;

    private Tensor(Device device, TensorHandle handle, long[] shape, object? memory = null)
    {
        Device = device;
        Handle = handle;
        _shape = shape;
        _memory = memory ?? new object();
        Shape = new ReadOnlyCollection<long>(shape);
        ElementCount = ElementCountOf(shape);
    }

    /// <summary>Creates a zero-filled tensor of <paramref name="shape"/> on <paramref name="device"/>.</summary>
    /// <param name="device">The device that holds the tensor.</param>
    /// <param name="shape">1 to <see cref="MaxRank"/> dimensions, each greater than zero.</param>
    /// <exception cref="ArgumentException">The shape has no dimensions, too many, or one that is not positive.</exception>
    /// <exception cref="NeuronOutOfMemoryException">
    /// The device has no room for it, even after undisposed tensors were collected and released (one retry).
    /// </exception>
    public Tensor(Device device, params long[] shape)
        : this(device, CreateHandle(device, shape), (long[])shape.Clone())
    {
        try
        {
            Fill(0f);
        }
        catch
        {
            Handle.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A tensor of <paramref name="shape"/> whose memory is left as allocated, unfilled: what it holds is undefined until
    /// written. For tensors whose size alone matters, which a fill would make resident.
    /// </summary>
    internal static Tensor Unfilled(Device device, params long[] shape) =>
        new(device, CreateHandle(device, shape), (long[])shape.Clone());

    /// <summary>The device that holds this tensor.</summary>
    public Device Device { get; }

    /// <summary>The size of each dimension, outermost first.</summary>
    public IReadOnlyList<long> Shape { get; }

    /// <summary>The number of dimensions.</summary>
    public int Rank => _shape.Length;

    /// <summary>The number of elements (the product of the shape).</summary>
    public long ElementCount { get; }

    /// <summary>The size of the first dimension.</summary>
    public long RowCount => _shape[0];

    /// <summary>Whether this tensor has been disposed.</summary>
    public bool IsDisposed => Handle.IsClosed;

    internal TensorHandle Handle { get; }

    /// <summary>Creates a tensor of <paramref name="shape"/> holding a copy of <paramref name="data"/> (row-major).</summary>
    /// <param name="device">The device that holds the tensor.</param>
    /// <param name="data">The elements, row-major.</param>
    /// <param name="shape">The shape; none means one dimension of <c>data.Length</c>.</param>
    /// <exception cref="ArgumentException">The shape is invalid, or its element count differs from the length of <paramref name="data"/>.</exception>
    public static Tensor FromArray(Device device, ReadOnlySpan<float> data, params long[] shape)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(shape);
        if (shape.Length == 0)
        {
            shape = [data.Length];
        }

        long count = ValidateShape(shape);
        if (count != data.Length)
        {
            throw new ArgumentException(
                $"The data has {data.Length} elements but the shape {FormatShape(shape)} needs {count}.", nameof(data));
        }

        var tensor = new Tensor(device, CreateHandle(device, shape), (long[])shape.Clone());
        try
        {
            tensor.CopyFrom(data);
            return tensor;
        }
        catch
        {
            tensor.Dispose();
            throw;
        }
    }

    /// <summary>Creates a 1-D tensor holding a copy of <paramref name="data"/>.</summary>
    /// <param name="device">The device that holds the tensor.</param>
    /// <param name="data">The elements.</param>
    /// <exception cref="ArgumentException"><paramref name="data"/> is empty.</exception>
    public static Tensor FromArray(Device device, float[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.Length == 0)
        {
            throw new ArgumentException("The array is empty: a tensor has at least one element.", nameof(data));
        }
        return FromArray(device, data, data.Length);
    }

    /// <summary>Creates a 2-D tensor (rows × columns) holding a copy of <paramref name="data"/>.</summary>
    /// <param name="device">The device that holds the tensor.</param>
    /// <param name="data">The elements, rows × columns.</param>
    /// <exception cref="ArgumentException"><paramref name="data"/> has no rows or no columns.</exception>
    public static Tensor FromArray(Device device, float[,] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.Length == 0)
        {
            throw new ArgumentException(
                $"The array has {data.GetLength(0)} rows and {data.GetLength(1)} columns: a tensor has at least one of each.", nameof(data));
        }
        return FromArray(device, SpanOf(data), data.GetLength(0), data.GetLength(1));
    }

    /// <summary>Copies the tensor to a new host array (a blocking copy that waits for prior work).</summary>
    /// <exception cref="InvalidOperationException">The tensor has more elements than a .NET array holds (<see cref="Array.MaxLength"/>): copy it in row slices (<see cref="SliceRows"/>).</exception>
    /// <exception cref="ObjectDisposedException">The tensor or its device has been disposed.</exception>
    public float[] ToArray()
    {
        var result = new float[HostLength()];
        CopyTo(result);
        return result;
    }

    /// <summary>Copies a rank-2 tensor to a new rows × columns host array.</summary>
    /// <exception cref="InvalidOperationException">The tensor's rank is not 2, or it has more elements than a .NET array holds.</exception>
    /// <exception cref="ObjectDisposedException">The tensor or its device has been disposed.</exception>
    public float[,] ToArray2D()
    {
        ThrowIfDisposed();
        if (Rank != 2)
        {
            throw new InvalidOperationException($"ToArray2D needs a rank-2 tensor; this one has shape {FormatShape(_shape)}.");
        }

        HostLength();
        var result = new float[_shape[0], _shape[1]];
        CopyTo(SpanOf(result));
        return result;
    }

    /// <summary>Copies all elements into the start of <paramref name="destination"/> (a blocking copy).</summary>
    /// <param name="destination">Host memory of at least <see cref="ElementCount"/> elements.</param>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than <see cref="ElementCount"/>.</exception>
    /// <exception cref="ObjectDisposedException">The tensor or its device has been disposed.</exception>
    public void CopyTo(Span<float> destination)
    {
        using var context = Device.Lease();
        using var tensor = Lease();
        if (destination.Length < ElementCount)
        {
            throw new ArgumentException(
                $"The destination has {destination.Length} elements but the tensor of shape {FormatShape(_shape)} has {ElementCount}.",
                nameof(destination));
        }

        fixed (float* target = destination)
        {
            Ensure.Success(NeuronNative.nrn_tensor_copy_to_host(context.Pointer, tensor.Pointer, target, ElementCount));
        }
    }

    /// <summary>Overwrites the tensor with <paramref name="source"/>, which must have exactly <see cref="ElementCount"/> elements.</summary>
    /// <param name="source">The elements, row-major.</param>
    /// <exception cref="ArgumentException">The element counts differ.</exception>
    /// <exception cref="ObjectDisposedException">The tensor or its device has been disposed.</exception>
    public void CopyFrom(ReadOnlySpan<float> source)
    {
        using var context = Device.Lease();
        using var tensor = Lease();
        if (source.Length != ElementCount)
        {
            throw new ArgumentException(
                $"The source has {source.Length} elements but the tensor of shape {FormatShape(_shape)} has {ElementCount}.",
                nameof(source));
        }

        fixed (float* data = source)
        {
            Ensure.Success(NeuronNative.nrn_tensor_copy_from_host(context.Pointer, tensor.Pointer, data, ElementCount));
        }
    }

    /// <summary>
    /// Overwrites the tensor with the elements of <paramref name="source"/> (equal element counts; the shapes may differ).
    /// A tensor on another device is copied directly: to or from host memory, or device to device between two
    /// CUDA devices; such a copy waits for the source device's prior work and returns when it is done.
    /// </summary>
    /// <param name="source">The tensor to copy.</param>
    /// <exception cref="ShapeMismatchException">
    /// The element counts differ, whichever devices the two tensors are on (it is an <see cref="ArgumentException"/>).
    /// </exception>
    /// <exception cref="ArgumentException"><paramref name="source"/> shares part, but not all, of this tensor's memory.</exception>
    /// <exception cref="ObjectDisposedException">Either tensor or its device has been disposed.</exception>
    public void CopyFrom(Tensor source)
    {
        ArgumentNullException.ThrowIfNull(source);
        // Checked here so that a disposed object is reported before a count that differs, on every pair of devices.
        Device.ThrowIfDisposed();
        source.Device.ThrowIfDisposed();
        source.ThrowIfDisposed();
        ThrowIfDisposed();
        if (source.ElementCount != ElementCount)
        {
            throw new ShapeMismatchException(
                $"CopyFrom: the source {source} has {source.ElementCount} elements but the destination {this} has {ElementCount}; " +
                "give tensors of equal element counts (their shapes may differ).", nameof(source));
        }

        using var sourceContext = source.Device.Lease();
        using var context = Device.Lease();
        using var from = source.Lease();
        using var to = Lease();
        Ensure.Success(NeuronNative.nrn_tensor_copy_between(sourceContext.Pointer, from.Pointer, context.Pointer, to.Pointer));
    }

    /// <summary>Sets every element to <paramref name="value"/>.</summary>
    /// <param name="value">The value, NaN and infinities included.</param>
    /// <exception cref="ObjectDisposedException">The tensor or its device has been disposed.</exception>
    public void Fill(float value)
    {
        using var context = Device.Lease();
        using var tensor = Lease();
        Ensure.Success(NeuronNative.nrn_tensor_fill(context.Pointer, tensor.Pointer, value));
    }

    /// <summary>Fills with values uniform in [<paramref name="low"/>, <paramref name="high"/>), reproducible from <paramref name="seed"/> and identical on every backend.</summary>
    /// <param name="low">The lower bound, finite.</param>
    /// <param name="high">The upper bound, finite and at least <paramref name="low"/>, with a finite width <c>high − low</c>.</param>
    /// <param name="seed">The seed.</param>
    /// <exception cref="ArgumentException">The range is not finite, or <paramref name="low"/> exceeds <paramref name="high"/>.</exception>
    /// <exception cref="ObjectDisposedException">The tensor or its device has been disposed.</exception>
    public void FillUniform(float low, float high, ulong seed)
    {
        using var context = Device.Lease();
        using var tensor = Lease();
        Ensure.Success(NeuronNative.nrn_tensor_fill_uniform(context.Pointer, tensor.Pointer, low, high, seed));
    }

    /// <summary>Fills with values from N(<paramref name="mean"/>, <paramref name="stddev"/>²), reproducible from <paramref name="seed"/>.</summary>
    /// <param name="mean">The mean, finite.</param>
    /// <param name="stddev">The standard deviation, finite and at least 0.</param>
    /// <param name="seed">The seed.</param>
    /// <exception cref="ArgumentException">
    /// A value is not finite, <paramref name="stddev"/> is negative, or |mean| + 8.7·stddev exceeds the float range.
    /// </exception>
    /// <exception cref="ObjectDisposedException">The tensor or its device has been disposed.</exception>
    public void FillNormal(float mean, float stddev, ulong seed)
    {
        using var context = Device.Lease();
        using var tensor = Lease();
        Ensure.Success(NeuronNative.nrn_tensor_fill_normal(context.Pointer, tensor.Pointer, mean, stddev, seed));
    }

    /// <summary>
    /// A view of rows [<paramref name="firstRow"/>, <paramref name="firstRow"/> + <paramref name="rowCount"/>) of the first
    /// dimension, sharing this tensor's memory (no copy). Dispose the view independently; it stays valid after this tensor is disposed.
    /// </summary>
    /// <param name="firstRow">The first row of the view, from 0.</param>
    /// <param name="rowCount">The number of rows, at least 1.</param>
    /// <exception cref="ArgumentException">The rows are not within the tensor.</exception>
    /// <exception cref="ObjectDisposedException">The tensor has been disposed.</exception>
    public Tensor SliceRows(long firstRow, long rowCount)
    {
        // The handle exists before the native view does, so nothing can fail between the view's
        // creation and its ownership by the handle (which would leak the native view).
        var handle = new TensorHandle();
        nrn_tensor* view = null;
        using (var tensor = Lease())
        {
            Ensure.Success(NeuronNative.nrn_tensor_view_rows(tensor.Pointer, firstRow, rowCount, &view));
        }

        handle.Attach(view);
        var shape = (long[])_shape.Clone();
        shape[0] = rowCount;
        return new Tensor(Device, handle, shape, _memory);
    }

    /// <summary>
    /// Copies <paramref name="rowCount"/> rows of <paramref name="source"/> starting at <paramref name="sourceRow"/>
    /// into this tensor starting at <paramref name="destinationRow"/>; the row sizes must match and both tensors must be on this device.
    /// </summary>
    /// <param name="source">The tensor to copy from.</param>
    /// <param name="sourceRow">The first row read from <paramref name="source"/>.</param>
    /// <param name="destinationRow">The first row written in this tensor.</param>
    /// <param name="rowCount">The number of rows.</param>
    /// <exception cref="ArgumentException">The rows are out of range, the row sizes differ, or the devices differ.</exception>
    /// <exception cref="ObjectDisposedException">Either tensor or the device has been disposed.</exception>
    public void CopyRowsFrom(Tensor source, long sourceRow, long destinationRow, long rowCount)
    {
        ArgumentNullException.ThrowIfNull(source);
        using var context = Device.Lease();
        using var from = source.Lease();
        using var to = Lease();
        Ensure.Success(NeuronNative.nrn_tensor_copy_rows(context.Pointer, from.Pointer, sourceRow, to.Pointer, destinationRow, rowCount));
    }

    /// <summary>Releases the tensor's native handle; its memory is freed once no view uses it.</summary>
    public void Dispose() => Handle.Dispose();

    /// <summary>For example "Tensor[3x4] on cuda:0".</summary>
    public override string ToString() =>
        $"Tensor{FormatShape(_shape)} on {Device}{(IsDisposed ? " (disposed)" : string.Empty)}";

    /// <summary>Throws <see cref="ObjectDisposedException"/> naming this tensor's shape and device when it has been disposed.</summary>
    /// <summary>Whether this tensor and <paramref name="other"/> view the same memory (one is the other, or a row view of it, or both are views of one tensor).</summary>
    internal bool SharesMemoryWith(Tensor? other) => other is not null && ReferenceEquals(_memory, other._memory);

    internal void ThrowIfDisposed()
    {
        if (Handle.IsClosed)
        {
            throw new ObjectDisposedException($"Tensor{FormatShape(_shape)} on {Device}");
        }
    }

    /// <summary>The native handle for one call (see <see cref="TensorLease"/>); throws <see cref="ObjectDisposedException"/> when disposed.</summary>
    internal TensorLease Lease()
    {
        ThrowIfDisposed();
        return new TensorLease(Handle);
    }

    /// <summary>The native handle of an optional tensor for one call; a null tensor gives a NULL pointer.</summary>
    internal static TensorLease Lease(Tensor? tensor) => tensor is null ? default : tensor.Lease();

    internal static string FormatShape(IReadOnlyList<long> shape) => $"[{string.Join("x", shape)}]";

    private static TensorHandle CreateHandle(Device device, long[] shape)
    {
        ArgumentNullException.ThrowIfNull(device);
        long count = ValidateShape(shape);
        var handle = new TensorHandle();
        nrn_tensor* tensor = null;
        try
        {
            tensor = CreateNative(device, shape);
        }
        catch (NeuronOutOfMemoryException)
        {
            // Tensors that were never disposed may hold the memory: collect them, wait for their release, try once more.
            GC.Collect();
            GC.WaitForPendingFinalizers();
            FinalizedHandles.WaitForQueued();
            tensor = CreateNative(device, shape);
        }

        handle.AttachNew(tensor, count * sizeof(float));
        return handle;
    }

    private static nrn_tensor* CreateNative(Device device, long[] shape)
    {
        nrn_tensor* tensor = null;
        using var context = device.Lease();
        fixed (long* dims = shape)
        {
            Ensure.Success(NeuronNative.nrn_tensor_create(context.Pointer, shape.Length, dims, &tensor));
        }
        return tensor;
    }

    private static long ValidateShape(long[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (shape.Length is 0 or > MaxRank)
        {
            throw new ArgumentException($"A tensor has 1 to {MaxRank} dimensions; the shape {FormatShape(shape)} has {shape.Length}.", nameof(shape));
        }

        foreach (long dimension in shape)
        {
            if (dimension <= 0)
            {
                throw new ArgumentException($"Every dimension must be greater than zero; the shape is {FormatShape(shape)}.", nameof(shape));
            }
        }

        try
        {
            return ElementCountOf(shape);
        }
        catch (OverflowException)
        {
            throw new ArgumentException($"The shape {FormatShape(shape)} has more elements than a 64-bit count holds.", nameof(shape));
        }
    }

    private static long ElementCountOf(long[] shape)
    {
        long count = 1;
        foreach (long dimension in shape)
        {
            count = checked(count * dimension);
        }

        return count;
    }

    private static Span<float> SpanOf(float[,] array) =>
        MemoryMarshal.CreateSpan(ref Unsafe.As<byte, float>(ref MemoryMarshal.GetArrayDataReference(array)), array.Length);

    private int HostLength()
    {
        ThrowIfDisposed();
        if (ElementCount > Array.MaxLength)
        {
            throw new InvalidOperationException(
                $"The tensor of shape {FormatShape(_shape)} has {ElementCount} elements, more than a .NET array holds; copy it in row slices.");
        }

        return (int)ElementCount;
    }
}
