using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NeuronInterop.Cost;
using NeuronInterop.Handlers;
using NeuronInterop.Modules;
using NeuronInterop.Optimizers;

namespace NeuronInterop.Benchmarks;

/// <summary>
/// Runs the fixed benchmark cases: a Linear layer trained with MSE and SGD through the public Trainer API,
/// each step being the forward pass, the weight and bias gradients and the SGD update.
/// </summary>
public static class BenchmarkRunner
{
    /// <summary>Learning rate of the timed steps.</summary>
    private const float LearningRate = 0.05f;

    /// <summary>Seed of the data and the initial weights.</summary>
    private const ulong Seed = 2024;

    /// <summary>The case ids in report order: tutorial, huge, mid, large.</summary>
    public static IReadOnlyList<string> CaseIds => BenchmarkCase.Ids;

    /// <summary>Measures the selected cases on the selected device and returns the report (<see cref="BenchmarkReport.WriteJson"/> writes it).</summary>
    /// <exception cref="ArgumentException">An unknown case id or an invalid option.</exception>
    /// <exception cref="DeviceUnavailableException">The device is not present.</exception>
    /// <exception cref="FileNotFoundException">The PyTorch result file does not exist.</exception>
    /// <exception cref="InvalidDataException">The PyTorch result file cannot be read.</exception>
    public static BenchmarkReport Run(BenchmarkOptions options, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        logger ??= NullLogger.Instance;
        var selected = SelectCases(options.Cases);
        var plan = TimingPlan.For(options);
        var pytorch = options.PyTorchJsonPath is null ? null : PyTorchReport.Load(options.PyTorchJsonPath);
        var device = NeuronInterop.Device.FromName(options.Device, logger);
        var timestamp = DateTimeOffset.UtcNow;

        var results = new List<BenchmarkResult>();
        foreach (var benchmarkCase in BenchmarkCase.For(device.Backend, options.Quick).Where(c => selected.Contains(c.Id)))
            results.AddRange(RunCase(device, benchmarkCase, plan, logger));

        var report = new BenchmarkReport
        {
            NativeVersion = NeuronInterop.Device.NativeVersion.ToString(),
            NativeLibrary = NeuronInterop.Device.NativeLibraryPath,
            Device = device.ToString(),
            DeviceName = DescribeDevice(device),
            Backend = device.Backend == BackendKind.Cuda ? "cuda" : "host",
            Quick = options.Quick,
            Timestamp = timestamp,
            TimingMethod =
                $"timing: host stopwatch around enqueued steps, device synchronised before start and stop; {plan.Describe()}; median reported",
            Results = results,
        }.WithTargets();
        if (pytorch is not null)
            report = report.WithPyTorch(pytorch, options.PyTorchJsonPath);
        return report;
    }

    private static HashSet<string> SelectCases(IReadOnlyList<string>? cases)
    {
        if (cases is null || cases.Count == 0)
            return [.. BenchmarkCase.Ids];
        var unknown = cases.Where(c => !BenchmarkCase.Ids.Contains(c)).ToArray();
        if (unknown.Length > 0)
            throw new ArgumentException(
                $"Unknown benchmark case {string.Join(", ", unknown)}; the cases are {string.Join(", ", BenchmarkCase.Ids)}.", nameof(cases));
        return [.. cases];
    }

    private static string DescribeDevice(Device device) => device.Backend == BackendKind.Cuda
        ? NeuronInterop.Device.GetCudaDeviceInfo(device.Index).Name
        : $"host backend, {NeuronInterop.Device.HostInfo.Threads} threads ({NeuronInterop.Device.HostInfo.Simd}) " +
          $"of {Environment.ProcessorCount} logical processors";

    private static IReadOnlyList<string> VariantsOf(BenchmarkCase benchmarkCase) => benchmarkCase.Id == "tutorial"
        ? [Variants.Trainer, Variants.TrainerCallback, Variants.Modules, Variants.DeviceResident]
        : [Variants.Trainer];

