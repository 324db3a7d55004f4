namespace NeuronInterop.Modules;

/// <summary>A named trainable tensor of a module and the buffer its gradient is written to.</summary>
public sealed class Parameter
{
    internal Parameter(string name, Tensor value, Tensor grad)
    {
        Name = name;
        Value = value;
        Grad = grad;
    }

    /// <summary>The parameter's name inside its module (<c>"W"</c>, <c>"b"</c>).</summary>
    public string Name { get; }

    /// <summary>The parameter's values; owned by the module.</summary>
    public Tensor Value { get; }

    /// <summary>The gradient of the cost with respect to <see cref="Value"/>, same shape; owned by the module.</summary>
    public Tensor Grad { get; }

    /// <inheritdoc />
    public override string ToString() => $"{Name} {Tensor.FormatShape(Value.Shape)}";

    /// <summary>Throws <see cref="ObjectDisposedException"/>, naming the parameter, when its value or gradient has been disposed.</summary>
    internal void ThrowIfDisposed()
    {
        if (Value.IsDisposed)
        {
            throw new ObjectDisposedException($"parameter '{Name}'", $"The tensor of parameter '{Name}' has been disposed.");
        }
        if (Grad.IsDisposed)
        {
            throw new ObjectDisposedException($"gradient of '{Name}'", $"The gradient of parameter '{Name}' has been disposed.");
        }
    }
}
