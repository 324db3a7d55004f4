namespace NeuronInterop.Modules;

/// <summary>
/// How a <see cref="Linear"/> layer initialises its weight W (insize × outsize); the bias always
/// starts at zero. The schemes of PuzzleLib, with the fan-in (insize) as factor.
/// </summary>
public enum InitScheme
{
    /// <summary>Uniform in ±sqrt(3/insize)·wscale (the default).</summary>
    XavierUniform,

    /// <summary>Normal N(0, σ²) with σ = sqrt(1/insize)·wscale.</summary>
    XavierNormal,

    /// <summary>Normal N(0, σ²) with σ = sqrt(2/insize)·wscale.</summary>
    He,

    /// <summary>Normal N(0, wscale²).</summary>
    Gaussian,

    /// <summary>Uniform in ±wscale.</summary>
    Uniform,

    /// <summary>No initialisation: W stays zero until it is set (for example with <see cref="Tensor.CopyFrom(ReadOnlySpan{float})"/>).</summary>
    None,
}
