using CsCheck;
using NeuronInterop.Handlers;
using NeuronInterop.Native;
using NeuronInterop.Tests.Infrastructure;
using NUnit.Framework;
using NUnit.Framework.Internal;
using static NeuronInterop.Tests.Model.ModelData;

namespace NeuronInterop.Tests.Model;

/// <summary>
/// Training on random shapes, batch sizes, step counts and batch orders: the fused training the
/// <see cref="Trainer"/> takes matches the double-precision reference trainer and the generic
/// (unfused) path on every backend, and so do <see cref="Validator"/> and <see cref="Calculator"/>.
/// The shapes straddle the CUDA backend's four fused paths (one warp or one block for all steps,
/// the rows kernel for large batches of layers of at most 4 × 4, the tiled products) and the
/// host's kernel tiles. A failing case is printed with its CsCheck seed.
/// </summary>
/// <remarks>
/// Every run checks the same <see cref="FixedCases"/> cases per property, each from a fixed seed of its own.
/// <c>CsCheck_Seed</c> replays a printed case; <c>CsCheck_Iter=N</c> (or <c>CsCheck_Time</c>, in seconds)
/// draws N random cases instead, after the <c>CsCheck_Seed</c> case when that is set, and shrinks a
/// failing one to the smallest failing case it finds.
/// </remarks>
[TestFixtureSource(typeof(TestBackends), nameof(TestBackends.Names))]
public sealed class TrainingPropertyTests
{
    private const double Atol = TrainingSetup.Atol;
    private const double Rtol = TrainingSetup.Rtol;

    private readonly string _backend;
    private Device TestDevice => TestBackends.Get(_backend);

    public TrainingPropertyTests(string backend) => _backend = backend;

    [SetUp]
    public void SetUp() => TestBackends.Get(_backend);

    /// <summary>One random training problem.</summary>
    /// <param name="MacroBatchSize">The macro-batch size given to TrainFromHost; null for its default.</param>
    /// <param name="PerStep">Whether the trainers have a (no-op) batch callback, which makes them take one call per step.</param>
    /// <param name="LearnRateFactor">The learning rate times <see cref="In"/>, which keeps every case stable.</param>
    public sealed record TrainCase(int In, int Out, bool UseBias, int Rows, int BatchSize, int? MacroBatchSize,
        bool PerStep, BatchOrder Order, int Steps, long FirstStep, ulong OrderSeed, float LearnRateFactor, int DataSeed)
    {
        public float LearnRate => LearnRateFactor / In;

        /// <summary>The macro-batch size TrainFromHost uses.</summary>
        public int MacroRows => MacroBatchSize ?? Math.Max(Trainer.DefaultMacroBatchSize, BatchSize);
    }

    /// <summary>Features: mostly up to 4 (the rows path), else up to 72 (past one 64-wide tile).</summary>
    private static readonly Gen<int> Features = Gen.Frequency((3, Gen.Int[1, 4]), (2, Gen.Int[5, 72]));

    private static readonly Gen<TrainCase> Cases =
        from inSize in Features
        from outSize in Features
        from useBias in Gen.Bool
        // Thousands of rows only for layers of at most 4 × 4, where they take the CUDA rows path.
        from rows in inSize <= 4 && outSize <= 4
            ? Gen.Frequency((2, Gen.Int[1, 300]), (1, Gen.Int[2000, 14000]))
            : Gen.Int[1, 300]
        from batchSize in Gen.Frequency((2, Gen.Int[1, 8]), (3, Gen.Int[1, rows]), (1, Gen.Int[rows, rows + 40]))
        from macroExtra in Gen.Frequency((2, Gen.Const((int?)0)), (3, Gen.Int[1, rows].Select(i => (int?)i)), (1, Gen.Const((int?)null)))
        from perStep in Gen.Frequency((4, Gen.Const(false)), (1, Gen.Const(true)))
        from order in Gen.Enum<BatchOrder>()
        from steps in Gen.Int[1, 12]
        from firstStep in Gen.Frequency((4, Gen.Long[0, 100_000]), (1, Gen.Long[long.MaxValue - 1000, long.MaxValue - 12]))
        from orderSeed in Gen.ULong
        from lrFactor in Gen.Float[0.05f, 1f]
        from dataSeed in Gen.Int[0, 1_000_000]
        select new TrainCase(inSize, outSize, useBias, rows, batchSize, batchSize + macroExtra, perStep, order, steps,
            firstStep, orderSeed, lrFactor, dataSeed);

    /// <summary>Cases per property in every run (about 50 ms each on the CUDA emulator).</summary>
    private const int FixedCases = 60;

    [Test]
    public void TrainStepsMatchesTheReferenceAndTheGenericPath() => Sample(CheckTrainSteps);

    [Test]
    public void TrainFromHostMatchesTheReferenceAndTheGenericPath() => Sample(CheckTrainFromHost);

    [Test]
    public void ValidatorAndCalculatorMatchTheReference() => Sample(CheckValidateAndCalc);

