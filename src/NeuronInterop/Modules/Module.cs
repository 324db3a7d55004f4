using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace NeuronInterop.Modules;

/// <summary>
/// A layer of a network on one <see cref="NeuronInterop.Device"/>: a forward pass whose output
/// tensor the module owns, a backward pass that writes parameter gradients (in train mode) and,
/// on request, the input gradient, and named <see cref="Parameters"/>. Modules start in train mode.
/// </summary>
public abstract partial class Module : IDisposable
{
    private Tensor? _lastInput;
    private Tensor? _lastOutput;

    /// <summary>Initialises the base of a module.</summary>
    /// <param name="device">The device its tensors live on.</param>
    /// <param name="name">An optional name, used in messages and logs.</param>
    /// <param name="logger">Where the module logs; nothing is logged when null.</param>
    protected Module(Device device, string? name, ILogger? logger)
    {
        ArgumentNullException.ThrowIfNull(device);
        device.ThrowIfDisposed();
        Device = device;
        Name = name;
        Logger = logger ?? NullLogger.Instance;
        Guard = new SingleThreadGuard(Describe, "its output, remembered input and gradients");
    }

    /// <summary>The device the module's tensors live on; inputs must live there too.</summary>
    public Device Device { get; }

    /// <summary>The module's name, or null.</summary>
    public string? Name { get; }

    /// <summary>Whether the module is in train mode (backward computes parameter gradients); true at creation.</summary>
    public bool IsTraining { get; private set; } = true;

    /// <summary>Whether <see cref="Dispose()"/> has been called.</summary>
    public bool IsDisposed { get; private set; }

    /// <summary>The module's trainable parameters, by name.</summary>
    public abstract IEnumerable<Parameter> Parameters { get; }

    /// <summary>The number of input features (columns) the module expects, or null when any count is accepted.</summary>
    protected internal virtual int? InputFeatures => null;

    /// <summary>The number of output features (columns) the module produces, or null when it depends on the input.</summary>
    protected internal virtual int? OutputFeatures => null;

    /// <summary>Where the module logs.</summary>
    protected ILogger Logger { get; }

    /// <summary>Refuses a use from a second thread while one thread uses the module (handlers hold it for a whole call).</summary>
    internal SingleThreadGuard Guard { get; }

    /// <summary>
    /// Runs the forward pass on a batch (rows × features). The returned tensor is owned by the
    /// module and holds the result until the next <see cref="Forward"/> call; it is reallocated
    /// only when the batch size changes (or after a caller disposed it, which is harmless). The
    /// input is remembered for <see cref="Backward"/> and must stay alive until then. The module's
    /// own output, or a row view of it, may be the input (one layer applied twice, <c>lin(lin(x))</c>,
    /// or a handler cutting that output into batches): that call writes another buffer, and the first
    /// output stays whole; so does <see cref="Backward"/> when its gradient or remembered input is
    /// one of its own input gradients.
    /// </summary>
    /// <param name="input">The batch, on <see cref="Device"/>.</param>
    /// <returns>The module's output.</returns>
    /// <exception cref="ArgumentException">The input lives on another device or has the wrong shape.</exception>
    /// <exception cref="ObjectDisposedException">The module or the input has been disposed.</exception>
    /// <exception cref="InvalidOperationException">Another thread is using the module (a module belongs to one thread at a time).</exception>
    public Tensor Forward(Tensor input)
    {
        ThrowIfDisposed();
        using SingleThreadGuard.Use use = Guard.Enter();
        CheckOnDevice(input, nameof(input));
        ValidateInput(input);
        Tensor output = ForwardCore(input);
        _lastInput = input;
        _lastOutput = output;
        return output;
    }

    /// <summary>The call form of <see cref="Forward"/>, like PuzzleLib's <c>module(data)</c>.</summary>
    /// <param name="input">The batch, on <see cref="Device"/>.</param>
    /// <returns>The module's output, owned by the module.</returns>
    public Tensor Invoke(Tensor input) => Forward(input);

    /// <summary>
    /// Runs the backward pass for the last <see cref="Forward"/> call. In train mode the parameter
    /// gradients are written (overwritten, or added to with <paramref name="accumulate"/>); with
    /// <paramref name="updGrad"/> the input gradient is computed and returned (owned by the module).
    /// </summary>
    /// <param name="grad">∂J/∂output, the shape of the last output.</param>
    /// <param name="updGrad">Whether to compute the gradient with respect to the input.</param>
    /// <param name="accumulate">Add the parameter gradients to their buffers instead of overwriting them.</param>
    /// <returns>The input gradient, or null when <paramref name="updGrad"/> is false.</returns>
    /// <exception cref="InvalidOperationException">No forward pass has run, or another thread is using the module.</exception>
    /// <exception cref="ArgumentException"><paramref name="grad"/> lives on another device or its shape differs from the output's.</exception>
    /// <exception cref="ObjectDisposedException">The module, the gradient or the remembered input has been disposed.</exception>
    public Tensor? Backward(Tensor grad, bool updGrad = true, bool accumulate = false)
    {
        ThrowIfDisposed();
        using SingleThreadGuard.Use use = Guard.Enter();
        CheckOnDevice(grad, nameof(grad));
        if (_lastInput is null || _lastOutput is null)
        {
            throw new InvalidOperationException($"{Describe()}: Backward needs a Forward call first.");
        }
        if (_lastInput.IsDisposed)
        {
            throw new ObjectDisposedException(Describe(),
                $"{Describe()}: the input of the last Forward call has been disposed (a Validator or Calculator releases " +
                "the batches it cuts), and Backward needs it: run Forward again first.");
        }
        if (!SameShape(grad, _lastOutput))
        {
            throw new ShapeMismatchException(
                $"{Describe()}: the gradient has shape {ShapeText(grad)}, the last output {ShapeText(_lastOutput)}.", nameof(grad));
        }
        Tensor? inputGrad = BackwardCore(_lastInput, grad, updGrad, accumulate);
        // Accumulating, one skipped pass leaves the sum partial until the gradients are zeroed or overwritten.
        GradientsMissABackward = !IsTraining || (accumulate && GradientsMissABackward);
        return inputGrad;
    }

