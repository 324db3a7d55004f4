using NeuronInterop.Cost;
using NeuronInterop.Handlers;
using NeuronInterop.Modules;
using NeuronInterop.Optimizers;
using NeuronInterop.Tests.Infrastructure;
using NUnit.Framework;
using static NeuronInterop.Tests.Model.ModelData;

namespace NeuronInterop.Tests.Model;

/// <summary>Every bad input gives a clear exception and leaves the module's parameters unchanged.</summary>
[TestFixtureSource(typeof(TestBackends), nameof(TestBackends.Names))]
public sealed class BadInputTests
{
    private readonly string _backend;
    private Device TestDevice => TestBackends.Get(_backend);
    private Linear _layer = null!;
    private MseCost _cost = null!;
    private Sgd _sgd = null!;
    private Trainer _trainer = null!;
    private float[] _before = null!;

    public BadInputTests(string backend) => _backend = backend;

    [SetUp]
    public void SetUp()
    {
        TestBackends.Get(_backend);
        _layer = new Linear(3, 2, seed: 5, device: TestDevice);
        _layer.B!.Fill(0.5f);
        _cost = new MseCost();
        _sgd = new Sgd(0.1f);
        _sgd.SetupOn(_layer);
        _trainer = new Trainer(_layer, _cost, _sgd, batchSize: 4);
        _before = Snapshot(_layer);
    }

    [TearDown]
    public void TearDown()
    {
        _trainer.Dispose();
        _cost.Dispose();
        _layer.Dispose();
    }

    private void AssertUnchanged()
    {
        if (!_layer.IsDisposed)
        {
            Assert.That(Snapshot(_layer), Is.EqualTo(_before), "parameters changed by a failed call");
        }
    }

    /// <summary>Asserts that <paramref name="code"/> throws a <see cref="ShapeMismatchException"/> that names the argument at fault.</summary>
    private static ShapeMismatchException ShapeRefused(Action code, string paramName)
    {
        var e = Assert.Throws<ShapeMismatchException>(code)!;
        Assert.That(e.ParamName, Is.EqualTo(paramName), e.Message);
        Assert.That(e.Status, Is.EqualTo(NeuronStatus.ShapeMismatch));
        return e;
    }

