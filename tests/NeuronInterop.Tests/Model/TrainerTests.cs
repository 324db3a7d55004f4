using Microsoft.Extensions.Logging;
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

/// <summary>Trainer, Validator and Calculator semantics on every backend, against the reference trainer.</summary>
[TestFixtureSource(typeof(TestBackends), nameof(TestBackends.Names))]
public sealed class TrainerTests
{
    private const double Atol = TrainingSetup.Atol;
    private const double Rtol = TrainingSetup.Rtol;
    private readonly string _backend;
    private Device TestDevice => TestBackends.Get(_backend);

    public TrainerTests(string backend) => _backend = backend;

    [SetUp]
    public void SetUp() => TestBackends.Get(_backend);

    private static (float[,] Data, float[,] Target) Problem(int rows, int inSize, int outSize, int seed) =>
        LinearProblem(rows, inSize, outSize, seed);

    private static BatchPicker Shuffled(ulong seed) =>
        (macro, step, count) => NativeOps.BatchIndex(BatchOrder.Shuffle, seed, macro * count + step, count);

    /// <summary>The macro-batch order of a shuffled <see cref="Trainer.TrainFromHost"/>, as its docs give it.</summary>
    private static MacroBatchPicker ShuffledMacroBatches(ulong seed) =>
        (position, count) => NativeOps.BatchIndex(BatchOrder.Shuffle, ~seed, position, count);

    [Test]
    public void CutsMacroBatchesAndKeepsTheLastSmallerBatch()
    {
        var seen = new List<(long Batch, long Samples)>();
        long before = 0;
        int macroCalls = 0;
        using var s = new TrainingSetup(TestDevice, 2, 1, batchSize: 3, lr: 0.05f, onBatchFinish: t =>
        {
            seen.Add((t.CurrentBatch, t.SamplesTrained - before));
            before = t.SamplesTrained;
        });
        var (data, target) = Problem(10, 2, 1, 1);

        s.Trainer.TrainFromHost(data, target, macroBatchSize: 7, onMacroBatchFinish: _ => macroCalls++, shuffle: false);

        // [0, 7) → batches of 3, 3, 1; [7, 10) → one batch of 3.
        Assert.That(seen, Is.EqualTo(new[] { (0L, 3L), (1L, 3L), (2L, 1L), (0L, 3L) }));
        Assert.That(macroCalls, Is.EqualTo(2));
        Assert.That((s.Trainer.BatchesTrained, s.Trainer.SamplesTrained), Is.EqualTo((4L, 10L)));
        Assert.That(s.Cost.SampleCount, Is.EqualTo(10));

        s.Reference.Train(data, target, 7);
        s.AssertParametersMatch("after one sequential pass");
    }

    [Test]
    public void ShuffledOrderIsAReproduciblePermutationMatchingTheReference()
    {
        var order = new List<long>();
        var macroBatches = new List<long>();
        using var s = new TrainingSetup(TestDevice, 4, 2, batchSize: 8, lr: 0.05f, onBatchFinish: t =>
        {
            order.Add(t.CurrentBatch);
            macroBatches.Add(t.CurrentMacroBatch);
        });
        var (data, target) = Problem(103, 4, 2, 2);

        s.Trainer.TrainFromHost(data, target, macroBatchSize: 64, seed: 42);

        // Macro-batches of 64 and 39 rows: 8 and 5 batches, each visited once, a macro-batch's batches together.
        long[] batchesOf = [8, 5];
        long firstMacroBatch = macroBatches[0];
        int firstCount = (int)batchesOf[firstMacroBatch];
        Assert.That(macroBatches, Is.EqualTo(Enumerable.Repeat(firstMacroBatch, firstCount).Concat(Enumerable.Repeat(1 - firstMacroBatch, 13 - firstCount))));
        Assert.That(order.Take(firstCount).Order(), Is.EqualTo(Enumerable.Range(0, firstCount).Select(i => (long)i)));
        Assert.That(order.Skip(firstCount).Order(), Is.EqualTo(Enumerable.Range(0, 13 - firstCount).Select(i => (long)i)));
        long[] eights = order.Where((_, i) => macroBatches[i] == 0).ToArray();
        Assert.That(eights, Is.Not.EqualTo(Enumerable.Range(0, 8).Select(i => (long)i)), "shuffled");

        s.Reference.Train(data, target, 64, Shuffled(42), ShuffledMacroBatches(42));
        Assert.That(s.Reference.Batches.Select(b => b.MacroBatch), Is.EqualTo(macroBatches));
        Assert.That(s.Reference.Batches.Select(b => b.FirstRow - b.MacroBatch * 64),
            Is.EqualTo(order.Select(b => b * 8)));
        s.AssertParametersMatch("after a shuffled pass");

        var again = new List<long>();
        using var t2 = new TrainingSetup(TestDevice, 4, 2, 8, 0.05f, t => again.Add(t.CurrentBatch));
        t2.Trainer.TrainFromHost(data, target, macroBatchSize: 64, seed: 42);
        Assert.That(again, Is.EqualTo(order), "the same seed gives the same order");
        again.Clear();
        t2.Trainer.TrainFromHost(data, target, macroBatchSize: 64, seed: 43);
        Assert.That(again, Is.Not.EqualTo(order), "another seed gives another order");
    }

