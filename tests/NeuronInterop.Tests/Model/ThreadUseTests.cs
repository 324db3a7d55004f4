using Microsoft.Extensions.Logging;
using NeuronInterop.Cost;
using NeuronInterop.Handlers;
using NeuronInterop.Modules;
using NeuronInterop.Optimizers;
using NeuronInterop.Reference;
using NeuronInterop.Tests.Infrastructure;
using NUnit.Framework;
using static NeuronInterop.Tests.Model.ModelData;

namespace NeuronInterop.Tests.Model;

/// <summary>
/// A module or cost belongs to one thread at a time: a call from a second thread while one uses it
/// is refused, never mixed into the first thread's results; its own thread may use it again from a
/// callback, and any thread may take it once it is free.
/// </summary>
[TestFixtureSource(typeof(TestBackends), nameof(TestBackends.Names))]
public sealed class ThreadUseTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private readonly string _backend;
    private Device TestDevice => TestBackends.Get(_backend);

    public ThreadUseTests(string backend) => _backend = backend;

    [SetUp]
    public void SetUp() => TestBackends.Get(_backend);

    [Test]
    public void AModuleTrainingOnOneThreadRefusesEveryUseFromAnother()
    {
        (float[,] data, float[,] target) = LinearProblem(24, 3, 2, 1);
        using var inside = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        using var layer = new Linear(3, 2, seed: 17, device: TestDevice);
        using var cost = new MseCost(TestDevice);
        var sgd = new Sgd(0.05f);
        // The trainer's per-batch trace stops it inside its first batch, holding the module and the cost
        // (the generic path traces every batch).
        using var trainer = new Trainer(layer, cost, sgd, batchSize: 4, logger: new BlockingLogger(inside, release, Patience))
        {
            UseFusedSteps = false,
        };
        Task training = Task.Run(() => trainer.TrainFromHost(data, target, shuffle: false));
        Assert.That(inside.Wait(Patience), "the training call reached its first batch");
        try
        {
            using Tensor x = Tensor.FromArray(TestDevice, data);
            using Tensor t = Tensor.FromArray(TestDevice, target);
            using var otherCost = new MseCost(TestDevice);
            using var otherTrainer = new Trainer(layer, otherCost, new Sgd(0.05f), batchSize: 4);
            var uses = new (string What, Action Use)[]
            {
                ("Forward", () => layer.Forward(x)),
                ("EvalMode", () => layer.EvalMode()),
                ("ZeroGradParams", () => layer.ZeroGradParams()),
                ("Save", () => layer.Save(new MemoryStream())),
                ("Load", () => layer.Load(new MemoryStream())),
                ("Sgd.Update", () => sgd.Update()),
                ("Calculator", () => new Calculator(layer).CalcFromHost(data)),
                ("Validator", () => new Validator(layer, otherCost).Validate(x, t)),
                ("a second trainer", () => otherTrainer.TrainSteps(x, t, 1)),
                ("the cost", () => cost.Evaluate(t, t)),
                ("Dispose", () => layer.Dispose()),
                ("the cost's Dispose", () => cost.Dispose()),
            };
            foreach ((string what, Action use) in uses)
            {
                var e = Assert.Throws<InvalidOperationException>(() => use(), what);
                Assert.That(e!.Message, Does.Contain("is in use on another thread").And.Contain("one thread at a time"), what);
            }
            Assert.That(layer.IsTraining, "EvalMode was refused");
            var refused = Assert.Throws<InvalidOperationException>(() => trainer.Dispose(), "the trainer's Dispose");
            Assert.That(refused!.Message, Does.StartWith("This trainer is training on another thread"));
        }
        finally
        {
            release.Set();
            Assert.That(training.Wait(Patience), "the training call finished");
        }

        // The training ran as if alone, and the module is free again, for this thread too.
        using var alone = new Linear(3, 2, seed: 17, device: TestDevice);
        using var aloneCost = new MseCost(TestDevice);
        using var aloneTrainer = new Trainer(alone, aloneCost, new Sgd(0.05f), batchSize: 4) { UseFusedSteps = false };
        aloneTrainer.TrainFromHost(data, target, shuffle: false);
        Assert.That(trainer.BatchesTrained, Is.EqualTo(6));
        Assert.That(layer.W.ToArray(), Is.EqualTo(alone.W.ToArray()));
        Assert.That(layer.B!.ToArray(), Is.EqualTo(alone.B!.ToArray()));
        Assert.DoesNotThrow(() => new Calculator(layer).CalcFromHost(data));
        trainer.Dispose();
        Assert.Throws<ObjectDisposedException>(() => trainer.TrainFromHost(data, target), "disposed once the call returned");
    }

    /// <summary>
    /// A dispose that lands between a call's own disposed check and its taking the object closes the guard: the call
    /// then meets an ObjectDisposedException when it takes the object, and touches nothing of it.
    /// </summary>
    [Test]
    public void AClosedGuardRefusesEveryLaterUseAsDisposed()
    {
        var guard = new SingleThreadGuard(() => "the object", "its state");
        using (guard.Enter())
        {
            guard.Close();
            Assert.Throws<ObjectDisposedException>(() => guard.Enter(), "a nested use after the close");
        }
        var e = Assert.Throws<ObjectDisposedException>(() => guard.Enter());
        Assert.That(e!.ObjectName, Is.EqualTo("the object"));
        Assert.That(() => Task.Run(() => guard.Enter()).Wait(Patience),
            Throws.InstanceOf<AggregateException>().With.InnerException.InstanceOf<ObjectDisposedException>(),
            "refused as disposed on another thread too, not as in use: the refusals hold nothing");
    }

    [Test]
    public void CallbacksOnTheTrainingThreadMayUseTheModuleAndCost()
    {
        (float[,] data, float[,] target) = LinearProblem(16, 2, 1, 2);
        double? validated = null;
        float[,]? calculated = null;
        float[] parameters = [];
        using Tensor x = Tensor.FromArray(TestDevice, data);
        using Tensor t = Tensor.FromArray(TestDevice, target);
        using var s = new TrainingSetup(TestDevice, 2, 1, batchSize: 4, lr: 0.05f);
        s.Trainer.TrainFromHost(data, target, macroBatchSize: 8, shuffle: false, onMacroBatchFinish: trainer =>
        {
            if (validated is not null) return;
            parameters = Snapshot(s.Layer);
            validated = new Validator(trainer.Module, trainer.Cost).Validate(x, t);
            calculated = new Calculator(trainer.Module).CalcFromHost(data);
        });
        // What the layer computed after the first macro-batch, by the reference.
        AssertOutputAndError(data, target, parameters, 2, 1, calculated!, validated!.Value, "after the first macro-batch");
        Assert.That(s.Trainer.BatchesTrained, Is.EqualTo(4));
    }

    [Test]
    public void ACallbackMayHaveAnotherThreadUseTheModuleWhileItWaits()
    {
        (float[,] data, float[,] target) = LinearProblem(16, 2, 1, 5);
        var seen = new List<(float[] Parameters, float[,] Output, double Error)>();
        Linear? layer = null;
        using var s = new TrainingSetup(TestDevice, 2, 1, batchSize: 4, lr: 0.05f, onBatchFinish: trainer =>
        {
            // As a UI's Dispatcher.Invoke does: the work runs on another thread while this one waits.
            float[,] output = Task.Run(() => new Calculator(trainer.Module).CalcFromHost(data)).GetAwaiter().GetResult();
            double error = Task.Run(() => new Validator(trainer.Module, trainer.Cost).ValidateFromHost(data, target)).Result;
            seen.Add((Snapshot(layer!), output, error));
        });
        layer = s.Layer;
        s.Trainer.UseFusedSteps = false;  // the generic path: Forward, Backward and Update are checked every step
        s.Trainer.TrainFromHost(data, target, shuffle: false, onMacroBatchFinish: trainer => Task.Run(() =>
        {
            using Tensor x = Tensor.FromArray(TestDevice, data);
            trainer.Module.Forward(x);
        }).Wait());

        using var alone = new TrainingSetup(TestDevice, 2, 1, batchSize: 4, lr: 0.05f);
        alone.Trainer.TrainFromHost(data, target, shuffle: false);
        Assert.That(seen, Has.Count.EqualTo(4));
        for (int batch = 0; batch < seen.Count; batch++)
            AssertOutputAndError(data, target, seen[batch].Parameters, 2, 1, seen[batch].Output, seen[batch].Error, $"after batch {batch}");
        Assert.That(s.Layer.W.ToArray(), Is.EqualTo(alone.Layer.W.ToArray()), "the callbacks changed nothing");
        Assert.That(s.Layer.B!.ToArray(), Is.EqualTo(alone.Layer.B!.ToArray()), "the callbacks changed nothing");
    }

    [Test]
    public void TrainingStopsWhenAThreadACallbackStartedStillUsesTheModule()
    {
        (float[,] data, float[,] target) = LinearProblem(16, 2, 1, 6);
        using var inside = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        Task? calculating = null;
        using var s = new TrainingSetup(TestDevice, 2, 1, batchSize: 4, lr: 0.05f, onBatchFinish: trainer =>
        {
            var blocking = new BlockingLogger(inside, release, Patience);
            calculating ??= Task.Run(() => new Calculator(trainer.Module, batchSize: 4, logger: blocking).CalcFromHost(data));
            Assert.That(inside.Wait(Patience), "the calculator reached its first batch");
        });
        try
        {
            var e = Assert.Throws<InvalidOperationException>(() => s.Trainer.TrainFromHost(data, target, shuffle: false));
            Assert.That(e!.Message, Does.Contain("Linear").And.Contain("in use on another thread"));
            Assert.That(s.Trainer.BatchesTrained, Is.EqualTo(1), "training stopped after the callback");
            // The refused trainer let go of nothing it did not hold: the calculator's thread still has the module.
            using Tensor probe = Tensor.FromArray(TestDevice, data);
            Assert.Throws<InvalidOperationException>(() => s.Layer.Forward(probe), "the module is still the calculator's");
        }
        finally
        {
            release.Set();
            Assert.That(calculating!.Wait(Patience), "the calculator finished");
        }
        Assert.DoesNotThrow(() => new Calculator(s.Layer).CalcFromHost(data), "the module is free again");
    }

    [Test]
    public void ACallbacksOwnExceptionIsWhatTheCallerHears()
    {
        (float[,] data, float[,] target) = LinearProblem(16, 2, 1, 7);
        using var inside = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        Task? calculating = null;
        using var s = new TrainingSetup(TestDevice, 2, 1, batchSize: 4, lr: 0.05f);
        try
        {
            // The callback cancels while a thread it started still holds the module: the caller hears the
            // cancellation, not that the module was still in use.
            Assert.Throws<OperationCanceledException>(() => s.Trainer.TrainFromHost(data, target, onMacroBatchFinish: trainer =>
            {
                var blocking = new BlockingLogger(inside, release, Patience);
                calculating = Task.Run(() => new Calculator(trainer.Module, batchSize: 4, logger: blocking).CalcFromHost(data));
                Assert.That(inside.Wait(Patience), "the calculator reached its first batch");
                throw new OperationCanceledException();
            }));
        }
        finally
        {
            release.Set();
            Assert.That(calculating!.Wait(Patience), "the calculator finished");
        }
        Assert.DoesNotThrow(() => s.Trainer.TrainFromHost(data, target), "the trainer, module and cost are free again");
    }

    [Test]
    public void AModuleIsFreeForAnotherThreadOnceACallReturnsOrFails()
    {
        (float[,] data, float[,] target) = LinearProblem(8, 2, 1, 3);
        using var s = new TrainingSetup(TestDevice, 2, 1, batchSize: 4, lr: 0.05f);
        Assert.That(Task.Run(() => s.Trainer.TrainFromHost(data, target)).Wait(Patience), "the call on another thread finished");
        Assert.DoesNotThrow(() => s.Trainer.TrainFromHost(data, target), "after a call on another thread");

        // A call that fails inside (a callback throws) lets the module go as well.
        var failing = Task.Run(() => s.Trainer.TrainFromHost(data, target, onMacroBatchFinish: _ => throw new TimeoutException()));
        Assert.That(() => failing.Wait(Patience), Throws.InstanceOf<AggregateException>().With.InnerException.TypeOf<TimeoutException>());
        Assert.DoesNotThrow(() => s.Trainer.TrainFromHost(data, target), "after a failed call on another thread");
        Assert.That(Task.Run(() => new Calculator(s.Layer).CalcFromHost(data)).Wait(Patience), "a calculator on another thread finished");
    }

    [Test]
    public void ATrainerRefusedItsCostHoldsNeitherItsModuleNorItself()
    {
        (float[,] data, float[,] target) = LinearProblem(12, 2, 1, 4);
        using Tensor x = Tensor.FromArray(TestDevice, data);
        using Tensor t = Tensor.FromArray(TestDevice, target);
        using var inside = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        using var validated = new Linear(2, 1, device: TestDevice);
        using var trained = new Linear(2, 1, device: TestDevice);
        using var cost = new MseCost(TestDevice);
        var validator = new Validator(validated, cost, batchSize: 4, logger: new BlockingLogger(inside, release, Patience));
        Task validating = Task.Run(() => validator.Validate(x, t));
        Assert.That(inside.Wait(Patience), "the validator reached its first batch");
        using var trainer = new Trainer(trained, cost, new Sgd(0.05f), batchSize: 4);
        try
        {
            var e = Assert.Throws<InvalidOperationException>(() => trainer.TrainFromHost(data, target));
            Assert.That(e!.Message, Does.StartWith("MseCost is in use on another thread"));
            // The trainer took its module before the cost was refused, and let it go.
            Assert.DoesNotThrow(() => Task.Run(() => trained.Forward(x)).Wait(Patience), "the trained module is free");
            Assert.Throws<InvalidOperationException>(() => validated.Forward(x), "the validated module is not");
        }
        finally
        {
            release.Set();
            Assert.That(validating.Wait(Patience), "the validator finished");
        }
        Assert.DoesNotThrow(() => trainer.TrainFromHost(data, target), "neither 'already training' nor anything held");
        Assert.That(trainer.BatchesTrained, Is.EqualTo(3));
    }

    [Test]
    public void CalculatorsSharedByManyThreadsGiveRightAnswersOrRefuse()
    {
        using var layer = new Linear(8, 4, seed: 3, device: TestDevice);
        var calculator = new Calculator(layer, batchSize: 100);
        var inputs = Enumerable.Range(0, 7).Select(i => Uniform(1000 - 137 * i, 8, 10 + i)).ToArray();
        float[][,] expected = inputs.Select(input => calculator.CalcFromHost(input)).ToArray();
        double[] w = ToDouble(layer.W.ToArray()), b = ToDouble(layer.B!.ToArray());
        for (int i = 0; i < inputs.Length; i++)
        {
            int rows = inputs[i].GetLength(0);
            Tolerance.AssertClose(Flat(expected[i]), ReferenceLinear.Forward(ToDouble(inputs[i]), w, b, rows, 8, 4),
                TrainingSetup.Atol, TrainingSetup.Rtol, $"input {i}, on one thread");
        }
        int right = 0, refused = 0;
        Parallel.For(0, 120, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
        {
            try
            {
                float[,] result = calculator.CalcFromHost(inputs[i % 7]);
                Assert.That(result, Is.EqualTo(expected[i % 7]), $"call {i}");
                Interlocked.Increment(ref right);
            }
            catch (InvalidOperationException e) when (e.Message.Contains("in use on another thread"))
            {
                Interlocked.Increment(ref refused);
            }
        });
        Assert.That(right + refused, Is.EqualTo(120));
        Assert.That(right, Is.GreaterThan(0));
    }

    [Test]
    public void ThreadsSharingADeviceTrainTheirOwnModulesAsEachWouldAlone()
    {
        // Four threads make small calls on one device at once, so some calls find its lock free and
        // others wait for it: each thread's module ends with the bits it has when trained alone. A
        // device that let two calls run at once would mix the fused steps' buffers, which the host
        // backend keeps per device (caught with the context's lock taken nowhere: 5 runs of 5).
        float[,] data = Uniform(64, 3, 5);
        float[] Train(int thread, Barrier? start)
        {
            using var layer = new Linear(3, 2, seed: (ulong)thread, device: TestDevice);
            using var cost = new MseCost(TestDevice);
            var sgd = new Sgd(0.05f);
            sgd.SetupOn(layer);
            using var x = Tensor.FromArray(TestDevice, data);
            using var t = Tensor.FromArray(TestDevice, Uniform(64, 2, 6 + thread));
            using var trainer = new Trainer(layer, cost, sgd, batchSize: 4);
            start?.SignalAndWait(Patience);
            for (int epoch = 0; epoch < 200; epoch++)
            {
                var (_, grad) = cost.Compute(layer.Forward(x), t);   // the module API: a call each
                layer.Backward(grad, updGrad: false);
                sgd.Update();
                trainer.Train(x, t, seed: (ulong)epoch);             // 16 fused steps in one call
            }
            return [.. layer.W.ToArray(), .. layer.B!.ToArray()];
        }

        float[][] alone = Enumerable.Range(0, 4).Select(i => Train(i, null)).ToArray();
        var together = new float[4][];
        using var start = new Barrier(4);
        Thread[] threads = Enumerable.Range(0, 4).Select(i => new Thread(() => together[i] = Train(i, start))).ToArray();
        foreach (Thread thread in threads)
        {
            thread.Start();
        }
        Assert.That(threads.All(thread => thread.Join(Patience)), "the threads finished");

        for (int i = 0; i < 4; i++)
        {
            Assert.That(together[i], Is.EqualTo(alone[i]), $"thread {i}");
        }
        Assert.That(alone.Distinct(new ArrayComparer()).Count(), Is.EqualTo(4), "four different results");
    }

    private sealed class ArrayComparer : IEqualityComparer<float[]>
    {
        public bool Equals(float[]? a, float[]? b) => a!.AsSpan().SequenceEqual(b);

        public int GetHashCode(float[] a) => a.Length;
    }

    /// <summary>Blocks the first Trace message (a handler's first batch) until released.</summary>
    private sealed class BlockingLogger(ManualResetEventSlim inside, ManualResetEventSlim release, TimeSpan patience) : ILogger
    {
        private int _blocked;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception,
            Func<TState, Exception?, string> formatter)
        {
            if (logLevel == LogLevel.Trace && Interlocked.Exchange(ref _blocked, 1) == 0)
            {
                inside.Set();
                release.Wait(patience);
            }
        }
    }

    /// <summary>Asserts that an output and an error are the reference's for a layer with <paramref name="parameters"/> (W, then b).</summary>
    private static void AssertOutputAndError(float[,] data, float[,] target, float[] parameters, int inSize, int outSize,
        float[,] output, double error, string when)
    {
        double[] p = ToDouble(parameters);
        int rows = data.GetLength(0);
        double[] expected = ReferenceLinear.Forward(ToDouble(data), p.AsSpan(0, inSize * outSize), p.AsSpan(inSize * outSize), rows, inSize, outSize);
        Tolerance.AssertClose(Flat(output), expected, TrainingSetup.Atol, TrainingSetup.Rtol, $"the output {when}");
        Assert.That(error, Is.EqualTo(ReferenceMse.Error(expected, ToDouble(target))).Within(1e-5), $"the error {when}");
    }
}