    private static void Sample(Action<TrainCase> check)
    {
        // Each case's assertions are isolated, so that the failures CsCheck catches while it shrinks are
        // not also recorded as the test's own: the test reports the case CsCheck reports. One thread: the
        // cases share the test's device.
        void Isolated(TrainCase c)
        {
            using var isolated = new TestExecutionContext.IsolatedContext();
            check(c);
        }

        string? seed = Environment.GetEnvironmentVariable("CsCheck_Seed");
        bool draw = Environment.GetEnvironmentVariable("CsCheck_Iter") is not null
                    || Environment.GetEnvironmentVariable("CsCheck_Time") is not null;
        if (seed is not null || draw)
        {
            Cases.Sample(Isolated, seed: seed, iter: draw ? -1 : 1, threads: 1);
            return;
        }
        // A CsCheck seed fixes only the first case a Sample draws, so each fixed case is a Sample of its own.
        for (int i = 0; i < FixedCases; i++)
        {
            Cases.Sample(Isolated, seed: CaseSeed(i), iter: 1, threads: 1);
        }
    }

    /// <summary>The seed of fixed case <paramref name="index"/>, in CsCheck's text form.</summary>
    private static string CaseSeed(int index) => new PCG(1, 0x9E3779B97F4A7C15UL * (ulong)(index + 1)).ToString();

    private void CheckTrainSteps(TrainCase c)
    {
        var (data, target) = Problem(c);
        using Tensor x = Tensor.FromArray(TestDevice, data);
        using Tensor t = Tensor.FromArray(TestDevice, target);
        using var fused = Setup(TestDevice, c, fused: true);
        using var generic = Setup(TestDevice, c, fused: false);

        fused.Trainer.TrainSteps(x, t, c.Steps, c.Order, c.OrderSeed, c.FirstStep);
        generic.Trainer.TrainSteps(x, t, c.Steps, c.Order, c.OrderSeed, c.FirstStep);
        double mean = fused.Reference.TrainSteps(data, target, c.FirstStep, c.Steps,
            (_, step, count) => NativeOps.BatchIndex(c.Order, c.OrderSeed, step, count));

        long samples = fused.Reference.Batches.Sum(b => b.RowCount);
        AssertSame(c, fused, generic, mean, c.Steps, samples);
    }

    private void CheckTrainFromHost(TrainCase c)
    {
        var (data, target) = Problem(c);
        bool shuffle = c.Order != BatchOrder.Sequential;
        using var fused = Setup(TestDevice, c, fused: true);
        using var generic = Setup(TestDevice, c, fused: false);

        fused.Trainer.TrainFromHost(data, target, c.MacroBatchSize, shuffle: shuffle, seed: c.OrderSeed);
        generic.Trainer.TrainFromHost(data, target, c.MacroBatchSize, shuffle: shuffle, seed: c.OrderSeed);
        double mean = fused.Reference.Train(data, target, c.MacroRows, shuffle
            ? (macro, step, count) => NativeOps.BatchIndex(BatchOrder.Shuffle, c.OrderSeed, macro * count + step, count)
            : null, shuffle ? (position, count) => NativeOps.BatchIndex(BatchOrder.Shuffle, ~c.OrderSeed, position, count) : null);

        AssertSame(c, fused, generic, mean, fused.Reference.Batches.Count, c.Rows);
    }

    private void CheckValidateAndCalc(TrainCase c)
    {
        var (data, target) = Problem(c);
        using var s = Setup(TestDevice, c, fused: true);

        // In macro-batches as the case's training takes them: the results do not depend on them.
        double error = new Validator(s.Layer, s.Cost, c.BatchSize).ValidateFromHost(data, target, c.MacroBatchSize);
        float[,] output = new Calculator(s.Layer, c.BatchSize).CalcFromHost(data, c.MacroBatchSize);

        double expected = s.Reference.Validate(data, target);
        Assert.That(error, Is.EqualTo(expected).Within(Atol).Or.EqualTo(expected).Within(0.01).Percent,
            $"validation error, {c}");
        Tolerance.AssertClose(Flat(output), s.Reference.Predict(data), Atol, Rtol, $"outputs, {c}");
    }

    private static void AssertSame(TrainCase c, TrainingSetup fused, TrainingSetup generic, double mean, long batches, long samples)
    {
        fused.AssertParametersMatch($"fused, {c}");
        generic.AssertParametersMatch($"generic, {c}", reference: fused.Reference);
        Assert.That(fused.Cost.MeanError, Is.EqualTo(mean).Within(Atol).Or.EqualTo(mean).Within(0.01).Percent,
            $"fused mean error, {c}");
        Assert.That(generic.Cost.MeanError, Is.EqualTo(fused.Cost.MeanError).Within(Atol).Or.EqualTo(fused.Cost.MeanError).Within(0.01).Percent,
            $"generic mean error, {c}");
        foreach (TrainingSetup s in new[] { fused, generic })
        {
            Assert.That(s.Trainer.BatchesTrained, Is.EqualTo(batches), $"batches, {c}");
            Assert.That(s.Trainer.SamplesTrained, Is.EqualTo(samples), $"samples, {c}");
            Assert.That(s.Cost.SampleCount, Is.EqualTo(samples), $"samples in the mean error, {c}");
        }
    }

    private static (float[,] Data, float[,] Target) Problem(TrainCase c) => LinearProblem(c.Rows, c.In, c.Out, c.DataSeed);

    /// <summary>The case's layer and trainer, fused or generic; its reference is trained by the caller (the fused setup's).</summary>
    private static TrainingSetup Setup(Device device, TrainCase c, bool fused)
    {
        var setup = new TrainingSetup(device, c.In, c.Out, c.BatchSize, c.LearnRate, c.PerStep ? _ => { } : null, c.UseBias,
            seed: (ulong)c.DataSeed, biasSeed: c.DataSeed + 2);
        setup.Trainer.UseFusedSteps = fused;
        return setup;
    }
}
