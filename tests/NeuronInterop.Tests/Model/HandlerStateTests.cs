using NeuronInterop.Cost;
using NeuronInterop.Handlers;
using NeuronInterop.Modules;
using NeuronInterop.Native;
using NeuronInterop.Optimizers;
using NeuronInterop.Reference;
using NeuronInterop.Tests.Infrastructure;
using NUnit.Framework;
using static NeuronInterop.Tests.Model.ModelData;

namespace NeuronInterop.Tests.Model;

/// <summary>
/// What the handlers set up and leave behind, on every backend: an optimizer set up by the trainer,
/// the handles a call takes and returns, zero steps, the current batch and macro-batch and the last
/// error after fused calls, a learning rate changed between batches, and the calculator's eval mode.
/// </summary>
[TestFixtureSource(typeof(TestBackends), nameof(TestBackends.Names))]
public sealed class HandlerStateTests
{
    private readonly string _backend;
    private Device TestDevice => TestBackends.Get(_backend);

    public HandlerStateTests(string backend) => _backend = backend;

    [SetUp]
    public void SetUp() => TestBackends.Get(_backend);

    private Linear NewLayer(int inSize, int outSize) => new(inSize, outSize, seed: 17, device: TestDevice);

    private static ReferenceTrainer ReferenceOf(Linear layer, int batchSize, double lr) =>
        WithParameters(new ReferenceTrainer(layer.InSize, layer.OutSize, batchSize, lr), layer);

    private static ReferenceTrainer WithParameters(ReferenceTrainer reference, Linear layer)
    {
        reference.SetParameters(layer.W.ToArray(), layer.B!.ToArray());
        return reference;
    }

    [Test]
    public void ATrainerSetsUpAnOptimizerThatIsNotSetUpYet()
    {
        // The documented shorthand: new Trainer(layer, cost, new Sgd(lr)) without SetupOn.
        float[,] data = Uniform(20, 3, 1), target = Uniform(20, 2, 2);
        using var layer = NewLayer(3, 2);
        using var cost = new MseCost();
        var sgd = new Sgd(0.1f);
        var reference = ReferenceOf(layer, 8, 0.1);
        using var trainer = new Trainer(layer, cost, sgd, batchSize: 8);

        Assert.That(sgd.Module, Is.SameAs(layer));
        trainer.TrainFromHost(data, target, shuffle: false);
        reference.Train(data, target, 10000);
        Tolerance.AssertClose(layer.W.ToArray(), reference.W, 1e-5, 1e-4, "W");
    }

    [Test]
    public void TrainFromHostAndDisposeReleaseEveryHandleTheyTook()
    {
        // 10 rows in macro-batches of 7: the second macro-batch (3 rows) trains on row views of the upload buffers.
        float[,] data = Uniform(10, 3, 1), target = Uniform(10, 2, 2);
        using var layer = NewLayer(3, 2);
        using var cost = new MseCost(TestDevice);
        var trainer = new Trainer(layer, cost, new Sgd(0.1f), batchSize: 3);
        GC.Collect();
        GC.WaitForPendingFinalizers();  // no other test's tensor is finalised in between
        long handles = Device.LiveHandleCount;

        trainer.TrainFromHost(data, target, macroBatchSize: 7);
        Assert.That(Device.LiveHandleCount, Is.EqualTo(handles + 2), "only the two upload buffers stay");
        trainer.Dispose();
        Assert.That(Device.LiveHandleCount, Is.EqualTo(handles), "Dispose releases the upload buffers");
    }

    [Test]
    public void ZeroStepsTrainNothing()
    {
        using var layer = NewLayer(3, 2);
        using var cost = new MseCost();
        using var trainer = new Trainer(layer, cost, new Sgd(0.1f), batchSize: 4);
        using Tensor x = Tensor.FromArray(TestDevice, Uniform(10, 3, 1));
        using Tensor t = Tensor.FromArray(TestDevice, Uniform(10, 2, 2));
        float[] before = Snapshot(layer);

        trainer.TrainSteps(x, t, 0);
        trainer.TrainSteps(x, t, 0, BatchOrder.Sequential, firstStep: 5);

        Assert.That(Snapshot(layer), Is.EqualTo(before));
        Assert.That((trainer.BatchesTrained, trainer.SamplesTrained), Is.EqualTo((0L, 0L)));
        Assert.That(cost.SampleCount, Is.Zero);
    }

