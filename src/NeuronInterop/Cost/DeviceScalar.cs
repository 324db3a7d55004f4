namespace NeuronInterop.Cost;

/// <summary>
/// A float that stays on the device until it is read: <see cref="Value"/> waits for the work
/// queued before it and copies the number to the host. It reads the buffer's current content,
/// so read it before the next computation that writes the same buffer.
/// </summary>
public readonly struct DeviceScalar
{
    private readonly Tensor? _tensor;

    internal DeviceScalar(Tensor tensor) => _tensor = tensor;

    /// <summary>Synchronises the device and reads the value.</summary>
    /// <exception cref="InvalidOperationException">The scalar is the default value (not from a computation).</exception>
    /// <exception cref="ObjectDisposedException">The cost that computed it has been disposed.</exception>
    public float Value
    {
        get
        {
            if (_tensor is null)
            {
                throw new InvalidOperationException("This DeviceScalar does not refer to a device value.");
            }
            if (_tensor.IsDisposed)
            {
                throw new ObjectDisposedException(nameof(MseCost), "The cost that computed this value has been disposed.");
            }
            Span<float> value = stackalloc float[1];
            _tensor.CopyTo(value);
            return value[0];
        }
    }

    /// <summary>Reads the value (see <see cref="Value"/>).</summary>
    /// <param name="scalar">The scalar.</param>
    public static implicit operator float(DeviceScalar scalar) => scalar.Value;

    /// <inheritdoc />
    public override string ToString() => _tensor is null ? "(none)" : Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
