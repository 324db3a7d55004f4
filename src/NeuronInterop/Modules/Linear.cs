using Microsoft.Extensions.Logging;
using NeuronInterop.Native;

namespace NeuronInterop.Modules;

/// <summary>
/// A dense layer <c>Y = X·W + b</c>: X is (batch × <see cref="InSize"/>), W is
/// (<see cref="InSize"/> × <see cref="OutSize"/>), b is (<see cref="OutSize"/>), all row-major.
/// Backward gives <c>dX = G·Wᵀ</c> (on request), and in train mode <c>dW = Xᵀ·G</c> and
/// <c>db</c> = column sums of G.
/// </summary>
public sealed class Linear : Module
{
    private readonly Parameter _weight;
    private readonly Parameter? _bias;
    // Where the outputs and the input gradients are written: never into a call's input, which may be an earlier
    // output or input gradient (one layer applied twice, lin(lin(x)), as PuzzleLib allows).
    private readonly ResultBuffers _outputs = new(), _inputGrads = new();

    /// <summary>Creates a layer with W drawn by <paramref name="initScheme"/> from <paramref name="seed"/> and b = 0.</summary>
    /// <param name="insize">Input features, at least 1.</param>
    /// <param name="outsize">Output features, at least 1.</param>
    /// <param name="useBias">Whether the layer has a bias b.</param>
    /// <param name="initScheme">How W is initialised (PuzzleLib's schemes; Xavier uniform by default).</param>
    /// <param name="wscale">The scale of the initialisation, finite and positive (see <see cref="InitScheme"/>).</param>
    /// <param name="initFactor">The fan the Xavier and He schemes divide by: the fan-in by default. Other
    /// schemes use no fan, so with them it must stay <see cref="InitFactor.In"/>.</param>
    /// <param name="seed">The seed of the initialisation; the same seed gives the same W on every backend.</param>
    /// <param name="device">The device; <see cref="Device.Default"/> when null.</param>
    /// <param name="name">An optional name.</param>
    /// <param name="logger">Where the layer logs; nothing is logged when null.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is below 1, <paramref name="wscale"/> is not finite and positive (or so large
    /// that the initial weights overflow float32), or the scheme or factor is unknown.</exception>
    /// <exception cref="ArgumentException"><paramref name="initFactor"/> is not <see cref="InitFactor.In"/> for a scheme that uses no fan.</exception>
    public Linear(int insize, int outsize, bool useBias = true, InitScheme initScheme = InitScheme.XavierUniform,
        float wscale = 1f, InitFactor initFactor = InitFactor.In, ulong seed = 0, Device? device = null, string? name = null,
        ILogger? logger = null)
        : base(device ?? Device.Default, name, logger)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(insize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outsize);
        if (!float.IsFinite(wscale) || wscale <= 0f)
        {
            throw new ArgumentOutOfRangeException(nameof(wscale), wscale, "The initialisation scale must be finite and positive.");
        }
        if (!Enum.IsDefined(initScheme))
        {
            throw new ArgumentOutOfRangeException(nameof(initScheme), initScheme, "Unknown initialisation scheme.");
        }
        if (!Enum.IsDefined(initFactor))
        {
            throw new ArgumentOutOfRangeException(nameof(initFactor), initFactor, "Unknown initialisation factor.");
        }
        if (initFactor != InitFactor.In && !UsesFan(initScheme))
        {
            throw new ArgumentException(
                $"The {initScheme} scheme uses no fan, so the factor {initFactor} would have no effect; "
                + "only the Xavier and He schemes take one.", nameof(initFactor));
        }