    [Test]
    public void CurrentBatchAndMacroBatchAreSetByFusedCallsToo()
    {
        // 77 rows in batches of 10: 8 batches, sequential step s trains batch s mod 8.
        float[,] data = Uniform(77, 3, 1), target = Uniform(77, 2, 2);
        using Tensor x = Tensor.FromArray(TestDevice, data);
        using Tensor t = Tensor.FromArray(TestDevice, target);
        using var layer = NewLayer(3, 2);
        using var cost = new MseCost();
        using var fused = new Trainer(layer, cost, new Sgd(0.01f), batchSize: 10);

        fused.TrainSteps(x, t, 5, BatchOrder.Sequential);
        Assert.That(fused.CurrentBatch, Is.EqualTo(4), "steps 0..4");
        fused.TrainSteps(x, t, 3, BatchOrder.Sequential, firstStep: 6);
        Assert.That(fused.CurrentBatch, Is.EqualTo(0), "steps 6, 7, 8: the last is batch 8 mod 8");

        // Shuffled: the fused call reports the batch a per-step trainer reports in its last callback.
        fused.TrainSteps(x, t, 13, BatchOrder.Shuffle, seed: 4, firstStep: 2);
        Assert.That(fused.CurrentBatch, Is.EqualTo(NativeOps.BatchIndex(BatchOrder.Shuffle, 4, 14, 8)));

        // Host data of 77 rows in macro-batches of 30: three macro-batches, the last of 17 rows (2 batches).
        var seen = new List<(long Macro, long Batch)>();
        using var perStep = new Trainer(layer, cost, new Sgd(0.01f), batchSize: 10,
            onBatchFinish: tr => seen.Add((tr.CurrentMacroBatch, tr.CurrentBatch)));
        perStep.TrainFromHost(data, target, macroBatchSize: 30, shuffle: false);
        Assert.That(seen, Is.EqualTo(new (long, long)[] { (0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2), (2, 0), (2, 1) }));
        fused.TrainFromHost(data, target, macroBatchSize: 30, shuffle: false);
        Assert.That((fused.CurrentMacroBatch, fused.CurrentBatch), Is.EqualTo((2L, 1L)));

        // Device data is one macro-batch: the index of the host data's last one does not linger.
        fused.TrainSteps(x, t, 2, BatchOrder.Sequential);
        Assert.That((fused.CurrentMacroBatch, fused.CurrentBatch), Is.EqualTo((0L, 1L)));
    }

    [Test]
    public void ALearningRateChangedInABatchCallbackAppliesFromTheNextBatch()
    {
        // "Its learning rate may change between calls or inside callbacks": lr for step i is rates[i].
        float[,] data = Uniform(40, 3, 1), target = Uniform(40, 2, 2);
        using Tensor x = Tensor.FromArray(TestDevice, data);
        using Tensor t = Tensor.FromArray(TestDevice, target);
        float[] rates = { 0.5f, 0.05f, 0.3f, 0.01f, 0.2f };
        using var layer = NewLayer(3, 2);
        using var cost = new MseCost();
        var sgd = new Sgd(rates[0]);
        var reference = ReferenceOf(layer, 8, rates[0]);
        using var trainer = new Trainer(layer, cost, sgd, batchSize: 8,
            onBatchFinish: tr => tr.Optimizer.LearnRate = rates[Math.Min(tr.BatchesTrained, rates.Length - 1)]);

        trainer.TrainSteps(x, t, rates.Length, BatchOrder.Sequential);

        for (int step = 0; step < rates.Length; step++)
        {
            reference.LearnRate = rates[step];
            reference.TrainSteps(data, target, step, 1);
        }
        Tolerance.AssertClose(layer.W.ToArray(), reference.W, 1e-5, 1e-4, "W");
        Tolerance.AssertClose(layer.B!.ToArray(), reference.B, 1e-5, 1e-4, "b");
    }

