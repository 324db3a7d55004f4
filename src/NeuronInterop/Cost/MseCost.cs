using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NeuronInterop.Modules;
using NeuronInterop.Native;

namespace NeuronInterop.Cost;

/// <summary>
/// The mean squared error cost over N = batch × features elements:
/// <c>error = Σ(pred − target)²/(2N)</c> and <c>grad = ∂error/∂pred = (pred − target)/N</c>.
/// </summary>
/// <remarks>
/// The gradient has the ordinary sign, and <see cref="Optimizers.Sgd"/> subtracts it. PuzzleLib's
/// <c>MSE</c> returns the negative gradient <c>(target − pred)/N</c> and its optimizers add it;
/// both give the same parameter updates.
/// Every computation adds <c>error·batch</c> and <c>batch</c> to an accumulator on the device, so
/// that <see cref="MeanError"/> is the batch-weighted mean since <see cref="ResetAccumulator"/>.
/// Nothing is copied to the host until a value is read. The cost binds to the device of its
/// first computation when none is given.
/// </remarks>
public sealed class MseCost : IDisposable
{
    private readonly ILogger _logger;
    private Tensor? _error;
    private Tensor? _accumulator;
    private Tensor? _grad;
    private bool _hasError;
    private Device? _device;
    private readonly Lock _bindLock = new();

    /// <summary>Creates the cost.</summary>
    /// <param name="device">The device its buffers live on; when null, the device of the first prediction.</param>
    /// <param name="logger">Where the cost logs; nothing is logged when null.</param>
    public MseCost(Device? device = null, ILogger? logger = null)
    {
        _logger = logger ?? NullLogger.Instance;
        Guard = new SingleThreadGuard(() => "MseCost", "its error, gradient and accumulated error sums");
        if (device is not null)
        {
            Bind(device);
        }
    }

    /// <summary>The device the cost is bound to, or null before its first use.</summary>
    public Device? Device => Volatile.Read(ref _device);

    /// <summary>Whether <see cref="Dispose"/> has been called.</summary>
    public bool IsDisposed { get; private set; }

    /// <summary>Refuses a computation from a second thread while one thread uses the cost (handlers hold it for a whole call).</summary>
    internal SingleThreadGuard Guard { get; }

    /// <summary>The error of the last batch; reading it synchronises the device. NaN before the first computation.</summary>
    public float LastError
    {
        get
        {
            ThrowIfDisposed();
            return _hasError && _error is not null ? new DeviceScalar(_error).Value : float.NaN;
        }
    }

    /// <summary>The batch-weighted mean error since the last <see cref="ResetAccumulator"/>; reading it synchronises the device. NaN when no sample was seen.</summary>
    public double MeanError
    {
        get
        {
            ThrowIfDisposed();
            if (_accumulator is null)
            {
                return double.NaN;
            }
            var (errorSum, sampleCount) = NativeOps.AccumulatorRead(_accumulator);
            return sampleCount > 0 ? errorSum / sampleCount : double.NaN;
        }
    }

    /// <summary>The number of samples (rows) accumulated since the last <see cref="ResetAccumulator"/>; reading it synchronises the device.</summary>
    public long SampleCount
    {
        get
        {
            ThrowIfDisposed();
            return _accumulator is null ? 0 : (long)Math.Round(NativeOps.AccumulatorRead(_accumulator).SampleCount);
        }
    }

    internal Tensor? ErrorTensor => _error;

    internal Tensor? AccumulatorTensor => _accumulator;

    /// <summary>
    /// Computes the error and the gradient of a batch and adds the error to the accumulator.
    /// </summary>
    /// <param name="prediction">The predictions (batch × features).</param>
    /// <param name="target">The targets, the same shape.</param>
    /// <returns>
    /// The error, read lazily, and the gradient <c>(pred − target)/N</c>; both buffers are owned by
    /// the cost and overwritten by its next computation.
    /// </returns>
    /// <exception cref="ArgumentException">The shapes differ, or the tensors live on different devices or another device than the cost.</exception>
    /// <exception cref="ObjectDisposedException">The cost or a tensor has been disposed.</exception>
    /// <exception cref="InvalidOperationException">Another thread is using the cost (a cost belongs to one thread at a time).</exception>
    public (DeviceScalar Error, Tensor Grad) Compute(Tensor prediction, Tensor target)
    {
        using SingleThreadGuard.Use use = Guard.Enter();
        CheckPair(prediction, target);
        // Reallocated when the shape changes, or when a caller disposed the returned gradient.
        if (_grad is null || _grad.IsDisposed || !Module.SameShape(_grad, prediction))
        {
            _grad?.Dispose();
            _grad = null;
            _grad = new Tensor(prediction.Device, prediction.Shape.ToArray());
        }
        NativeOps.Mse(prediction, target, _grad, _error, _accumulator);
        _hasError = true;
        return (new DeviceScalar(_error!), _grad);
    }