        InSize = insize;
        OutSize = outsize;
        var created = new List<Tensor>(4);
        try
        {
            Tensor w = Track(created, new Tensor(Device, insize, outsize));
            _weight = new Parameter("W", w, Track(created, new Tensor(Device, insize, outsize)));
            if (useBias)
            {
                Tensor b = Track(created, new Tensor(Device, outsize));
                _bias = new Parameter("b", b, Track(created, new Tensor(Device, outsize)));
            }
            try
            {
                Initialise(w, initScheme, Fan(initFactor, insize, outsize), wscale, seed);
            }
            catch (NeuronArgumentException e)
            {
                // The fills refuse a range float cannot hold: only a huge wscale gives one.
                throw new ArgumentOutOfRangeException(nameof(wscale), wscale,
                    $"The {initScheme} initialisation scaled by {wscale} gives weights beyond float32's range: take a smaller wscale. ({e.Message})");
            }
            // Inside the try: a logger that throws fails the constructor without leaving its tensors to the finalizer.
            Logger.LogDebug("{Layer}: {InSize} -> {OutSize}, bias {UseBias}, init {Scheme} (factor {Factor}, wscale {WScale}, seed {Seed}) on {Device}",
                Describe(), insize, outsize, useBias, initScheme, initFactor, wscale, seed, Device);
        }
        catch
        {
            foreach (Tensor tensor in created)
            {
                tensor.Dispose();
            }
            throw;
        }
    }

    /// <summary>Input features.</summary>
    public int InSize { get; }

    /// <summary>Output features.</summary>
    public int OutSize { get; }

    /// <summary>Whether the layer has a bias.</summary>
    public bool UseBias => _bias is not null;

    /// <summary>The weight (<see cref="InSize"/> × <see cref="OutSize"/>); set it with <see cref="Tensor.CopyFrom(ReadOnlySpan{float})"/> or <see cref="Tensor.Fill"/>.</summary>
    public Tensor W => _weight.Value;

    /// <summary>The bias (<see cref="OutSize"/>), or null without bias; zero at creation.</summary>
    public Tensor? B => _bias?.Value;

    /// <summary>The parameters <c>"W"</c> and, with bias, <c>"b"</c>.</summary>
    public override IEnumerable<Parameter> Parameters
    {
        get
        {
            yield return _weight;
            if (_bias is not null)
            {
                yield return _bias;
            }
        }
    }

    /// <inheritdoc />
    protected internal override int? InputFeatures => InSize;

    /// <inheritdoc />
    protected internal override int? OutputFeatures => OutSize;

    internal Parameter WeightParameter => _weight;

    internal Parameter? BiasParameter => _bias;

    /// <inheritdoc />
    protected override void ValidateInput(Tensor input)
    {
        if (input.Rank != 2 || input.Shape[1] != InSize)
        {
            throw new ShapeMismatchException(
                $"{Describe()} takes [Nx{InSize}] input (N rows of {InSize} features), got {ShapeText(input)}.", nameof(input));
        }
    }

    /// <inheritdoc />
    protected override Tensor ForwardCore(Tensor input)
    {
        Tensor output = _outputs.Take(Device, input.Shape[0], OutSize, input);
        NativeOps.LinearForward(input, W, B, output);
        return output;
    }

    /// <inheritdoc />
    protected override Tensor? BackwardCore(Tensor input, Tensor grad, bool updGrad, bool accumulate)
    {
        Tensor? inputGrad = null;
        if (updGrad)
        {
            inputGrad = _inputGrads.Take(Device, input.Shape[0], InSize, input, grad);
        }

        if (IsTraining && accumulate && inputGrad is not null)
        {
            // The input gradient is always overwritten; only parameter gradients accumulate.
            NativeOps.LinearBackward(input, W, grad, inputGrad, null, null, accumulate: false);
            NativeOps.LinearBackward(input, W, grad, null, _weight.Grad, _bias?.Grad, accumulate: true);
        }
        else if (IsTraining)
        {
            NativeOps.LinearBackward(input, W, grad, inputGrad, _weight.Grad, _bias?.Grad, accumulate);
        }
        else if (inputGrad is not null)
        {
            NativeOps.LinearBackward(input, W, grad, inputGrad, null, null, accumulate: false);
        }
        return inputGrad;
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _outputs.Dispose();
            _inputGrads.Dispose();
            _weight.Value.Dispose();
            _weight.Grad.Dispose();
            _bias?.Value.Dispose();
            _bias?.Grad.Dispose();
        }
    }

    private static Tensor Track(List<Tensor> created, Tensor tensor)
    {
        created.Add(tensor);
        return tensor;
    }

    private static bool UsesFan(InitScheme scheme) =>
        scheme is InitScheme.XavierUniform or InitScheme.XavierNormal or InitScheme.He;

    private static double Fan(InitFactor factor, int insize, int outsize) => factor switch
    {
        InitFactor.In => insize,
        InitFactor.Out => outsize,
        _ => (insize + (double)outsize) / 2,
    };

    private static void Initialise(Tensor w, InitScheme scheme, double fan, float wscale, ulong seed)
    {
        switch (scheme)
        {
            case InitScheme.XavierUniform:
            {
                float bound = (float)Math.Sqrt(3.0 / fan) * wscale;
                w.FillUniform(-bound, bound, seed);
                break;
            }
            case InitScheme.XavierNormal:
                w.FillNormal(0f, (float)Math.Sqrt(1.0 / fan) * wscale, seed);
                break;
            case InitScheme.He:
                w.FillNormal(0f, (float)Math.Sqrt(2.0 / fan) * wscale, seed);
                break;
            case InitScheme.Gaussian:
                w.FillNormal(0f, wscale, seed);
                break;
            case InitScheme.Uniform:
                w.FillUniform(-wscale, wscale, seed);
                break;
            case InitScheme.None:
                break;
        }
    }
}
