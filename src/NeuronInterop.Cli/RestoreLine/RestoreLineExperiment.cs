using System.Globalization;
using Microsoft.Extensions.Logging;
using NeuronInterop.Cost;
using NeuronInterop.Handlers;
using NeuronInterop.Modules;
using NeuronInterop.Optimizers;
using NeuronInterop.Reference;

namespace NeuronInterop.Cli.RestoreLine;

/// <summary>
/// The tutorial's training, without any console or file output: the hand-made neuron
/// (<see cref="TutorialNeuron"/>) and the library's <see cref="Linear"/> trained through
/// <see cref="Trainer.TrainFromHost"/> (one macro-batch per step, as the tutorial's handler version),
/// both from w = 1, b = 0, on the same randomly drawn samples.
/// </summary>
internal sealed class RestoreLineExperiment
{
    private readonly RestoreLineOptions _options;
    private readonly Device _device;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly float[] _x;
    private readonly float[] _y;

    public RestoreLineExperiment(RestoreLineOptions options, Device device, ILoggerFactory loggerFactory)
    {
        _options = options;
        _device = device;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger("neuron.restore-line");
        // x = np.linspace(-3, 3, 1000, dtype=np.float32); Y = f(x), computed in float32 as numpy does.
        _x = TutorialData.Linspace(RestoreLineOptions.XMin, RestoreLineOptions.XMax, RestoreLineOptions.PointCount);
        _y = Array.ConvertAll(_x, Target);
    }

    /// <summary>f(x) = slope·x + intercept in float32.</summary>
    public float Target(float x) => _options.Slope * x + _options.Intercept;

    /// <summary>
    /// Runs <see cref="RestoreLineOptions.RunKinds"/>: the short and long runs with bias and the no-bias run (only that
    /// one with <see cref="RestoreLineOptions.NoBiasOnly"/>).
    /// </summary>
    public RestoreLineResult Run(ITrainingObserver observer)
    {
        var runs = _options.RunKinds
            .Select(kind => TrainBoth(kind, kind == RunKind.Short ? _options.ShortSteps : _options.Steps,
                useBias: kind != RunKind.NoBias, observer))
            .ToList();
        return new RestoreLineResult(_options, _device.ToString(), _x, _y, runs);
    }

    /// <summary>
    /// One run: both neurons from w = 1, b = 0, <paramref name="steps"/> steps, each step on a batch of
    /// samples drawn by a <see cref="Random"/> seeded with the run's seed, so every run sees the same sample
    /// sequence and both neurons see the same samples.
    /// </summary>
    public RunResult TrainBoth(RunKind kind, int steps, bool useBias, ITrainingObserver observer)
    {
        int batch = _options.BatchSize;
        float lr = _options.LearningRate;
        string description = RunResult.Describe(kind, steps);

        var handMade = new TutorialNeuron(useBias);
        handMade.W = RestoreLineOptions.InitialWeight;
        if (useBias)
            handMade.B = RestoreLineOptions.InitialBias;

        using var linear = new Linear(1, 1, useBias, InitScheme.None, device: _device, name: RestoreLineOptions.NeuronName,
            logger: _loggerFactory.CreateLogger<Linear>());
        linear.W.Fill(RestoreLineOptions.InitialWeight);
        linear.B?.Fill(RestoreLineOptions.InitialBias);
        using var cost = new MseCost(_device, _loggerFactory.CreateLogger<MseCost>());
        var optimizer = new Sgd(lr, _loggerFactory.CreateLogger<Sgd>());
        optimizer.SetupOn(linear);
        using var trainer = new Trainer(linear, cost, optimizer, batchSize: batch, logger: _loggerFactory.CreateLogger<Trainer>());
        var calculator = new Calculator(linear, batchSize: RestoreLineOptions.PointCount);

        float[] handMadeBefore = Array.ConvertAll(_x, handMade.Forward);
        float[] libraryBefore = Predict(calculator);

        var random = new Random(_options.Seed);
        var xs = new float[batch, 1];
        var ys = new float[batch, 1];
        var handMadeErrors = new float[steps];
        var libraryErrors = new float[steps];

        observer.RunStarted(description, steps);
        for (int step = 0; step < steps; step++)
        {
            for (int i = 0; i < batch; i++)
            {
                int index = random.Next(RestoreLineOptions.PointCount);   // np.random.randint(0, 1000)
                xs[i, 0] = _x[index];
                ys[i, 0] = _y[index];
            }

            handMadeErrors[step] = HandMadeStep(handMade, xs, ys, lr);

            // trainer.trainFromHost(x.reshape(-1, 1), y.reshape(-1, 1), macroBatchSize=1, ...): one step.
            trainer.TrainFromHost(xs, ys, macroBatchSize: batch, shuffle: false);
            libraryErrors[step] = (float)trainer.Cost.MeanError;

            // The tutorial's "Neuron error" and "PL module error", printed at each step: the error on its samples.
            if (_logger.IsEnabled(LogLevel.Debug))
                _logger.LogDebug(
                    "{Run}: step {Step}/{Steps}, batch error on this step's {Samples}: neuron error {HandMade:G9}, " +
                    "library module error {Library:G9}",
                    description, step + 1, steps, NumberText.Count(batch, "sample"), handMadeErrors[step], libraryErrors[step]);
            observer.StepFinished(description, step + 1, handMadeErrors[step], libraryErrors[step]);
        }

        linear.EvalMode();
        float[] handMadeAfter = Array.ConvertAll(_x, handMade.Forward);
        float[] libraryAfter = Predict(calculator);
        float[] libraryW = linear.W.ToArray();
        float[] libraryB = linear.B?.ToArray() ?? [0f];

        var run = new RunResult(kind, steps, useBias,
            new NeuronResult(handMade.W, useBias ? handMade.B : 0f, DatasetError(handMadeAfter), handMadeErrors,
                handMadeBefore, handMadeAfter),
            new NeuronResult(libraryW[0], libraryB[0], DatasetError(libraryAfter), libraryErrors,
                libraryBefore, libraryAfter));
        // The table's numbers, with more digits.
        _logger.LogDebug(
            "{Run}: error over all {Points} points after training: hand-made neuron {HandMade:G6} ({HandMadeParameters}), " +
            "library neuron {Library:G6} ({LibraryParameters})",
            description, RestoreLineOptions.PointCount, run.HandMade.FinalError, LogParameters(run.HandMade, useBias),
            run.Library.FinalError, LogParameters(run.Library, useBias));
        WarnIfDiverged(description, "hand-made", run.HandMade, useBias, DatasetError(handMadeBefore));
        WarnIfDiverged(description, "library", run.Library, useBias, DatasetError(libraryBefore));
        observer.RunFinished(run);
        return run;
    }