    [Test]
    public void TotalsCountTheBatchesAndMacroBatchesOfACall()
    {
        var seen = new List<(long Macro, long Batches, long Macros)>();
        using var s = new TrainingSetup(TestDevice, 4, 2, batchSize: 8, lr: 0.05f,
            onBatchFinish: t => seen.Add((t.CurrentMacroBatch, t.TotalBatches, t.TotalMacroBatches)));
        var (data, target) = Problem(103, 4, 2, 2);

        // Macro-batches of 64 and 39 rows: 8 and 5 batches.
        s.Trainer.TrainFromHost(data, target, macroBatchSize: 64, seed: 3);
        Assert.That(seen.Distinct().Order(), Is.EqualTo(new[] { (0L, 8L, 2L), (1L, 5L, 2L) }));
        Assert.That(seen, Has.Count.EqualTo(13));

        // On the device, all 103 rows are one macro-batch of 13 batches, whatever the steps.
        using Tensor x = Tensor.FromArray(TestDevice, data);
        using Tensor t = Tensor.FromArray(TestDevice, target);
        seen.Clear();
        s.Trainer.Train(x, t);
        Assert.That(seen.Distinct(), Is.EqualTo(new[] { (0L, 13L, 1L) }));
        seen.Clear();
        s.Trainer.TrainSteps(x, t, 30);
        Assert.That(seen.Distinct(), Is.EqualTo(new[] { (0L, 13L, 1L) }));
        Assert.That(seen, Has.Count.EqualTo(30));
    }

    [Test]
    public void ValidatorAndCalculatorTakeHostDataOneMacroBatchAtATime()
    {
        var (data, target) = Problem(20, 3, 2, 8);
        using var s = new TrainingSetup(TestDevice, 3, 2, batchSize: 3, lr: 0.1f);
        using Tensor x = Tensor.FromArray(TestDevice, data);
        using Tensor t = Tensor.FromArray(TestDevice, target);
        // Macro-batches of 7, 7 and 6 rows, each cut into batches of 3: the last of each smaller.
        string[] batches = ["0..2", "3..5", "6..6", "7..9", "10..12", "13..13", "14..16", "17..19"];
        var validated = new ListLogger();
        var calculated = new ListLogger();

        double error = new Validator(s.Layer, s.Cost, batchSize: 3, logger: validated).ValidateFromHost(data, target, macroBatchSize: 7);
        float[,] output = new Calculator(s.Layer, batchSize: 3, logger: calculated).CalcFromHost(data, macroBatchSize: 7);

        Assert.That(validated.Entries.Where(e => e.Level == LogLevel.Trace).Select(e => e.Message),
            Is.EqualTo(batches.Select(rows => $"Validated rows {rows}")));
        Assert.That(calculated.Entries.Where(e => e.Level == LogLevel.Trace).Select(e => e.Message),
            Is.EqualTo(batches.Select(rows => $"Calculated rows {rows}")));
        Assert.That(error, Is.EqualTo(new Validator(s.Layer, s.Cost, batchSize: 3).Validate(x, t)).Within(1e-5).Percent,
            "the error of the data on the device");
        Assert.That(error, Is.EqualTo(s.Reference.Validate(data, target)).Within(0.01).Percent, "the reference's");
        using Tensor whole = new Calculator(s.Layer, batchSize: 3).Calc(x);
        Tolerance.AssertClose(Flat(output), Flat(whole.ToArray2D()), Atol, Rtol, "the outputs of the data on the device");
    }