    [Test]
    public void LinearRejectsBadConstruction()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new Linear(0, 2, device: TestDevice));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Linear(3, -1, device: TestDevice));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Linear(3, 2, wscale: float.NaN, device: TestDevice));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Linear(3, 2, wscale: 0f, device: TestDevice));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Linear(3, 2, initScheme: (InitScheme)42, device: TestDevice));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Linear(3, 2, initFactor: (InitFactor)42, device: TestDevice));
    }

    [TestCase(InitScheme.Gaussian, 1e38f)]     // |w| up to 8.7 standard deviations
    [TestCase(InitScheme.Uniform, 3e38f)]      // the range's width 6e38
    [TestCase(InitScheme.XavierUniform, 3e38f)]
    [TestCase(InitScheme.He, 3e38f)]
    public void AWscaleThatOverflowsTheInitialWeightsIsRefusedByName(InitScheme scheme, float wscale)
    {
        long handles = Device.LiveHandleCount;
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new Linear(3, 2, initScheme: scheme, wscale: wscale, device: TestDevice));
        Assert.That(e!.ParamName, Is.EqualTo("wscale"));
        Assert.That(e.Message, Does.Contain("beyond float32's range"));
        Assert.That(Device.LiveHandleCount, Is.EqualTo(handles), "nothing kept for a refused layer");
    }

    [TestCase(InitScheme.Gaussian, InitFactor.Out)]
    [TestCase(InitScheme.Uniform, InitFactor.Average)]
    [TestCase(InitScheme.None, InitFactor.Out)]
    public void AFanFactorIsRefusedForASchemeThatUsesNone(InitScheme scheme, InitFactor factor)
    {
        long handles = Device.LiveHandleCount;
        var e = Assert.Throws<ArgumentException>(() => new Linear(3, 2, initScheme: scheme, initFactor: factor, device: TestDevice));
        Assert.That(e!.ParamName, Is.EqualTo("initFactor"));
        Assert.That(e.Message, Does.Contain(scheme.ToString()).And.Contain("only the Xavier and He schemes"));
        Assert.That(Device.LiveHandleCount, Is.EqualTo(handles), "nothing allocated for a refused layer");
    }

    [Test]
    public void ForwardRejectsInputOfTheWrongShape()
    {
        using Tensor wrongColumns = new(TestDevice, 5, 4);
        using Tensor rank1 = new(TestDevice, 3);
        var e = ShapeRefused(() => _layer.Forward(wrongColumns), "input");
        Assert.That(e.Message, Does.Contain("3").And.Contain("[5x4]"));
        ShapeRefused(() => _layer.Forward(rank1), "input");
        AssertUnchanged();
    }

    [Test]
    public void BackwardRejectsMissingForwardAndWrongGradients()
    {
        using Tensor grad = new(TestDevice, 5, 2);
        Assert.Throws<InvalidOperationException>(() => _layer.Backward(grad));
        using Tensor input = new(TestDevice, 5, 3);
        _layer.Forward(input);
        using Tensor wrongRows = new(TestDevice, 4, 2);
        ShapeRefused(() => _layer.Backward(wrongRows), "grad");
        AssertUnchanged();
    }

    [Test]
    public void CostRejectsTargetsOfAnotherShape()
    {
        using Tensor prediction = new(TestDevice, 5, 2);
        using Tensor fewerRows = new(TestDevice, 4, 2);
        using Tensor moreColumns = new(TestDevice, 5, 3);
        ShapeRefused(() => _cost.Compute(prediction, fewerRows), "target");
        ShapeRefused(() => _cost.Compute(prediction, moreColumns), "target");
        ShapeRefused(() => _cost.Evaluate(prediction, moreColumns), "target");
    }

    [Test]
    public void TrainerRejectsDataThatDoesNotFit()
    {
        float[,] data = Uniform(10, 3, 1), target = Uniform(10, 2, 2);
        ShapeRefused(() => _trainer.TrainFromHost(Uniform(10, 4, 1), target), "data");
        ShapeRefused(() => _trainer.TrainFromHost(data, Uniform(10, 1, 2)), "target");
        ShapeRefused(() => _trainer.TrainFromHost(data, Uniform(9, 2, 2)), "target");
        Assert.Throws<ArgumentException>(() => _trainer.TrainFromHost(new float[0, 3], new float[0, 2]), "empty data");
        Assert.Throws<ArgumentNullException>(() => _trainer.TrainFromHost(null!, target));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => _trainer.TrainFromHost(data, target, macroBatchSize: 3));
        Assert.That(e!.ParamName, Is.EqualTo("macroBatchSize"));

        using Tensor x = Tensor.FromArray(TestDevice, Uniform(10, 3, 1));
        using Tensor wrongTarget = Tensor.FromArray(TestDevice, Uniform(8, 2, 1));
        ShapeRefused(() => _trainer.Train(x, wrongTarget), "target");
        ShapeRefused(() => _trainer.TrainSteps(x, wrongTarget, 5), "target");
        using Tensor rank1 = Tensor.FromArray(TestDevice, new float[10]);
        ShapeRefused(() => _trainer.Train(rank1, wrongTarget), "data");
        using Tensor t = Tensor.FromArray(TestDevice, target);
        Assert.Throws<ArgumentOutOfRangeException>(() => _trainer.TrainSteps(x, t, -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => _trainer.TrainSteps(x, t, 1, (BatchOrder)9));
        foreach (BatchOrder order in Enum.GetValues<BatchOrder>())
        {
            var negative = Assert.Throws<ArgumentOutOfRangeException>(() => _trainer.TrainSteps(x, t, 3, order, firstStep: -1));
            Assert.That(negative!.ParamName, Is.EqualTo("firstStep"), $"{order}");
        }
        Assert.That(_trainer.BatchesTrained, Is.Zero);
        AssertUnchanged();
    }

    [Test]
    public void AStepRangePastTheLastStepIndexIsRefusedBeforeTrainingStarts()
    {
        float[,] data = Uniform(10, 3, 1), target = Uniform(10, 2, 2);
        _trainer.TrainFromHost(data, target);
        double meanError = _cost.MeanError;
        long samples = _cost.SampleCount;
        float[] trained = Snapshot(_layer);
        using Tensor x = Tensor.FromArray(TestDevice, data);
        using Tensor t = Tensor.FromArray(TestDevice, target);

        var e = Assert.Throws<ArgumentOutOfRangeException>(() => _trainer.TrainSteps(x, t, 2, firstStep: long.MaxValue - 1));
        Assert.That(e!.ParamName, Is.EqualTo("steps"));
        Assert.That(_cost.MeanError, Is.EqualTo(meanError), "the cost's accumulator was reset by a refused call");
        Assert.That(_cost.SampleCount, Is.EqualTo(samples));
        Assert.That(Snapshot(_layer), Is.EqualTo(trained));
        Assert.That(e.Message, Does.Contain("firstStep + steps must not exceed"));
        // firstStep + steps = long.MaxValue is allowed.
        _trainer.TrainSteps(x, t, 1, firstStep: long.MaxValue - 1);
        // 10 rows in batches of 4: batches 0 and 1 have 4 rows, batch 2 the last 2.
        long batch = NeuronInterop.Native.NativeOps.BatchIndex(BatchOrder.Shuffle, 0, long.MaxValue - 1, 3);
        Assert.That(_cost.SampleCount, Is.EqualTo(batch == 2 ? 2 : 4), $"the step trains batch {batch}");
    }

    [TestCase(BatchOrder.Shuffle)]
    [TestCase(BatchOrder.Sequential)]
    [TestCase(BatchOrder.Random)]
    public void StepsNearTheLastIndexCountTheirSamples(BatchOrder order)
    {
        // 19 rows in batches of 2: 10 batches, the last of 1 row. long.MaxValue mod 10 = 7, so the
        // steps from long.MaxValue - 5 lie in an epoch whose end is past long.MaxValue.
        using var trainer = new Trainer(_layer, _cost, _sgd, batchSize: 2);
        using Tensor x = Tensor.FromArray(TestDevice, Uniform(19, 3, 1));
        using Tensor t = Tensor.FromArray(TestDevice, Uniform(19, 2, 2));
        const long steps = 5, firstStep = long.MaxValue - steps;
        long expected = 0;
        for (long step = firstStep; step < firstStep + steps; step++)
            expected += NeuronInterop.Native.NativeOps.BatchIndex(order, 3, step, 10) == 9 ? 1 : 2;
        trainer.TrainSteps(x, t, steps, order, seed: 3, firstStep: firstStep);
        Assert.That(trainer.SamplesTrained, Is.EqualTo(expected));
        Assert.That(_cost.SampleCount, Is.EqualTo(expected), "the device's own count");
    }

    [Test]
    public void ATrainingCallFromTheTrainersOwnCallbackIsRefused()
    {
        // The nested call would train on the outer call's upload buffers, so that the outer call's
        // later batches trained on the nested call's rows.
        float[,] data = Uniform(12, 3, 1), target = Uniform(12, 2, 2);
        float[,] otherData = Uniform(8, 3, 3), otherTarget = Uniform(8, 2, 4);
        using Tensor x = Tensor.FromArray(TestDevice, otherData);
        using Tensor t = Tensor.FromArray(TestDevice, otherTarget);
        var nestedCalls = new Action<Trainer>[]
        {
            inner => inner.TrainFromHost(otherData, otherTarget),
            inner => inner.Train(x, t),
            inner => inner.TrainSteps(x, t, 3),
        };
        foreach (Action<Trainer> nested in nestedCalls)
        {
            bool nestedOnce = false;  // were the call taken, its own batches would call back again
            using var trainer = new Trainer(_layer, _cost, _sgd, batchSize: 4, onBatchFinish: inner =>
            {
                if (!nestedOnce)
                {
                    nestedOnce = true;
                    nested(inner);
                }
            });
            var e = Assert.Throws<InvalidOperationException>(() => trainer.TrainFromHost(data, target, shuffle: false));
            Assert.That(e!.Message, Does.Contain("already training"));
            Assert.That(trainer.BatchesTrained, Is.EqualTo(1), "the outer call's first batch, and nothing of the nested one");
        }
        using var macroTrainer = new Trainer(_layer, _cost, _sgd, batchSize: 4);
        Assert.Throws<InvalidOperationException>(() => macroTrainer.TrainFromHost(data, target, macroBatchSize: 4,
            onMacroBatchFinish: inner => inner.TrainSteps(x, t, 1)));
        Assert.Throws<InvalidOperationException>(() => macroTrainer.Train(x, t, onMacroBatchFinish: inner => inner.Train(x, t)));

        // A refused call leaves the trainer usable: it trains as a new one does from the same start.
        float[] start = Snapshot(_layer);
        macroTrainer.TrainFromHost(data, target, seed: 7);
        float[] trained = Snapshot(_layer);
        SetParameters(_layer, start.AsSpan(0, 6), start.AsSpan(6));
        using var fresh = new Trainer(_layer, _cost, _sgd, batchSize: 4);
        fresh.TrainFromHost(data, target, seed: 7);
        Assert.That(Snapshot(_layer), Is.EqualTo(trained));
    }

    [Test]
    public void ATrainerDisposedByItsCallbackStopsBeforeItsNextBatch()
    {
        float[,] data = Uniform(12, 3, 1), target = Uniform(12, 2, 2);
        using Tensor x = Tensor.FromArray(TestDevice, data);
        using Tensor t = Tensor.FromArray(TestDevice, target);
        long handles = Device.LiveHandleCount;
        var calls = new (string Name, Action<Trainer> Train)[]
        {
            ("TrainFromHost", trainer => trainer.TrainFromHost(data, target)),
            ("TrainFromHost, one macro-batch each", trainer => trainer.TrainFromHost(data, target, macroBatchSize: 4)),
            ("Train", trainer => trainer.Train(x, t)),
            ("TrainSteps", trainer => trainer.TrainSteps(x, t, 5)),
        };
        foreach (var (name, train) in calls)
        {
            var trainer = new Trainer(_layer, _cost, _sgd, batchSize: 4, onBatchFinish: self => self.Dispose());
            var e = Assert.Throws<ObjectDisposedException>(() => train(trainer), name);
            Assert.That(e!.ObjectName, Is.EqualTo("Trainer"), name);
            Assert.That(trainer.BatchesTrained, Is.EqualTo(1), name);
            Assert.That(Device.LiveHandleCount, Is.EqualTo(handles), $"{name}: the upload buffers released");
        }
    }

    [Test]
    public void HandlersRejectBatchSizesBelowOne()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new Trainer(_layer, _cost, _sgd, batchSize: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Trainer(_layer, _cost, _sgd, batchSize: -3));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Validator(_layer, _cost, batchSize: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Calculator(_layer, batchSize: 0));
    }

    [Test]
    public void ValidatorAndCalculatorRejectDataThatDoesNotFit()
    {
        var validator = new Validator(_layer, _cost);
        var calculator = new Calculator(_layer);
        ShapeRefused(() => validator.ValidateFromHost(Uniform(4, 3, 1), Uniform(4, 5, 1)), "target");
        Assert.Throws<ArgumentException>(() => validator.ValidateFromHost(new float[0, 3], new float[0, 2]));
        ShapeRefused(() => calculator.CalcFromHost(Uniform(4, 2, 1)), "data");
        Assert.That(() => new Validator(_layer, _cost, batchSize: 8).ValidateFromHost(Uniform(4, 3, 1), Uniform(4, 2, 2), macroBatchSize: 7),
            Throws.TypeOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("macroBatchSize"));
        Assert.That(() => new Calculator(_layer, batchSize: 8).CalcFromHost(Uniform(4, 3, 1), macroBatchSize: 7),
            Throws.TypeOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("macroBatchSize"));
        // On the device: a target with more rows than the data is not validated against its first rows.
        using Tensor x = Tensor.FromArray(TestDevice, Uniform(10, 3, 1));
        using Tensor longerTarget = Tensor.FromArray(TestDevice, Uniform(12, 2, 2));
        ShapeRefused(() => validator.Validate(x, longerTarget), "target");
        Assert.That(_cost.SampleCount, Is.Zero);
        AssertUnchanged();
    }

    [TestCase(float.NaN)]
    [TestCase(float.PositiveInfinity)]
    [TestCase(float.NegativeInfinity)]
    [TestCase(-0.1f)]
    [TestCase(-float.Epsilon)]
    public void SgdRejectsBadLearningRates(float learnRate)
    {
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd(learnRate))!.ParamName, Is.EqualTo("learnRate"));
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => _sgd.LearnRate = learnRate)!.ParamName, Is.EqualTo("value"));
        Assert.That(_sgd.LearnRate, Is.EqualTo(0.1f));
        Assert.Throws<InvalidOperationException>(() => new Sgd().Update(), "Update before SetupOn");
    }

    [Test]
    public void HandlersRejectACostOnAnotherDevice()
    {
        using Device elsewhere = Device.CreateOwned(BackendKind.Host);
        using var cost = new MseCost(elsewhere);
        using var named = new Linear(3, 2, name: "lin", device: TestDevice);
        var uses = new (string Handler, Action Create)[]
        {
            ("Trainer", () => new Trainer(named, cost, new Sgd()).Dispose()),
            ("Validator", () => _ = new Validator(named, cost)),
        };
        foreach ((string handler, Action create) in uses)
        {
            var e = Assert.Throws<ArgumentException>(create, handler);
            Assert.That(e!.ParamName, Is.EqualTo("cost"), handler);
            Assert.That(e.Message, Does.StartWith($"The cost is bound to another device (host) than the module Linear 'lin' ({TestDevice})"), handler);
        }
        Assert.That(cost.Device, Is.SameAs(elsewhere), "the cost stays bound where it was");
    }

    [Test]
    public void TrainerRejectsAnOptimizerOfAnotherModule()
    {
        using var other = new Linear(3, 2, device: TestDevice);
        var sgd = new Sgd();
        sgd.SetupOn(other);
        var e = Assert.Throws<ArgumentException>(() => new Trainer(_layer, _cost, sgd));
        Assert.That(e!.Message, Does.Contain("another module").And.Contain("SetupOn"), "says what is wrong with two unnamed Linears");

        _sgd.SetupOn(other);
        var late = Assert.Throws<InvalidOperationException>(() => _trainer.TrainFromHost(Uniform(8, 3, 1), Uniform(8, 2, 1)));
        Assert.That(late!.Message, Does.Contain("another module"));
        AssertUnchanged();
    }

    [Test]
    public void WhatACallbackDisposesIsNamedBeforeTheNextBatch()
    {
        float[,] data = Uniform(12, 3, 1), target = Uniform(12, 2, 2);
        var cases = new (string Disposed, Action<Linear, MseCost> Dispose)[]
        {
            ("Linear 'lin'", (layer, _) => layer.Dispose()),
            ("MseCost", (_, cost) => cost.Dispose()),
            ("parameter 'W'", (layer, _) => layer.W.Dispose()),
        };
        foreach (var (disposed, dispose) in cases)
        {
            using var layer = new Linear(3, 2, seed: 5, device: TestDevice, name: "lin");
            using var cost = new MseCost(TestDevice);
            using var trainer = new Trainer(layer, cost, new Sgd(0.1f), batchSize: 4, onBatchFinish: _ => dispose(layer, cost));

            var e = Assert.Throws<ObjectDisposedException>(() => trainer.TrainFromHost(data, target), disposed);

            Assert.That(e!.ObjectName, Is.EqualTo(disposed));
            Assert.That(trainer.BatchesTrained, Is.EqualTo(1), disposed);
        }
    }

    [Test]
    public void AnOptimizerSetUpOnAnotherModuleByACallbackStopsTheNextBatch()
    {
        float[,] data = Uniform(12, 3, 1), target = Uniform(12, 2, 2);
        using var other = new Linear(3, 2, seed: 6, device: TestDevice);
        var sgd = new Sgd(0.1f);
        using var trainer = new Trainer(_layer, _cost, sgd, batchSize: 4, onBatchFinish: _ => sgd.SetupOn(other));
        float[] otherBefore = Snapshot(other);

        var e = Assert.Throws<InvalidOperationException>(() => trainer.TrainFromHost(data, target));

        Assert.That(e!.Message, Does.Contain("another module"));
        Assert.That(trainer.BatchesTrained, Is.EqualTo(1));
        Assert.That(Snapshot(other), Is.EqualTo(otherBefore), "the other module is not trained");
    }

    [Test]
    public void DisposedObjectsAreReported()
    {
        float[,] data = Uniform(8, 3, 1), target = Uniform(8, 2, 2);
        Tensor input = Tensor.FromArray(TestDevice, data);
        input.Dispose();
        var e = Assert.Throws<ObjectDisposedException>(() => _layer.Forward(input));
        Assert.That(e!.ObjectName, Is.EqualTo($"Tensor[8x3] on {TestDevice}"), "the tensor's shape and device");

        using (Tensor live = Tensor.FromArray(TestDevice, data))
        {
            Tensor view = live.SliceRows(0, 4);
            _layer.Forward(view);
            view.Dispose();
            using Tensor grad = new(TestDevice, 4, 2);
            var gone = Assert.Throws<ObjectDisposedException>(() => _layer.Backward(grad), "the remembered input is gone");
            Assert.That(gone!.Message, Does.Contain("the input of the last Forward call has been disposed"));
        }

        using (Tensor prediction = Tensor.FromArray(TestDevice, target), goal = Tensor.FromArray(TestDevice, target))
        {
            DeviceScalar error = _cost.Evaluate(prediction, goal);
            _cost.Dispose();
            var scalar = Assert.Throws<ObjectDisposedException>(() => _ = error.Value);
            Assert.That(scalar!.ObjectName, Is.EqualTo("MseCost"), "a value read after its cost is gone");
        }
        Assert.Throws<ObjectDisposedException>(() => _trainer.TrainFromHost(data, target));
        var cost = Assert.Throws<ObjectDisposedException>(() => _ = _cost.MeanError);
        Assert.That(cost!.ObjectName, Is.EqualTo("MseCost"), "the class's own name, as Linear's");
        Assert.Throws<ObjectDisposedException>(() => new Trainer(_layer, _cost, _sgd));
        AssertUnchanged();

        _trainer.Dispose();
        Assert.Throws<ObjectDisposedException>(() => _trainer.TrainFromHost(data, target));

        _layer.Dispose();
        using Tensor x = new(TestDevice, 2, 3);
        Assert.Throws<ObjectDisposedException>(() => _layer.Forward(x));
        Assert.Throws<ObjectDisposedException>(() => _sgd.Update());
        var calculator = Assert.Throws<ObjectDisposedException>(() => new Calculator(_layer));
        Assert.That(calculator!.ObjectName, Is.EqualTo("Linear"), "the module as it describes itself, not its type's full name");
        Assert.Throws<ObjectDisposedException>(() => _sgd.SetupOn(_layer));
    }

    [TestCase(float.NaN, true, 2, 1)]
    [TestCase(float.PositiveInfinity, true, 0, 0)]
    [TestCase(float.NegativeInfinity, false, 17, 1)]
    [TestCase(float.NaN, false, 9, 0)]
    public void TrainingAndValidationRejectNonFiniteHostData(float bad, bool inData, int row, int column)
    {
        // 18 rows: more than one vector of floats whatever the hardware, and a tail.
        float[,] data = Uniform(18, 3, 1), target = Uniform(18, 2, 2);
        (inData ? data : target)[row, column] = bad;
        string where = $"at row {row}, column {column}";
        var e = Assert.Throws<ArgumentException>(() => _trainer.TrainFromHost(data, target));
        Assert.That(e!.Message, Does.Contain(where).And.Contain(inData ? "data" : "target"));
        using var validationCost = new MseCost(TestDevice);
        var v = Assert.Throws<ArgumentException>(() => new Validator(_layer, validationCost).ValidateFromHost(data, target));
        Assert.That(v!.Message, Does.Contain(where).And.Contain("finite numbers only"));
        AssertUnchanged();
        float[,] output = new Calculator(_layer).CalcFromHost(data);
        bool rowFinite = Enumerable.Range(0, output.GetLength(1)).All(c => float.IsFinite(output[row, c]));
        Assert.That(rowFinite, Is.EqualTo(!inData), "inference takes the value and passes it through to its row's outputs");
    }

    [Test]
    public void TrainingWithADisposedParameterNamesIt()
    {
        float[,] data = Uniform(8, 3, 1), target = Uniform(8, 2, 2);
        using Tensor x = Tensor.FromArray(TestDevice, data);
        using Tensor t = Tensor.FromArray(TestDevice, target);
        float[] bias = _layer.B!.ToArray();
        _layer.W.Dispose();
        foreach (Action train in new Action[]
                 {
                     () => _trainer.TrainFromHost(data, target), () => _trainer.Train(x, t), () => _trainer.TrainSteps(x, t, 3),
                 })
        {
            var e = Assert.Throws<ObjectDisposedException>(train);
            Assert.That(e!.Message, Does.Contain("parameter 'W'"));
        }
        Assert.That(_layer.B.ToArray(), Is.EqualTo(bias), "b trained without W");
        Assert.That(_trainer.BatchesTrained, Is.Zero);
    }

    [Test]
    public void AnUpdateWithADisposedGradientChangesNoParameter()
    {
        // W comes first: before every parameter was checked up front, W was updated and b then failed.
        using Tensor x = Tensor.FromArray(TestDevice, Uniform(4, 3, 1));
        using Tensor t = Tensor.FromArray(TestDevice, Uniform(4, 2, 2));
        var (_, grad) = _cost.Compute(_layer.Forward(x), t);
        _layer.Backward(grad, updGrad: false);
        Parameter bias = _layer.Parameters.Last();
        float[] weightGrad = _layer.Parameters.First().Grad.ToArray();
        Assert.That(weightGrad, Has.Some.Not.Zero, "a gradient the update would apply");

        bias.Grad.Dispose();
        var e = Assert.Throws<ObjectDisposedException>(() => _sgd.Update());
        Assert.That(e!.Message, Does.Contain("gradient of parameter 'b'"));
        AssertUnchanged();
        Assert.Throws<ObjectDisposedException>(() => _layer.ZeroGradParams());
        Assert.That(_layer.Parameters.First().Grad.ToArray(), Is.EqualTo(weightGrad), "W's gradient not zeroed");
    }

    [Test]
    public void DisposingATensorTheModuleOrCostOwnsIsHarmless()
    {
        // `using var y = layer.Forward(x)` disposes the module's own output buffer: the next call allocates another.
        using Tensor x = Tensor.FromArray(TestDevice, Uniform(4, 3, 1));
        using Tensor t = Tensor.FromArray(TestDevice, Uniform(4, 2, 2));
        float[] expected = _layer.Forward(x).ToArray();
        var (_, expectedGrad) = _cost.Compute(_layer.Forward(x), t);
        float[] expectedGradValues = expectedGrad.ToArray();
        float[] expectedInputGrad = _layer.Backward(expectedGrad)!.ToArray();

        for (int round = 0; round < 2; round++)
        {
            Tensor output = _layer.Forward(x);
            Assert.That(output.ToArray(), Is.EqualTo(expected), $"forward, round {round}");
            var (_, grad) = _cost.Compute(output, t);
            Assert.That(grad.ToArray(), Is.EqualTo(expectedGradValues), $"cost gradient, round {round}");
            Tensor inputGrad = _layer.Backward(grad)!;
            Assert.That(inputGrad.ToArray(), Is.EqualTo(expectedInputGrad), $"input gradient, round {round}");
            inputGrad.Dispose();
            grad.Dispose();
            output.Dispose();
        }
        AssertUnchanged();
    }

    [Test]
    public void TensorsFromAnotherDeviceAreRejected()
    {
        // On CUDA the host is the other device; on the host a second host context is one.
        using Device? owned = TestDevice.Backend == BackendKind.Cuda ? null : Device.CreateOwned(BackendKind.Host);
        Device other = owned ?? Device.Host;
        using Tensor foreign = new(other, 4, 3);
        using Tensor foreignTarget = new(other, 4, 2);
        var e = Assert.Throws<ArgumentException>(() => _layer.Forward(foreign));
        Assert.That(e!.Message, Does.Contain("lives on"));
        Assert.Throws<ArgumentException>(() => _trainer.Train(foreign, foreignTarget));
        Assert.Throws<ArgumentException>(() => _trainer.TrainSteps(foreign, foreignTarget, 3));
        Assert.Throws<ArgumentException>(() => new Calculator(_layer).Calc(foreign));

        using var foreignCost = new MseCost(other);
        Assert.Throws<ArgumentException>(() => new Trainer(_layer, foreignCost, new Sgd()));
        Assert.Throws<ArgumentException>(() => new Validator(_layer, foreignCost));
        using Tensor prediction = new(TestDevice, 4, 2);
        Assert.Throws<ArgumentException>(() => _cost.Compute(prediction, foreignTarget));
        AssertUnchanged();
    }
}
