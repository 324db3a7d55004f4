namespace NeuronInterop.Cli.RestoreLine;

/// <summary>One neuron after one run.</summary>
/// <param name="W">Weight after training.</param>
/// <param name="B">Bias after training (0 for a neuron without bias).</param>
/// <param name="FinalError">The tutorial's error J = Σ(y − ŷ)² / (2N) over all points after training.</param>
/// <param name="StepErrors">Each step's batch error: the error on that step's samples, measured before its update.</param>
/// <param name="PredictionsBefore">ŷ for every point before training.</param>
/// <param name="PredictionsAfter">ŷ for every point after training.</param>
internal sealed record NeuronResult(
    float W,
    float B,
    double FinalError,
    float[] StepErrors,
    float[] PredictionsBefore,
    float[] PredictionsAfter)
{
    public float LastStepError => StepErrors.Length == 0 ? float.NaN : StepErrors[^1];
}

/// <summary>Which of the tutorial's runs.</summary>
internal enum RunKind
{
    /// <summary><c>trainNeuron(200)</c>.</summary>
    Short,

    /// <summary><c>trainNeuron(500)</c> and <c>trainBoth(500)</c>.</summary>
    Long,

    /// <summary>The neuron without bias, <c>trainNeuron(500)</c>.</summary>
    NoBias,
}

/// <summary>Both neurons trained side by side on the same samples.</summary>
internal sealed record RunResult(RunKind Kind, int Steps, bool UseBias, NeuronResult HandMade, NeuronResult Library)
{
    public string Description => Describe(Kind, Steps);

    public static string Describe(RunKind kind, int steps) => kind switch
    {
        RunKind.Short => $"short run, {StepCount(steps)}",
        RunKind.Long => $"long run, {StepCount(steps)}",
        _ => $"no bias, {StepCount(steps)}",
    };

    /// <summary>"1 step", "500 steps".</summary>
    public static string StepCount(int steps) => NumberText.Count(steps, "step");
}

/// <summary>Everything <c>neuron restore-line</c> computed.</summary>
internal sealed record RestoreLineResult(
    RestoreLineOptions Options,
    string Device,
    float[] X,
    float[] Y,
    IReadOnlyList<RunResult> Runs)
{
    public RunResult? Find(RunKind kind) => Runs.FirstOrDefault(r => r.Kind == kind);
}

/// <summary>Told about training as it happens (a progress bar, or log lines).</summary>
internal interface ITrainingObserver
{
    void RunStarted(string description, int steps);
    void StepFinished(string description, int step, float handMadeError, float libraryError);
    void RunFinished(RunResult run);
}
