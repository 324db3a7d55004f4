using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NeuronInterop.Modules;
using NeuronInterop.Native;

namespace NeuronInterop.Optimizers;

/// <summary>
/// Plain stochastic gradient descent: <see cref="Update"/> applies <c>param -= LearnRate · grad</c>
/// to every parameter of the module it was set up on.
/// </summary>
/// <remarks>
/// The gradients are the ordinary ones (<see cref="Cost.MseCost"/> gives <c>(pred − target)/N</c>),
/// so the update subtracts. PuzzleLib's cost returns the negative gradient and its SGD adds it:
/// the resulting steps are the same.
/// </remarks>
public sealed class Sgd
{
    private readonly ILogger _logger;
    private float _learnRate;
    private Parameter[] _parameters = [];

    /// <summary>Creates the optimizer.</summary>
    /// <param name="learnRate">The learning rate, finite and not negative (0 leaves the parameters as they are).</param>
    /// <param name="logger">Where the optimizer logs; nothing is logged when null.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="learnRate"/> is NaN, infinite or negative.</exception>
    public Sgd(float learnRate = 1e-3f, ILogger? logger = null)
    {
        _logger = logger ?? NullLogger.Instance;
        _learnRate = CheckedRate(learnRate, nameof(learnRate));
    }

    /// <summary>The learning rate; may change between steps.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is NaN, infinite or negative.</exception>
    public float LearnRate
    {
        get => _learnRate;
        set
        {
            _learnRate = CheckedRate(value, nameof(value));
            _logger.LogDebug("SGD learning rate {LearnRate}", value);
        }
    }

    private static float CheckedRate(float rate, string paramName) =>
        float.IsFinite(rate) && rate >= 0f  // 0, the end of a decaying schedule, is allowed, as in PyTorch
            ? rate
            : throw new ArgumentOutOfRangeException(paramName, rate, "The learning rate must be finite and not negative.");

    /// <summary>The module whose parameters <see cref="Update"/> changes, or null before <see cref="SetupOn"/>.</summary>
    public Module? Module { get; private set; }

    /// <summary>Binds the optimizer to the parameters of <paramref name="module"/>, as it lists them now.</summary>
    /// <param name="module">The module.</param>
    /// <exception cref="ObjectDisposedException">The module has been disposed.</exception>
    public void SetupOn(Module module)
    {
        ArgumentNullException.ThrowIfNull(module);
        module.ThrowIfDisposed();
        _parameters = module.Parameters.ToArray();  // a list per Update would allocate on every step
        Module = module;
        _logger.LogDebug("SGD set up on {Module} (parameters: {Count})", module, _parameters.Length);
    }

    /// <summary>Applies <c>param -= LearnRate · grad</c> to every parameter; enqueued on the device, no synchronisation.</summary>
    /// <exception cref="InvalidOperationException">
    /// <see cref="SetupOn"/> has not been called, or the module's last <see cref="Module.Backward"/> ran in eval mode
    /// (after <see cref="Module.EvalMode"/>, a <see cref="Handlers.Validator"/> or a <see cref="Handlers.Calculator"/>),
    /// or one did among the passes accumulated since the gradients were zeroed: it wrote no parameter gradients, so the
    /// update would apply stale or partial ones. This holds for an eval-mode Backward run only for its input gradient,
    /// too: run that one before the training step's Backward. Or another thread is using the module.
    /// </exception>
    /// <exception cref="ObjectDisposedException">
    /// The module, or a parameter's value or gradient, has been disposed; no parameter is changed then.
    /// </exception>
    public void Update()
    {
        Module module = Module ?? throw new InvalidOperationException("Call SetupOn(module) before Update().");
        module.ThrowIfDisposed();
        using SingleThreadGuard.Use use = module.Guard.Enter();
        if (module.GradientsMissABackward)
        {
            throw new InvalidOperationException(
                $"A Backward of {module.Describe()} ran in eval mode (the last one, or one accumulated since ZeroGradParams), " +
                "so it wrote no parameter gradients and Update would apply stale or partial ones. A Validator or Calculator " +
                "leaves a module in eval mode: call TrainMode(), then run Forward and Backward again.");
        }
        // All checked before the first update, so that a failure leaves every parameter as it was.
        foreach (Parameter parameter in _parameters)
        {
            parameter.ThrowIfDisposed();
        }
        foreach (Parameter parameter in _parameters)
        {
            NativeOps.SgdUpdate(parameter.Value, parameter.Grad, _learnRate);
        }
    }
}
