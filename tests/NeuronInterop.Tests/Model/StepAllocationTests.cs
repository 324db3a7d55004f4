using NeuronInterop.Cost;
using NeuronInterop.Handlers;
using NeuronInterop.Modules;
using NeuronInterop.Optimizers;
using NeuronInterop.Tests.Infrastructure;
using NUnit.Framework;
using static NeuronInterop.Tests.Model.ModelData;

namespace NeuronInterop.Tests.Model;

/// <summary>
/// Training steps allocate no managed memory: what a run allocates does not grow with its number
/// of steps, on the trainer's paths and through the module API.
/// </summary>
[TestFixtureSource(typeof(TestBackends), nameof(TestBackends.Names))]
public sealed class StepAllocationTests
{
    private const int Rows = 64;
    private const int BatchSize = 4;
    private readonly string _backend;
    private Device TestDevice => TestBackends.Get(_backend);

    public StepAllocationTests(string backend) => _backend = backend;

    [SetUp]
    public void SetUp() => TestBackends.Get(_backend);

    [Test]
    public void DeviceResidentStepsAllocateNothingPerStep()
    {
        using var setup = new Setup(TestDevice, onBatchFinish: null);
        AssertAllocationIndependentOfSteps(steps => setup.Trainer.TrainSteps(setup.Data, setup.Target, steps, seed: 3));
    }

    [Test]
    public void StepsWithABatchCallbackAllocateNothingPerStep()
    {
        long calls = 0;
        using var setup = new Setup(TestDevice, onBatchFinish: _ => calls++);
        AssertAllocationIndependentOfSteps(steps => setup.Trainer.TrainSteps(setup.Data, setup.Target, steps, seed: 3));
        Assert.That(calls, Is.GreaterThan(0), "the callback ran");
    }

    [Test]
    public void ModuleApiStepsAllocateNothingPerStep()
    {
        using var setup = new Setup(TestDevice, onBatchFinish: null);
        using Tensor x = setup.Data.SliceRows(0, BatchSize);
        using Tensor t = setup.Target.SliceRows(0, BatchSize);
        AssertAllocationIndependentOfSteps(steps =>
        {
            for (long i = 0; i < steps; i++)
            {
                Tensor prediction = setup.Layer.Forward(x);
                var (_, grad) = setup.Cost.Compute(prediction, t);
                setup.Layer.Backward(grad, updGrad: false);
                setup.Optimizer.Update();
            }
        });
    }

    /// <summary>
    /// Runs <paramref name="run"/> for a few steps and for many; the many steps must not allocate
    /// more on this thread. Each count is measured three times and the least kept: a one-off
    /// allocation of the runtime (a method recompiled by tiered compilation, say) can land in any
    /// one measurement, while an allocation per step (24 bytes or more) shows in every one.
    /// </summary>
    private static void AssertAllocationIndependentOfSteps(Action<long> run)
    {
        const long few = 4, many = 400;
        run(few);  // first calls: lazy buffers, JIT
        run(many);
        long fewBytes = long.MaxValue, manyBytes = long.MaxValue;
        for (int repeat = 0; repeat < 3; repeat++)
        {
            fewBytes = Math.Min(fewBytes, AllocatedBy(() => run(few)));
            manyBytes = Math.Min(manyBytes, AllocatedBy(() => run(many)));
        }
        Assert.That(manyBytes - fewBytes, Is.LessThan(many - few),
            $"{few} steps allocated {fewBytes} bytes, {many} steps {manyBytes}: {(manyBytes - fewBytes) / (double)(many - few):0.#} bytes per step");
    }

    private static long AllocatedBy(Action action)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        action();
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    private sealed class Setup : IDisposable
    {
        public Setup(Device device, Action<Trainer>? onBatchFinish)
        {
            Layer = new Linear(3, 2, seed: 5, device: device);
            Cost = new MseCost(device);
            Optimizer = new Sgd(0.01f);
            Optimizer.SetupOn(Layer);
            Trainer = new Trainer(Layer, Cost, Optimizer, BatchSize, onBatchFinish);
            Data = new Tensor(device, Rows, 3);
            Data.CopyFrom(Flat(Uniform(Rows, 3, 1)));
            Target = new Tensor(device, Rows, 2);
            Target.CopyFrom(Flat(Uniform(Rows, 2, 2)));
        }

        public Linear Layer { get; }
        public MseCost Cost { get; }
        public Sgd Optimizer { get; }
        public Trainer Trainer { get; }
        public Tensor Data { get; }
        public Tensor Target { get; }

        public void Dispose()
        {
            Data.Dispose();
            Target.Dispose();
            Trainer.Dispose();
            Cost.Dispose();
            Layer.Dispose();
        }
    }
}
