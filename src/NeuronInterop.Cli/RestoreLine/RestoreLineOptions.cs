namespace NeuronInterop.Cli.RestoreLine;

/// <summary>
/// What <c>neuron restore-line</c> runs. The defaults reproduce the tutorial: 1000 points of
/// f(x) = 2x + 3 on [−3, 3], both neurons starting at w = 1, b = 0, learning rate 1e-2, batch size 1,
/// one random sample per step, a short run of 200 steps, a long run of 500 steps, and the neuron
/// without bias trained for the long run's steps.
/// </summary>
internal sealed record RestoreLineOptions
{
    /// <summary>The tutorial's first run: <c>trainNeuron(200)</c>.</summary>
    public const int TutorialShortSteps = 200;
    public const int PointCount = 1000;
    public const float XMin = -3f;
    public const float XMax = 3f;
    public const float InitialWeight = 1f;
    public const float InitialBias = 0f;

    /// <summary>
    /// The most steps a run takes. Every step's error is kept for the learning curve, so a run's memory
    /// grows with its steps: 10 million steps took 44 s and 380 MB on the host backend of a 2-core machine.
    /// </summary>
    public const int MaxSteps = 10_000_000;

    /// <summary>Steps of the long run and of the no-bias run (the tutorial's <c>trainNeuron(500)</c>).</summary>
    public int Steps { get; init; } = 500;

    public float LearningRate { get; init; } = 1e-2f;

    /// <summary>Samples per step, drawn independently at random (with replacement) from the 1000 points.</summary>
    public int BatchSize { get; init; } = 1;

    /// <summary>Seeds the <see cref="System.Random"/> that picks the samples; both neurons see the same samples.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>auto | host | cuda | cuda:N.</summary>
    public string DeviceName { get; init; } = "auto";

    public string OutputDirectory { get; init; } = "out";

    /// <summary>Run only the no-bias experiment (the tutorial's last section).</summary>
    public bool NoBiasOnly { get; init; }

    /// <summary>Save each run's trained library neuron into <see cref="OutputDirectory"/> (<see cref="NeuronFileName"/>).</summary>
    public bool SaveNeurons { get; init; }

    public float Slope { get; init; } = 2f;
    public float Intercept { get; init; } = 3f;

    /// <summary>
    /// The largest slope or intercept, in size: the line then stays within ±4E+17 on [<see cref="XMin"/>,
    /// <see cref="XMax"/>], so that each sample's error, half its squared distance from the untrained neuron's
    /// prediction, is a float32 (up to 3.4E+38).
    /// </summary>
    public const float MaxLineTerm = 1e17f;

    /// <summary>
    /// The line as every output writes it: "f(x) = 2x + 3", "f(x) = -2x - 3" (the intercept's sign
    /// between the terms, an ASCII minus), "f(x) = 1E-05·x - 2E-05" (numbers as <see cref="NumberText"/>
    /// writes them; a "·" after an exponent).
    /// </summary>
    public string LineText
    {
        get
        {
            string slope = NumberText.Format(Slope);
            return $"f(x) = {slope}{(slope.Contains('E') ? "·x" : "x")} {(Intercept < 0 ? "-" : "+")} {NumberText.Format(Math.Abs(Intercept))}";
        }
    }

    /// <summary>The runs <see cref="RestoreLineExperiment.Run"/> makes: the short, long and no-bias runs, or the no-bias run alone.</summary>
    public IReadOnlyList<RunKind> RunKinds => NoBiasOnly ? [RunKind.NoBias] : [RunKind.Short, RunKind.Long, RunKind.NoBias];

    /// <summary>The short run: 200 steps, or <see cref="Steps"/> when that is smaller.</summary>
    public int ShortSteps => Math.Min(TutorialShortSteps, Steps);

    /// <summary>The name the library neuron is created with, so that a saved file links <c>neuron.W</c> and <c>neuron.b</c>.</summary>
    public const string NeuronName = "neuron";

    /// <summary>The file (in <see cref="OutputDirectory"/>) a run's library neuron is saved in; null without <see cref="SaveNeurons"/>.</summary>
    public string? NeuronFileName(RunKind kind) => SaveNeurons ? SavedNeuronFileName(kind) : null;

    /// <summary>The file a run's library neuron is saved in with <see cref="SaveNeurons"/>.</summary>
    public static string SavedNeuronFileName(RunKind kind) => kind switch
    {
        RunKind.Short => "neuron-short-run.hdf",
        RunKind.Long => "neuron-long-run.hdf",
        _ => "neuron-no-bias.hdf",
    };
}