    [Test]
    public void LastErrorIsTheLastBatchErrorAfterFusedTraining()
    {
        float[,] data = Uniform(20, 3, 1), target = Uniform(20, 2, 2);
        using Tensor x = Tensor.FromArray(TestDevice, data);
        using Tensor t = Tensor.FromArray(TestDevice, target);
        using var layer = NewLayer(3, 2);
        using var cost = new MseCost();
        var reference = ReferenceOf(layer, 8, 0.1);
        using var trainer = new Trainer(layer, cost, new Sgd(0.1f), batchSize: 8);

        trainer.TrainSteps(x, t, 3, BatchOrder.Sequential);
        reference.TrainSteps(data, target, 0, 3);

        // Steps 0, 1, 2: batches of 8, 8 and 4 rows; LastError is the 4-row batch's error before its update.
        Assert.That(cost.LastError, Is.EqualTo(reference.Batches[^1].Error).Within(1e-3).Percent);
    }

    [Test]
    public void CalcPutsTheModuleInEvalMode()
    {
        using var layer = NewLayer(3, 2);
        var calculator = new Calculator(layer, batchSize: 4);
        Assert.That(layer.IsTraining, Is.True);
        calculator.CalcFromHost(Uniform(10, 3, 1));
        Assert.That(layer.IsTraining, Is.False, "CalcFromHost");

        layer.TrainMode();
        using Tensor x = Tensor.FromArray(TestDevice, Uniform(3, 3, 1));
        using Tensor y = calculator.Calc(x);
        Assert.That(layer.IsTraining, Is.False, "Calc");
    }

    [Test]
    public void AnUpdateAfterAnEvalModeBackwardIsRefusedUntilATrainModeBackward()
    {
        using var layer = NewLayer(3, 2);
        using var cost = new MseCost(TestDevice);
        var sgd = new Sgd(0.1f);
        sgd.SetupOn(layer);
        float[,] data = Uniform(6, 3, 1), target = Uniform(6, 2, 2);
        using Tensor x = Tensor.FromArray(TestDevice, data);
        using Tensor t = Tensor.FromArray(TestDevice, target);
        var validator = new Validator(layer, cost);
        void Step()
        {
            var (_, grad) = cost.Compute(layer.Forward(x), t);
            layer.ZeroGradParams();
            layer.Backward(grad, updGrad: false);
        }

        // Gradients from a train-mode Backward stay fresh through a Validator's forward passes.
        Step();
        validator.ValidateFromHost(data, target);
        float[] before = Snapshot(layer);
        sgd.Update();
        Assert.That(Snapshot(layer), Is.Not.EqualTo(before), "a Validator between Backward and Update is fine");

        // The same step after the Validator: Backward runs in eval mode and writes no gradient.
        Step();
        before = Snapshot(layer);
        var e = Assert.Throws<InvalidOperationException>(sgd.Update);
        Assert.That(e!.Message, Does.Contain("eval mode").And.Contain("TrainMode()").And.Contain("Backward again"));
        Assert.That(Snapshot(layer), Is.EqualTo(before), "a refused update changes nothing");

        layer.TrainMode();
        Assert.Throws<InvalidOperationException>(sgd.Update, "train mode alone does not make the gradients fresh");

        Step();
        sgd.Update();
        Assert.That(Snapshot(layer), Is.Not.EqualTo(before), "after a train-mode Backward the step updates");
    }

    [Test]
    public void AnEvalModePassAmongAccumulatedOnesMakesTheSumPartialUntilZeroed()
    {
        using var layer = NewLayer(3, 2);
        using var cost = new MseCost(TestDevice);
        var sgd = new Sgd(0.1f);
        sgd.SetupOn(layer);
        using Tensor x = Tensor.FromArray(TestDevice, Uniform(4, 3, 1));
        using Tensor t = Tensor.FromArray(TestDevice, Uniform(4, 2, 2));
        void MicroBatch()
        {
            var (_, grad) = cost.Compute(layer.Forward(x), t);
            layer.Backward(grad, updGrad: false, accumulate: true);
        }

        layer.ZeroGradParams();
        MicroBatch();
        layer.EvalMode();
        MicroBatch();   // adds nothing
        layer.TrainMode();
        MicroBatch();
        var e = Assert.Throws<InvalidOperationException>(sgd.Update, "two of three micro-batches summed");
        Assert.That(e!.Message, Does.Contain("eval mode"));

        layer.ZeroGradParams();
        MicroBatch();
        MicroBatch();
        float[] before = Snapshot(layer);
        sgd.Update();
        Assert.That(Snapshot(layer), Is.Not.EqualTo(before), "a sum of train-mode passes updates");
    }
}
