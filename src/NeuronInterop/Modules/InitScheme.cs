namespace NeuronInterop.Modules;

/// <summary>
/// How a <see cref="Linear"/> layer initialises its weight W (insize × outsize); the bias always
/// starts at zero. The schemes of PuzzleLib. The Xavier and He schemes divide by a fan, n below:
/// the fan-in (insize) by default, or the fan-out or the mean of both (<see cref="InitFactor"/>).
/// Unlike PuzzleLib, which ignores <c>wscale</c> in those schemes, wscale multiplies their spread
/// too; at its default of 1 the two agree.
/// </summary>
public enum InitScheme
{
    /// <summary>Uniform in ±sqrt(3/n)·wscale (the default).</summary>
    XavierUniform,

    /// <summary>Normal N(0, σ²) with σ = sqrt(1/n)·wscale.</summary>
    XavierNormal,

    /// <summary>Normal N(0, σ²) with σ = sqrt(2/n)·wscale.</summary>
    He,

    /// <summary>Normal N(0, wscale²).</summary>
    Gaussian,

    /// <summary>Uniform in ±wscale.</summary>
    Uniform,

    /// <summary>No initialisation: W stays zero until it is set (for example with <see cref="Tensor.CopyFrom(ReadOnlySpan{float})"/>).</summary>
    None,
}