    /// <summary>
    /// Whether the parameter gradients miss a <see cref="Backward"/> that ran in eval mode and so wrote none: the
    /// last one did, or one did since the gradients were last zeroed or overwritten (while accumulating). Cleared
    /// by a train-mode <see cref="Backward"/> that overwrites and by <see cref="ZeroGradParams"/>. An optimizer
    /// step would apply stale or partial gradients.
    /// </summary>
    internal bool GradientsMissABackward { get; private set; }

    /// <summary>Puts the module in train mode: <see cref="Backward"/> computes parameter gradients.</summary>
    public void TrainMode()
    {
        ThrowIfDisposed();
        using SingleThreadGuard.Use use = Guard.Enter();
        IsTraining = true;
    }

    /// <summary>Puts the module in eval mode: <see cref="Backward"/> leaves parameter gradients alone.</summary>
    public void EvalMode()
    {
        ThrowIfDisposed();
        using SingleThreadGuard.Use use = Guard.Enter();
        IsTraining = false;
    }

    /// <summary>Sets every parameter gradient to zero.</summary>
    /// <exception cref="ObjectDisposedException">The module or a parameter's tensor has been disposed; no gradient is changed then.</exception>
    public void ZeroGradParams()
    {
        ThrowIfDisposed();
        using SingleThreadGuard.Use use = Guard.Enter();
        foreach (Parameter parameter in Parameters)
        {
            parameter.ThrowIfDisposed();  // all checked first: a failure changes no gradient
        }
        foreach (Parameter parameter in Parameters)
        {
            parameter.Grad.Fill(0f);
        }
        GradientsMissABackward = false;
    }

    /// <summary>Releases the module's tensors.</summary>
    /// <exception cref="InvalidOperationException">Another thread is using the module: its call would go on with freed buffers.</exception>
    public void Dispose()
    {
        if (IsDisposed)
        {
            return;
        }
        using SingleThreadGuard.Use use = Guard.Enter();
        IsDisposed = true;
        Guard.Close();  // a call that checked IsDisposed before this dispose is refused when it takes the module
        _lastInput = null;
        _lastOutput = null;
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    /// <inheritdoc />
    public override string ToString() => Describe();

    /// <summary>Checks the shape of an input on the module's device; throws an <see cref="ArgumentException"/> when it does not fit.</summary>
    /// <param name="input">The input.</param>
    protected abstract void ValidateInput(Tensor input);

    /// <summary>The forward pass proper, on a validated input.</summary>
    /// <param name="input">The input.</param>
    /// <returns>The output, owned by the module.</returns>
    protected abstract Tensor ForwardCore(Tensor input);

    /// <summary>The backward pass proper, with validated arguments.</summary>
    /// <param name="input">The input of the last forward pass.</param>
    /// <param name="grad">∂J/∂output.</param>
    /// <param name="updGrad">Whether to compute the input gradient.</param>
    /// <param name="accumulate">Add to the parameter gradients instead of overwriting them.</param>
    /// <returns>The input gradient or null.</returns>
    protected abstract Tensor? BackwardCore(Tensor input, Tensor grad, bool updGrad, bool accumulate);

    /// <summary>Releases the module's tensors.</summary>
    /// <param name="disposing">True when called from <see cref="Dispose()"/>.</param>
    protected virtual void Dispose(bool disposing)
    {
    }

    /// <summary>Throws <see cref="ObjectDisposedException"/> when the module has been disposed.</summary>
    protected internal void ThrowIfDisposed()
    {
        if (IsDisposed)
        {
            throw new ObjectDisposedException(Describe());
        }
    }

    /// <summary>The module's name and type, for messages.</summary>
    /// <returns>A short description.</returns>
    protected internal virtual string Describe() => Name is null ? GetType().Name : $"{GetType().Name} '{Name}'";

    /// <summary>Throws when <paramref name="tensor"/> is null, disposed or on another device than the module.</summary>
    /// <param name="tensor">The tensor.</param>
    /// <param name="paramName">The argument's name.</param>
    protected internal void CheckOnDevice(Tensor tensor, string paramName)
    {
        ArgumentNullException.ThrowIfNull(tensor, paramName);
        tensor.ThrowIfDisposed();
        if (!ReferenceEquals(tensor.Device, Device))
        {
            throw new ArgumentException(
                $"{Describe()} lives on {Device}, but {paramName} lives on {tensor.Device}.", paramName);
        }
    }

    internal static bool SameShape(Tensor a, Tensor b)
    {
        if (a.Rank != b.Rank)
        {
            return false;
        }
        for (int i = 0; i < a.Rank; i++)
        {
            if (a.Shape[i] != b.Shape[i])
            {
                return false;
            }
        }
        return true;
    }

    internal static string ShapeText(Tensor tensor) => Tensor.FormatShape(tensor.Shape);
}