    [Test]
    public void ShuffledMacroBatchesComeInAReproduciblePermutation()
    {
        // 100 rows in macro-batches of 10: ten macro-batches, two batches each.
        var (data, target) = Problem(100, 2, 1, 6);
        using var s = new TrainingSetup(TestDevice, 2, 1, batchSize: 5, lr: 0.05f);
        List<long> Pass(bool shuffle, ulong seed)
        {
            var seen = new List<long>();
            s.Trainer.TrainFromHost(data, target, macroBatchSize: 10, onMacroBatchFinish: t => seen.Add(t.CurrentMacroBatch),
                shuffle: shuffle, seed: seed);
            return seen;
        }
        long[] inOrder = Enumerable.Range(0, 10).Select(i => (long)i).ToArray();

        List<long> shuffled = Pass(shuffle: true, seed: 7);

        Assert.That(shuffled.Order(), Is.EqualTo(inOrder), "each macro-batch once");
        Assert.That(shuffled, Is.Not.EqualTo(inOrder), "in a permuted order");
        Assert.That(shuffled, Is.EqualTo(Enumerable.Range(0, 10).Select(p => ShuffledMacroBatches(7)(p, 10))), "the documented one");
        Assert.That(Pass(shuffle: true, seed: 7), Is.EqualTo(shuffled), "the same seed, the same order");
        Assert.That(Pass(shuffle: true, seed: 8), Is.Not.EqualTo(shuffled), "another seed, another order");
        Assert.That(Pass(shuffle: false, seed: 7), Is.EqualTo(inOrder), "without shuffling, in order");
        Assert.That(s.Trainer.SamplesTrained, Is.EqualTo(4 * 100));
    }

    [Test]
    public void FusedEpochMatchesTheReferenceAndTheGenericPath()
    {
        var (data, target) = Problem(203, 7, 3, 3);
        using var fused = new TrainingSetup(TestDevice, 7, 3, batchSize: 16, lr: 0.1f);
        using var generic = new TrainingSetup(TestDevice, 7, 3, batchSize: 16, lr: 0.1f);
        using var perStep = new TrainingSetup(TestDevice, 7, 3, batchSize: 16, lr: 0.1f, onBatchFinish: _ => { });
        generic.Trainer.UseFusedSteps = false;

        for (int epoch = 0; epoch < 3; epoch++)
        {
            fused.Trainer.TrainFromHost(data, target, macroBatchSize: 100, seed: (ulong)epoch);
            generic.Trainer.TrainFromHost(data, target, macroBatchSize: 100, seed: (ulong)epoch);
            perStep.Trainer.TrainFromHost(data, target, macroBatchSize: 100, seed: (ulong)epoch);
            double mean = fused.Reference.Train(data, target, 100, Shuffled((ulong)epoch), ShuffledMacroBatches((ulong)epoch));

            fused.AssertParametersMatch($"fused, epoch {epoch}");
            Assert.That(fused.Cost.MeanError, Is.EqualTo(mean).Within(0.01).Percent, "batch-weighted mean error");
            Assert.That(generic.Cost.MeanError, Is.EqualTo(mean).Within(0.01).Percent, "generic path mean error");
            Tolerance.AssertClose(generic.Layer.W.ToArray(), fused.Layer.W.ToArray(), Atol, Rtol, "generic W == fused W");
            Tolerance.AssertClose(generic.Layer.B!.ToArray(), fused.Layer.B!.ToArray(), Atol, Rtol, "generic b == fused b");
            Tolerance.AssertClose(perStep.Layer.W.ToArray(), fused.Layer.W.ToArray(), Atol, Rtol, "per-step W == fused W");
        }
        Assert.That(fused.Trainer.BatchesTrained, Is.EqualTo(3 * (7 + 7 + 1)));
        Assert.That(fused.Trainer.SamplesTrained, Is.EqualTo(3 * 203));
    }

    [Test]
    public void TrainOnDeviceDataMatchesTheReference()
    {
        var (data, target) = Problem(77, 5, 2, 4);
        using var s = new TrainingSetup(TestDevice, 5, 2, batchSize: 10, lr: 0.2f);
        using Tensor x = Tensor.FromArray(TestDevice, data);
        using Tensor t = Tensor.FromArray(TestDevice, target);
        int calls = 0;

        s.Trainer.Train(x, t, onMacroBatchFinish: _ => calls++, seed: 5);

        s.Reference.Train(data, target, 77, Shuffled(5));
        s.AssertParametersMatch("after Train");
        Assert.That(calls, Is.EqualTo(1));
        Assert.That(s.Trainer.SamplesTrained, Is.EqualTo(77));
    }