    private static List<BenchmarkResult> RunCase(Device device, BenchmarkCase benchmarkCase, TimingPlan plan, ILogger logger)
    {
        var results = new List<BenchmarkResult>();
        CaseData? data = null;
        CorrectnessCheck? check = null;
        try
        {
            data = CaseData.Create(device, benchmarkCase);
            check = CorrectnessCheck.FromDevice(data.FirstInput, data.FirstTarget);
        }
        catch (Exception e)
        {
            data?.Dispose();
            logger.LogError(e, "Benchmark {Case}: preparing the data failed", benchmarkCase.Id);
            return VariantsOf(benchmarkCase).Select(v => Failed(benchmarkCase, v, e)).ToList();
        }

        using (data)
        using (check)
        {
            foreach (var variant in VariantsOf(benchmarkCase))
            {
                try
                {
                    results.Add(RunVariant(device, benchmarkCase, variant, data, check, plan, logger));
                }
                catch (Exception e)
                {
                    logger.LogError(e, "Benchmark {Case}/{Variant} failed", benchmarkCase.Id, variant);
                    results.Add(Failed(benchmarkCase, variant, e));
                }
            }
        }
        return results;
    }

    private static BenchmarkResult RunVariant(Device device, BenchmarkCase c, string variant, CaseData data,
        CorrectnessCheck check, TimingPlan plan, ILogger logger)
    {
        using var run = new VariantRun(device, c, variant, data);

        // The warm-up step doubles as the correctness check: one step on the first batch, from known parameters,
        // with a learning rate that makes the update as large as the weights (the mean over batch · out rows
        // would otherwise shrink it below float resolution).
        var weight = run.Linear.W.ToArray();
        var bias = run.Linear.B!.ToArray();
        var checkRate = 0.5f * c.OutSize;
        run.Sgd.LearnRate = checkRate;
        run.Step(data.FirstInput, data.FirstTarget);
        device.Synchronize();
        run.Sgd.LearnRate = LearningRate;
        var result = check.Compare(weight, bias, run.Linear.W.ToArray(), run.Linear.B!.ToArray(), checkRate);

        var timing = StepTimer.Measure(run.RunUnit, device.Synchronize, plan);
        logger.LogInformation(
            "Benchmark {Case}/{Variant}: {Time} per step, {Rate} steps/s, check max |diff| {Diff:0.0e0} ({Verdict})",
            c.Id, variant, BenchmarkReport.FormatSeconds(timing.MedianSecondsPerStep),
            BenchmarkReport.FormatRate(1 / timing.MedianSecondsPerStep),
            Math.Max(result.MaxAbsDiffHost, result.MaxAbsDiffReference), result.Passed ? "ok" : "FAILED");

        return Describe(c, variant) with
        {
            SecondsPerStep = timing.MedianSecondsPerStep,
            MinSecondsPerStep = timing.MinSecondsPerStep,
            MaxSecondsPerStep = timing.MaxSecondsPerStep,
            StepsPerSecond = 1 / timing.MedianSecondsPerStep,
            FlopsPerStep = c.FlopsPerStep,
            Tflops = c.FlopsPerStep / timing.MedianSecondsPerStep / 1e12,
            Repeats = timing.Repeats,
            StepsPerRepeat = timing.StepsPerRepeat,
            Check = result,
        };
    }

    private static BenchmarkResult Describe(BenchmarkCase c, string variant) => new()
    {
        CaseId = c.Id,
        Variant = variant,
        Description = $"{c.Title}: {Variants.Describe(variant)}",
        Batch = c.Batch,
        InSize = c.InSize,
        OutSize = c.OutSize,
        Rows = c.Rows,
        Scale = c.Scale,
        FlopsPerStep = c.FlopsPerStep,
    };

    private static BenchmarkResult Failed(BenchmarkCase c, string variant, Exception e) =>
        Describe(c, variant) with { Error = $"{e.GetType().Name}: {e.Message}" };

    /// <summary>The data set of one case on the device, and views of its first batch.</summary>
    private sealed class CaseData : IDisposable
    {
        public required Tensor Input { get; init; }
        public required Tensor Target { get; init; }
        public required Tensor FirstInput { get; init; }
        public required Tensor FirstTarget { get; init; }

        public static CaseData Create(Device device, BenchmarkCase c)
        {
            Tensor? input = null, target = null, firstInput = null;
            try
            {
                if (c.Id == "tutorial")
                {
                    // The tutorial-sized case: x evenly spaced in [-1, 1], target 2x + 1 (the same data as
                    // bench/pytorch_bench.py).
                    var x = new float[c.Rows];
                    var t = new float[c.Rows];
                    for (var i = 0; i < c.Rows; i++)
                    {
                        x[i] = c.Rows == 1 ? 0f : -1f + 2f * i / (c.Rows - 1);
                        t[i] = 2f * x[i] + 1f;
                    }
                    input = Tensor.FromArray(device, x, c.Rows, 1);
                    target = Tensor.FromArray(device, t, c.Rows, 1);
                }
                else
                {
                    input = new Tensor(device, c.Rows, c.InSize);
                    target = new Tensor(device, c.Rows, c.OutSize);
                    input.FillUniform(-1f, 1f, Seed);
                    target.FillUniform(-1f, 1f, Seed + 1);
                }
                firstInput = input.SliceRows(0, c.Batch);
                return new CaseData
                {
                    Input = input, Target = target, FirstInput = firstInput, FirstTarget = target.SliceRows(0, c.Batch),
                };
            }
            catch
            {
                firstInput?.Dispose();
                target?.Dispose();
                input?.Dispose();
                throw;
            }
        }