    /// <summary>Computes the error of a batch and adds it to the accumulator, without a gradient (as a validator does).</summary>
    /// <param name="prediction">The predictions (batch × features).</param>
    /// <param name="target">The targets, the same shape.</param>
    /// <returns>The error, read lazily.</returns>
    /// <exception cref="ArgumentException">The shapes differ, or the tensors live on different devices or another device than the cost.</exception>
    /// <exception cref="ObjectDisposedException">The cost or a tensor has been disposed.</exception>
    /// <exception cref="InvalidOperationException">Another thread is using the cost (a cost belongs to one thread at a time).</exception>
    public DeviceScalar Evaluate(Tensor prediction, Tensor target)
    {
        using SingleThreadGuard.Use use = Guard.Enter();
        CheckPair(prediction, target);
        NativeOps.Mse(prediction, target, null, _error, _accumulator);
        _hasError = true;
        return new DeviceScalar(_error!);
    }

    /// <summary>Zeroes the accumulator behind <see cref="MeanError"/> and <see cref="SampleCount"/>.</summary>
    public void ResetAccumulator()
    {
        ThrowIfDisposed();
        using SingleThreadGuard.Use use = Guard.Enter();
        if (_accumulator is not null)
        {
            NativeOps.AccumulatorReset(_accumulator);
        }
    }

    /// <summary>Releases the cost's device buffers.</summary>
    /// <exception cref="InvalidOperationException">Another thread is using the cost: its call would go on with freed buffers.</exception>
    public void Dispose()
    {
        if (IsDisposed)
        {
            return;
        }
        using SingleThreadGuard.Use use = Guard.Enter();
        lock (_bindLock)  // a Bind on another thread allocates before this, or sees the cost disposed
        {
            IsDisposed = true;
            Guard.Close();  // a call that checked IsDisposed before this dispose is refused when it takes the cost
            _grad?.Dispose();
            _error?.Dispose();
            _accumulator?.Dispose();
        }
    }

    /// <summary>Binds the cost to <paramref name="device"/> (allocating its buffers) or checks it is bound there.</summary>
    /// <param name="device">The device.</param>
    /// <param name="user">What lives on <paramref name="device"/>, for the message when the cost is bound elsewhere.</param>
    /// <param name="paramName">The caller's parameter that passed the cost, when it was one.</param>
    internal void Bind(Device device, string user = "the tensors", string? paramName = null)
    {
        ThrowIfDisposed();
        device.ThrowIfDisposed();
        if (Device is null)
        {
            lock (_bindLock)  // two handlers made at once on two threads bind it once
            {
                ThrowIfDisposed();  // by a Dispose on another thread since the check above
                if (Device is null)
                {
                    Allocate(device);
                }
            }
        }
        if (!ReferenceEquals(Device, device))
        {
            throw new ArgumentException(
                $"The cost is bound to another device ({Device}) than {user} ({device}): use a cost made on that device.",
                paramName);
        }
    }

    private void Allocate(Device device)
    {
        Tensor error = new(device, 1);
        try
        {
            _accumulator = new Tensor(device, NeuronNative.NRN_ACCUMULATOR_SIZE);
        }
        catch
        {
            error.Dispose();
            throw;
        }
        _error = error;
        Volatile.Write(ref _device, device);  // published after its buffers
        _logger.LogDebug("MSE cost bound to {Device}", device);
    }

    /// <summary>Notes that a fused native step wrote the error buffer.</summary>
    internal void MarkErrorWritten() => _hasError = true;

    private void CheckPair(Tensor prediction, Tensor target)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(prediction);
        ArgumentNullException.ThrowIfNull(target);
        prediction.ThrowIfDisposed();
        target.ThrowIfDisposed();
        if (!ReferenceEquals(prediction.Device, target.Device))
        {
            throw new ArgumentException($"The prediction lives on {prediction.Device}, the target on {target.Device}.", nameof(target));
        }
        if (!Module.SameShape(prediction, target))
        {
            throw new ShapeMismatchException(
                $"MSE: the prediction has shape {Module.ShapeText(prediction)}, the target {Module.ShapeText(target)}.", nameof(target));
        }
        Bind(prediction.Device);
    }

    /// <summary>Throws <see cref="ObjectDisposedException"/> named <c>MseCost</c> once the cost is disposed.</summary>
    internal void ThrowIfDisposed()
    {
        if (IsDisposed)
        {
            throw new ObjectDisposedException(nameof(MseCost));
        }
    }
}