    [Test]
    public void TrainOnDeviceDataWithoutShufflingIsSequential()
    {
        var (data, target) = Problem(77, 5, 2, 4);
        using Tensor x = Tensor.FromArray(TestDevice, data);
        using Tensor t = Tensor.FromArray(TestDevice, target);
        var order = new List<long>();
        using var perStep = new TrainingSetup(TestDevice, 5, 2, batchSize: 10, lr: 0.2f, onBatchFinish: tr => order.Add(tr.CurrentBatch));
        using var fused = new TrainingSetup(TestDevice, 5, 2, batchSize: 10, lr: 0.2f);

        perStep.Trainer.Train(x, t, shuffle: false);
        fused.Trainer.Train(x, t, shuffle: false);

        Assert.That(order, Is.EqualTo(Enumerable.Range(0, 8).Select(i => (long)i)));
        perStep.Reference.Train(data, target, 77);
        perStep.AssertParametersMatch("per step, in order");
        fused.Reference.Train(data, target, 77);
        fused.AssertParametersMatch("one native call, in order");
    }

    [Test]
    public void LearnRateChangesBetweenEpochs()
    {
        var (data, target) = Problem(50, 3, 1, 5);
        using var s = new TrainingSetup(TestDevice, 3, 1, batchSize: 8, lr: 0.3f);
        foreach (float lr in new[] { 0.3f, 0.05f, 0.01f })
        {
            s.Optimizer.LearnRate = lr;
            s.Reference.LearnRate = lr;
            s.Trainer.TrainFromHost(data, target, shuffle: false);
            s.Reference.Train(data, target, 10000);
            s.AssertParametersMatch($"after the epoch at lr {lr}");
        }
    }

    [Test]
    public void TrainStepsEqualsTheSameStepsOneByOne()
    {
        var (data, target) = Problem(90, 6, 2, 6);
        using Tensor x = Tensor.FromArray(TestDevice, data);
        using Tensor t = Tensor.FromArray(TestDevice, target);
        foreach (BatchOrder order in Enum.GetValues<BatchOrder>())
        {
            using var all = new TrainingSetup(TestDevice, 6, 2, batchSize: 16, lr: 0.1f);
            using var single = new TrainingSetup(TestDevice, 6, 2, batchSize: 16, lr: 0.1f);
            using var generic = new TrainingSetup(TestDevice, 6, 2, batchSize: 16, lr: 0.1f);
            generic.Trainer.UseFusedSteps = false;

            all.Trainer.TrainSteps(x, t, 23, order, seed: 8, firstStep: 3);
            for (long step = 3; step < 26; step++)
            {
                single.Trainer.TrainSteps(x, t, 1, order, seed: 8, firstStep: step);
            }
            generic.Trainer.TrainSteps(x, t, 23, order, seed: 8, firstStep: 3);
            all.Reference.TrainSteps(data, target, 3, 23,
                (_, step, count) => NativeOps.BatchIndex(order, 8, step, count));

            all.AssertParametersMatch($"TrainSteps ({order})");
            // Chunks that continue one another are the same run, bit for bit (Trainer.TrainSteps' remarks).
            Assert.That(single.Layer.W.ToArray(), Is.EqualTo(all.Layer.W.ToArray()), $"W one by one ({order})");
            Assert.That(single.Layer.B!.ToArray(), Is.EqualTo(all.Layer.B!.ToArray()), $"b one by one ({order})");
            Tolerance.AssertClose(generic.Layer.W.ToArray(), all.Layer.W.ToArray(), Atol, Rtol, $"generic ({order})");
            long expectedSamples = all.Reference.Batches.Sum(b => b.RowCount);
            Assert.That(all.Trainer.SamplesTrained, Is.EqualTo(expectedSamples));
            Assert.That(all.Trainer.BatchesTrained, Is.EqualTo(23));
        }
    }

