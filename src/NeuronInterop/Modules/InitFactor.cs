namespace NeuronInterop.Modules;

/// <summary>
/// The fan that the <see cref="InitScheme.XavierUniform"/>, <see cref="InitScheme.XavierNormal"/>
/// and <see cref="InitScheme.He"/> schemes divide by (PuzzleLib's factor type <c>in</c>,
/// <c>out</c>, <c>avg</c>, given there as <c>initscheme=("xavier", "avg")</c>).
/// </summary>
public enum InitFactor
{
    /// <summary>The fan-in: the layer's input features (the default).</summary>
    In,

    /// <summary>The fan-out: the layer's output features.</summary>
    Out,

    /// <summary>The mean of fan-in and fan-out, (insize + outsize) / 2: Glorot and Bengio's choice.</summary>
    Average,
}