        public void Dispose()
        {
            FirstTarget.Dispose();
            FirstInput.Dispose();
            Target.Dispose();
            Input.Dispose();
        }
    }

    /// <summary>A freshly initialised model and the training path of one variant.</summary>
    private sealed class VariantRun : IDisposable
    {
        private readonly BenchmarkCase _case;
        private readonly string _variant;
        private readonly CaseData _data;
        private readonly MseCost _cost;
        private readonly Trainer _trainer;
        private readonly Tensor[] _batchInputs = [];
        private readonly Tensor[] _batchTargets = [];
        private readonly int[] _order = [];
        private readonly Random _random = new(7);
        private ulong _epoch;

        public Linear Linear { get; }
        public Sgd Sgd { get; }

        public VariantRun(Device device, BenchmarkCase c, string variant, CaseData data)
        {
            _case = c;
            _variant = variant;
            _data = data;
            Linear = new Linear(c.InSize, c.OutSize, useBias: true, InitScheme.XavierUniform, seed: Seed, device: device, name: c.Id);
            try
            {
                _cost = new MseCost(device);
                Sgd = new Sgd(LearningRate);
                Sgd.SetupOn(Linear);
                Action<Trainer>? onBatchFinish = variant == Variants.TrainerCallback ? _ => { } : null;
                _trainer = new Trainer(Linear, _cost, Sgd, checked((int)c.Batch), onBatchFinish);

                if (variant == Variants.Modules)
                {
                    // Views of every batch, made once: the timed loop allocates nothing.
                    var batches = BatchCount;
                    _batchInputs = new Tensor[batches];
                    _batchTargets = new Tensor[batches];
                    _order = Enumerable.Range(0, batches).ToArray();
                    for (var b = 0; b < batches; b++)
                    {
                        var first = b * c.Batch;
                        var rows = Math.Min(c.Batch, c.Rows - first);
                        _batchInputs[b] = data.Input.SliceRows(first, rows);
                        _batchTargets[b] = data.Target.SliceRows(first, rows);
                    }
                }
            }
            catch
            {
                Dispose();
                throw;
            }
        }

        private int BatchCount => checked((int)((_case.Rows + _case.Batch - 1) / _case.Batch));

        /// <summary>One training step on one batch through this variant's path.</summary>
        public void Step(Tensor input, Tensor target)
        {
            switch (_variant)
            {
                case Variants.Modules:
                    ModulesStep(input, target);
                    break;
                case Variants.DeviceResident:
                    _trainer.TrainSteps(input, target, 1, BatchOrder.Sequential, Seed);
                    break;
                default:
                    _trainer.Train(input, target, shuffle: false);
                    break;
            }
        }

        /// <summary>Enqueues one unit of timed work (an epoch over the data) and returns its step count.</summary>
        public long RunUnit()
        {
            var shuffle = _case.Rows > _case.Batch;
            switch (_variant)
            {
                case Variants.Modules:
                    if (shuffle)
                        _random.Shuffle(_order);
                    foreach (var b in _order)
                        ModulesStep(_batchInputs[b], _batchTargets[b]);
                    return _order.Length;
                case Variants.DeviceResident:
                    _trainer.TrainSteps(_data.Input, _data.Target, BatchCount, BatchOrder.Shuffle, Seed + _epoch++);
                    return BatchCount;
                default:
                    _trainer.Train(_data.Input, _data.Target, shuffle: shuffle, seed: Seed + _epoch++);
                    return BatchCount;
            }
        }

        private void ModulesStep(Tensor input, Tensor target)
        {
            var prediction = Linear.Forward(input);
            var (_, grad) = _cost.Compute(prediction, target);
            Linear.Backward(grad, updGrad: false);  // a first layer needs no input gradient; the Trainer's steps skip it too
            Sgd.Update();
        }

        public void Dispose()
        {
            foreach (var view in _batchInputs.Concat(_batchTargets))
                view?.Dispose();
            _trainer?.Dispose();
            _cost?.Dispose();
            Linear.Dispose();
        }
    }
}
