namespace NeuronInterop.Reference;

/// <summary>
/// The tutorial's hand-made single neuron <c>y = x·w + b</c>, ported as written and computed in
/// float32 like its numpy code: it starts at <c>w = 1</c>, <c>b = 0</c>; <see cref="Forward"/>
/// stores the input; <see cref="Update"/> applies <c>w -= inData·grad·lr</c> and <c>b -= grad·lr</c>.
/// </summary>
public sealed class TutorialNeuron
{
    private float _inData;
    private float _grad;

    /// <summary>Creates the neuron with <c>w = 1</c> and <c>b = 0</c>.</summary>
    /// <param name="useBias">
    /// When false the forward pass has no bias (<c>y = x·w</c>), which reproduces the tutorial's
    /// last experiment; <see cref="B"/> then stays 0.
    /// </param>
    public TutorialNeuron(bool useBias = true)
    {
        UseBias = useBias;
    }

    /// <summary>The weight, 1 at the start.</summary>
    public float W { get; set; } = 1f;

    /// <summary>The bias, 0 at the start.</summary>
    public float B { get; set; }

    /// <summary>Whether the forward pass adds <see cref="B"/>.</summary>
    public bool UseBias { get; }

    /// <summary>The output of the last <see cref="Forward"/> call.</summary>
    public float Data { get; private set; }

    /// <summary>Computes <c>x·w + b</c> (or <c>x·w</c> without bias) and stores <paramref name="x"/> for the update.</summary>
    /// <param name="x">The input.</param>
    /// <returns>The neuron's output.</returns>
    public float Forward(float x)
    {
        _inData = x;
        Data = UseBias ? x * W + B : x * W;
        return Data;
    }

    /// <summary>Stores the gradient of the error with respect to the output, as the tutorial's <c>backward</c> does.</summary>
    /// <param name="grad">∂J/∂y from <see cref="TutorialError.Grad"/>.</param>
    public void Backward(float grad) => _grad = grad;

    /// <summary>Applies <c>w -= inData·grad·lr</c> and, with bias, <c>b -= grad·lr</c>.</summary>
    /// <param name="lr">The learning rate.</param>
    public void Update(float lr)
    {
        W -= _inData * _grad * lr;
        if (UseBias)
        {
            B -= _grad * lr;
        }
    }

    /// <summary>One training step on one sample: forward, error, backward, update.</summary>
    /// <param name="x">The input.</param>
    /// <param name="target">The wanted output.</param>
    /// <param name="lr">The learning rate.</param>
    /// <returns>The error before the update, <see cref="TutorialError.Value"/>.</returns>
    public float Optimize(float x, float target, float lr)
    {
        float prediction = Forward(x);
        float error = TutorialError.Value(target, prediction);
        Backward(TutorialError.Grad(target, prediction));
        Update(lr);
        return error;
    }
}