    [Test]
    public void TrainingResetsTheAccumulatorAndEntersTrainMode()
    {
        var (data, target) = Problem(40, 3, 2, 7);
        using var s = new TrainingSetup(TestDevice, 3, 2, batchSize: 8, lr: 0.1f);
        s.Trainer.TrainFromHost(data, target);
        s.Layer.EvalMode();
        s.Trainer.TrainFromHost(data, target);
        Assert.That(s.Layer.IsTraining, Is.True);
        Assert.That(s.Cost.SampleCount, Is.EqualTo(40), "only the last pass is accumulated");
    }

    [Test]
    public void AValidatorInABatchCallbackDoesNotStopTraining()
    {
        // The Validator leaves the module in eval mode; each step must still train (fused or not), in train mode.
        var (data, target) = Problem(48, 3, 2, 12);
        using Tensor x = Tensor.FromArray(TestDevice, data);
        using Tensor t = Tensor.FromArray(TestDevice, target);
        using var validationCost = new MseCost(TestDevice);
        Validator? validator = null;
        var modes = new List<bool>();
        void Validate(Trainer trainer)
        {
            modes.Add(trainer.Module.IsTraining);
            validator!.Validate(x, t);
        }
        using var fused = new TrainingSetup(TestDevice, 3, 2, batchSize: 8, lr: 0.1f, onBatchFinish: Validate);
        using var generic = new TrainingSetup(TestDevice, 3, 2, batchSize: 8, lr: 0.1f, onBatchFinish: Validate);
        generic.Trainer.UseFusedSteps = false;

        foreach (var s in new[] { fused, generic })
        {
            validator = new Validator(s.Layer, validationCost, batchSize: 16);
            modes.Clear();
            s.Trainer.TrainFromHost(data, target, seed: 2);
            Assert.That(modes, Is.EqualTo(Enumerable.Repeat(true, 6)), "each step trained in train mode");
            Assert.That(s.Layer.IsTraining, Is.False, "the last callback's Validator left eval mode");
        }
        fused.Reference.Train(data, target, 10000, Shuffled(2));
        fused.AssertParametersMatch("fused");
        generic.Reference.Train(data, target, 10000, Shuffled(2));
        generic.AssertParametersMatch("generic");
    }

    [Test]
    public void WithoutASeedEachCallShufflesAfreshAndEveryRunAlike()
    {
        // A call's default seed is the number of TrainFromHost and Train calls its trainer began before it.
        var (data, target) = Problem(64, 3, 2, 16);
        using Tensor x = Tensor.FromArray(TestDevice, data);
        using Tensor t = Tensor.FromArray(TestDevice, target);
        var order = new List<long>();
        TrainingSetup NewSetup() => new(TestDevice, 3, 2, batchSize: 4, lr: 0.05f, onBatchFinish: tr => order.Add(tr.CurrentBatch));
        string Call(Action train)
        {
            order.Clear();
            train();
            return string.Join(" ", order);
        }
        List<string> FourCalls(TrainingSetup s, Func<int, ulong?> seedOf) =>
            [.. Enumerable.Range(0, 4).Select(call => Call(() =>
            {
                if (call % 2 == 0)
                    s.Trainer.TrainFromHost(data, target, seed: seedOf(call));
                else
                    s.Trainer.Train(x, t, seed: seedOf(call));
            }))];
        using TrainingSetup byDefault = NewSetup(), seeded = NewSetup(), again = NewSetup();

        List<string> orders = FourCalls(byDefault, _ => null);
        Assert.That(FourCalls(seeded, call => (ulong)call), Is.EqualTo(orders), "the default seeds are 0, 1, 2, 3");
        Assert.That(FourCalls(again, _ => null), Is.EqualTo(orders), "a second trainer shuffles as the first");
        Assert.That(orders.Distinct().Count(), Is.EqualTo(4), "each call shuffles afresh");
        Assert.That(byDefault.Layer.W.ToArray(), Is.EqualTo(seeded.Layer.W.ToArray()));
        Assert.That(byDefault.Layer.B!.ToArray(), Is.EqualTo(seeded.Layer.B!.ToArray()));

        // TrainSteps does not count, an unshuffled call does: the next call's seed is 5.
        byDefault.Trainer.TrainSteps(x, t, 3);
        byDefault.Trainer.TrainFromHost(data, target, shuffle: false);
        Assert.That(Call(() => byDefault.Trainer.Train(x, t)), Is.EqualTo(Call(() => seeded.Trainer.Train(x, t, seed: 5))));
    }