    /// <summary>How many times its error over all points a neuron must grow to be said to have diverged.</summary>
    private const double DivergedErrorGrowth = 2;

    /// <summary>
    /// A neuron whose error over all points more than doubled, or whose w, b or error is no longer finite,
    /// has diverged: the learning rate is too large for its samples. The table would show it only as
    /// large numbers or NaN, so it is said. A neuron that starts at its best (the line y = x + 3 without
    /// bias: w = 1 already fits it best) ends a little above where it started, as each sample moves it:
    /// that is not divergence, which grows the error many times over.
    /// </summary>
    private void WarnIfDiverged(string description, string neuron, NeuronResult result, bool useBias, double errorBefore)
    {
        bool finite = float.IsFinite(result.W) && float.IsFinite(result.B) && double.IsFinite(result.FinalError);
        if (finite && result.FinalError <= DivergedErrorGrowth * errorBefore)
            return;
        _logger.LogWarning(
            "{Run}: the {Neuron} neuron diverged: its error over all {Points} points went from {Before:G6} to {After:G6} " +
            "({Parameters}). The learning rate {LearningRate} is too large for these samples: try a smaller --lr.",
            description, neuron, RestoreLineOptions.PointCount, errorBefore, result.FinalError, LogParameters(result, useBias),
            _options.LearningRate);
    }

    /// <summary>A trained neuron's w and b as the log writes them: "w = 2.00212, b = 2.9797", or "w = 2.26089, no bias".</summary>
    private static string LogParameters(NeuronResult neuron, bool useBias) =>
        useBias
            ? string.Create(CultureInfo.InvariantCulture, $"w = {neuron.W:G6}, b = {neuron.B:G6}")
            : string.Create(CultureInfo.InvariantCulture, $"w = {neuron.W:G6}, no bias");

    /// <summary>
    /// The tutorial's <c>neuron.optimize(x, y, lr)</c> for one sample. The tutorial's neuron handles one
    /// sample at a time; for a larger batch the per-sample gradients are averaged (Error.grad's 1/N) and
    /// applied once, as the library does.
    /// </summary>
    /// <returns>The batch's error before the update.</returns>
    private static float HandMadeStep(TutorialNeuron neuron, float[,] xs, float[,] ys, float lr)
    {
        int batch = xs.GetLength(0);
        if (batch == 1)
            return neuron.Optimize(xs[0, 0], ys[0, 0], lr);

        float weightGrad = 0f, biasGrad = 0f, error = 0f;
        for (int i = 0; i < batch; i++)
        {
            float prediction = neuron.Forward(xs[i, 0]);
            float grad = TutorialError.Grad(ys[i, 0], prediction) / batch;
            weightGrad += xs[i, 0] * grad;
            biasGrad += grad;
            error += TutorialError.Value(ys[i, 0], prediction) / batch;
        }
        neuron.W -= lr * weightGrad;
        if (neuron.UseBias)
            neuron.B -= lr * biasGrad;
        return error;
    }

    private float[] Predict(Calculator calculator)
    {
        var input = new float[_x.Length, 1];
        for (int i = 0; i < _x.Length; i++)
            input[i, 0] = _x[i];
        float[,] output = calculator.CalcFromHost(input);
        var predictions = new float[_x.Length];
        for (int i = 0; i < predictions.Length; i++)
            predictions[i] = output[i, 0];
        return predictions;
    }

    /// <summary>J = Σ(y − ŷ)² / (2N) over all points, in double.</summary>
    private double DatasetError(float[] predictions)
    {
        double sum = 0;
        for (int i = 0; i < _y.Length; i++)
        {
            double d = (double)_y[i] - predictions[i];
            sum += d * d;
        }
        return sum / (2.0 * _y.Length);
    }
}