    [Test]
    public void ALearningRateOfZeroMeasuresTheErrorAndMovesNothing()
    {
        // The end of a decaying schedule: the steps run, and their error is the error of the parameters as they are.
        var (data, target) = Problem(40, 3, 2, 15);
        using var fused = new TrainingSetup(TestDevice, 3, 2, batchSize: 8, lr: 0f);
        using var generic = new TrainingSetup(TestDevice, 3, 2, batchSize: 8, lr: 0f);
        generic.Trainer.UseFusedSteps = false;
        foreach (var s in new[] { fused, generic })
        {
            float[] before = Snapshot(s.Layer);
            s.Trainer.TrainFromHost(data, target);
            Assert.That(Snapshot(s.Layer), Is.EqualTo(before));
            Assert.That(s.Cost.SampleCount, Is.EqualTo(40));
            Assert.That(s.Cost.MeanError, Is.EqualTo(s.Reference.Validate(data, target)).Within(0.01).Percent);
        }
    }

    [Test]
    public void BatchesLargerThanTheDefaultMacroBatchAreAccepted()
    {
        // The default macro-batch (PuzzleLib's 10000 rows) grows to the batch size instead of rejecting it.
        var (data, target) = Problem(30, 2, 1, 13);
        using var s = new TrainingSetup(TestDevice, 2, 1, batchSize: Trainer.DefaultMacroBatchSize + 1, lr: 0.1f);
        s.Trainer.TrainFromHost(data, target);
        Assert.That(s.Trainer.BatchesTrained, Is.EqualTo(1));
        s.Reference.Train(data, target, Trainer.DefaultMacroBatchSize + 1);
        s.AssertParametersMatch("after one batch of all rows");
        Assert.Throws<ArgumentOutOfRangeException>(() => s.Trainer.TrainFromHost(data, target, macroBatchSize: 100),
            "an explicit macro-batch smaller than the batch is still an error");
    }

    [Test]
    public void HostArraysWithNonZeroLowerBoundsTrainLikeOrdinaryOnes()
    {
        var (data, target) = Problem(20, 3, 2, 14);
        var shiftedData = (float[,])Array.CreateInstance(typeof(float), [20, 3], [1, -2]);
        var shiftedTarget = (float[,])Array.CreateInstance(typeof(float), [20, 2], [5, 0]);
        Array.Copy(data, shiftedData, data.Length);
        Array.Copy(target, shiftedTarget, target.Length);
        using var ordinary = new TrainingSetup(TestDevice, 3, 2, batchSize: 8, lr: 0.1f);
        using var shifted = new TrainingSetup(TestDevice, 3, 2, batchSize: 8, lr: 0.1f);

        ordinary.Trainer.TrainFromHost(data, target, macroBatchSize: 16, seed: 1);
        shifted.Trainer.TrainFromHost(shiftedData, shiftedTarget, macroBatchSize: 16, seed: 1);

        Assert.That(shifted.Layer.W.ToArray(), Is.EqualTo(ordinary.Layer.W.ToArray()));
        Assert.That(shifted.Layer.B!.ToArray(), Is.EqualTo(ordinary.Layer.B!.ToArray()));
    }

    [Test]
    public void ValidatorAndCalculatorLeaveParametersUntouched()
    {
        var (data, target) = Problem(45, 4, 3, 8);
        using var s = new TrainingSetup(TestDevice, 4, 3, batchSize: 8, lr: 0.1f);
        float[] before = Snapshot(s.Layer);
        var validator = new Validator(s.Layer, s.Cost, batchSize: 7);
        var calculator = new Calculator(s.Layer, batchSize: 7);

        double error = validator.ValidateFromHost(data, target);
        Assert.That(s.Layer.IsTraining, Is.False);
        float[,] output = calculator.CalcFromHost(data);

        Assert.That(Snapshot(s.Layer), Is.EqualTo(before));
        var reference = new ReferenceTrainer(4, 3, 7, 0.1);
        reference.SetParameters(s.Layer.W.ToArray(), s.Layer.B!.ToArray());
        Assert.That(error, Is.EqualTo(reference.Validate(data, target)).Within(0.01).Percent);
        Assert.That(s.Cost.SampleCount, Is.EqualTo(45));
        Assert.That(output.GetLength(0), Is.EqualTo(45));
        Tolerance.AssertClose(Flat(output), reference.Predict(data), Atol, Rtol, "Calculator output, last batch of 3 rows included");

        using Tensor x = Tensor.FromArray(TestDevice, data);
        using Tensor five = x.SliceRows(0, 5);
        using Tensor one = calculator.Calc(five);
        Tolerance.AssertClose(one.ToArray(), reference.Predict(Slice(data, 5)), Atol, Rtol, "Calculator, a single smaller batch");
    }

    [Test]
    public void MultiOutputLayerRecoversAKnownLinearMap()
    {
        const int inSize = 8, outSize = 3, rows = 2000;
        float[,] a = Uniform(inSize, outSize, 99, -2f, 2f);
        float[] c = { 0.5f, -1.25f, 3f };
        float[,] data = Uniform(rows, inSize, 100);
        var target = new float[rows, outSize];
        for (int r = 0; r < rows; r++)
            for (int o = 0; o < outSize; o++)
            {
                double sum = c[o];
                for (int i = 0; i < inSize; i++) sum += data[r, i] * a[i, o];
                target[r, o] = (float)sum;
            }
        using var layer = new Linear(inSize, outSize, seed: 1, device: TestDevice);
        using var cost = new MseCost();
        var sgd = new Sgd(0.5f);
        sgd.SetupOn(layer);
        using var trainer = new Trainer(layer, cost, sgd, batchSize: 32);

        for (int epoch = 0; epoch < 40; epoch++)
        {
            trainer.TrainFromHost(data, target, macroBatchSize: 512, seed: (ulong)epoch);
        }

        Tolerance.AssertClose(layer.W.ToArray(), Flat(a), 1e-3, 0, "W = A");
        Tolerance.AssertClose(layer.B!.ToArray(), c, 1e-3, 0, "b = c");
        Assert.That(cost.MeanError, Is.LessThan(1e-6));
    }

    [Test]
    public void ProgressIsLoggedAtInformationAndBatchesAtTrace()
    {
        var logger = new ListLogger();
        var (data, target) = Problem(20, 2, 1, 9);
        using var layer = new Linear(2, 1, device: TestDevice, logger: logger);
        using var cost = new MseCost(logger: logger);
        var sgd = new Sgd(0.1f, logger);
        sgd.SetupOn(layer);
        using var trainer = new Trainer(layer, cost, sgd, batchSize: 8, onBatchFinish: _ => { }, logger: logger);

        trainer.TrainFromHost(data, target);

        Assert.That(logger.Entries.Count(e => e.Level == LogLevel.Information && e.Message.Contains("mean error")), Is.EqualTo(1));
        Assert.That(logger.Entries.Count(e => e.Level == LogLevel.Trace && e.Message.StartsWith("Batch ")), Is.EqualTo(3));
    }

    [Test]
    public void DivergedTrainingIsLoggedAsAWarningOnceUntilItRecovers()
    {
        var logger = new ListLogger();
        var (data, target) = Problem(40, 3, 1, 11);
        using var layer = new Linear(3, 1, seed: 2, device: TestDevice);
        using var cost = new MseCost();
        var sgd = new Sgd(50f);
        using var trainer = new Trainer(layer, cost, sgd, batchSize: 4, logger: logger);
        int Warnings() => logger.Entries.Count(e => e.Level == LogLevel.Warning && e.Message.StartsWith("Training diverged"));

        for (int epoch = 0; epoch < 4; epoch++)
            trainer.TrainFromHost(data, target, seed: (ulong)epoch);
        Assert.That(double.IsFinite(cost.MeanError), Is.False, "a learning rate of 50 diverges");
        Assert.That(Warnings(), Is.EqualTo(1), "one warning for a run of diverged calls");
        Assert.That(logger.Entries.Single(e => e.Level == LogLevel.Warning).Message, Does.Contain("learning rate 50"));

        using Tensor x = Tensor.FromArray(TestDevice, data);
        using Tensor t = Tensor.FromArray(TestDevice, target);
        trainer.TrainSteps(x, t, 0);
        Assert.That(Warnings(), Is.EqualTo(1), "zero steps train nothing and say nothing");
        trainer.TrainSteps(x, t, 3);
        Assert.That(Warnings(), Is.EqualTo(1), "a call that trained nothing does not end the run of diverged calls");

        layer.W.Fill(0f);
        layer.B!.Fill(0f);
        sgd.LearnRate = 0.05f;
        trainer.TrainSteps(x, t, 5);
        Assert.That(double.IsFinite(cost.MeanError), Is.True);
        sgd.LearnRate = 50f;
        for (int call = 0; call < 3; call++)
            trainer.TrainSteps(x, t, 40);
        Assert.That(Warnings(), Is.EqualTo(2), "a finite call in between: the next divergence is said again");
    }

    [Test]
    public void EndOfCallLinesReadRightForASingleSample()
    {
        // Counts are written as "name value", so that one sample does not read "1 samples".
        var logger = new ListLogger();
        var (data, target) = Problem(1, 2, 1, 12);
        using var layer = new Linear(2, 1, device: TestDevice);
        using var cost = new MseCost();
        using var trainer = new Trainer(layer, cost, new Sgd(0.1f), batchSize: 1, logger: logger);
        using Tensor x = Tensor.FromArray(TestDevice, data);
        using Tensor t = Tensor.FromArray(TestDevice, target);

        trainer.TrainFromHost(data, target);
        trainer.TrainSteps(x, t, 1);
        new Validator(layer, cost, batchSize: 1, logger: logger).ValidateFromHost(data, target);
        new Calculator(layer, batchSize: 1, logger: logger).CalcFromHost(data);

        string[] lines = logger.Entries.Where(e => e.Level is LogLevel.Information or LogLevel.Debug && e.Message.Contains(" finished: "))
            .Select(e => e.Message).ToArray();
        Assert.That(lines, Has.Length.EqualTo(4));
        Assert.That(lines[0], Does.Match(@"^Training finished: samples 1, batch size 1, mean error \S+, batches in total 1$"));
        Assert.That(lines[1], Does.Match(@"^Training finished: steps 1 \(Shuffle\) from step 0, mean error \S+$"));
        Assert.That(lines[2], Does.Match(@"^Validation finished: samples 1, mean error \S+$"));
        Assert.That(lines[3], Is.EqualTo("Calculation finished: rows 1, batch size 1"));
        Assert.That(logger.Entries.Select(e => e.Message), Has.None.Match(@"\b1 (samples|batches|rows|steps|parameters)\b"));
    }

    [Test]
    public void ValidatorAndCalculatorLogMacroBatchesOfOneBatchEach()
    {
        var (data, target) = Problem(8, 2, 1, 11);
        using var layer = new Linear(2, 1, device: TestDevice);
        using var cost = new MseCost();
        var validated = new ListLogger();
        var calculated = new ListLogger();
        string[] batches = ["0..2", "3..5", "6..7"];

        new Validator(layer, cost, batchSize: 3, logger: validated).ValidateFromHost(data, target, macroBatchSize: 3);
        new Calculator(layer, batchSize: 3, logger: calculated).CalcFromHost(data, macroBatchSize: 3);

        Assert.That(validated.Entries.Where(e => e.Level == LogLevel.Trace).Select(e => e.Message),
            Is.EqualTo(batches.Select(rows => $"Validated rows {rows}")));
        Assert.That(calculated.Entries.Where(e => e.Level == LogLevel.Trace).Select(e => e.Message),
            Is.EqualTo(batches.Select(rows => $"Calculated rows {rows}")));
    }

    [Test]
    public void ValidatorAndCalculatorLogEachBatchAtTrace()
    {
        var logger = new ListLogger();
        var (data, target) = Problem(20, 2, 1, 10);
        using var layer = new Linear(2, 1, device: TestDevice);
        using var cost = new MseCost();
        var validator = new Validator(layer, cost, batchSize: 8, logger: logger);
        var calculator = new Calculator(layer, batchSize: 8, logger: logger);

        validator.ValidateFromHost(data, target);
        calculator.CalcFromHost(data);

        Assert.That(logger.Entries.Where(e => e.Level == LogLevel.Trace).Select(e => e.Message), Is.EqualTo(new[]
        {
            "Validated rows 0..7", "Validated rows 8..15", "Validated rows 16..19",
            "Calculated rows 0..7", "Calculated rows 8..15", "Calculated rows 16..19",
        }));
    }

    private sealed class ListLogger : ILogger
    {
        public List<(LogLevel Level, string Message)> Entries { get; } = new();

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Entries.Add((logLevel, formatter(state, exception)));
    }

    private static float[,] Slice(float[,] data, int rows)
    {
        var result = new float[rows, data.GetLength(1)];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < data.GetLength(1); c++)
                result[r, c] = data[r, c];
        return result;
    }
}
