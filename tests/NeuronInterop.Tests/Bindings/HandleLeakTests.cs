using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using NeuronInterop.Cost;
using NeuronInterop.Handlers;
using NeuronInterop.Modules;
using NeuronInterop.Native;
using NeuronInterop.Optimizers;
using NeuronInterop.Tests.Infrastructure;
using NUnit.Framework;

namespace NeuronInterop.Tests.Bindings;

/// <summary>Creating and releasing tensors, views and devices returns the native live-handle count to where it was.</summary>
[TestFixtureSource(typeof(TestBackends), nameof(TestBackends.Names))]
[NonParallelizable]
public sealed partial class HandleLeakTests(string backend)
{
    /// <summary>The shared device under test (not owned by the fixture, so not disposed by it).</summary>
    private Device Device => TestBackends.Get(backend);

    [SetUp]
    public void SkipAbsentBackends() => _ = TestBackends.Get(backend);

    /// <summary>A Linear whose constructor fails after allocating (here its logger throws) releases what it allocated at once.</summary>
    [Test]
    public void ALinearWhoseConstructorFailsLeavesNoHandle()
    {
        long before = SettledHandleCount();
        var e = Assert.Throws<InvalidOperationException>(() => new Linear(3, 2, device: Device, logger: new ThrowingLogger()));
        Assert.That(e!.Message, Is.EqualTo("the log sink failed"));
        Assert.That(Device.LiveHandleCount, Is.EqualTo(before), "W, dW, b and db disposed, not left to the finalizer");
    }

    private sealed class ThrowingLogger : Microsoft.Extensions.Logging.ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId,
            TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            throw new InvalidOperationException("the log sink failed");
    }

    [Test]
    public void DisposingTensorsAndViewsReleasesEveryHandle()
    {
        long before = SettledHandleCount();
        for (int i = 0; i < 500; i++)
        {
            using var tensor = new Tensor(Device, 1 + i % 7, 3);
            using var view = tensor.SliceRows(0, 1);
            using var inner = view.SliceRows(0, 1);
            using var copy = Tensor.FromArray(Device, [1f, 2f, 3f], 1, 3);
            inner.CopyFrom(copy);
        }

        Assert.That(Device.LiveHandleCount, Is.EqualTo(before));
    }

    [Test]
    public void HandlesCountWhileTheyLive()
    {
        long before = SettledHandleCount();
        var tensor = new Tensor(Device, 4);
        var view = tensor.SliceRows(1, 2);
        long during = Device.LiveHandleCount;
        view.Dispose();
        tensor.Dispose();

        Assert.That(during, Is.GreaterThanOrEqualTo(before + 2));
        Assert.That(Device.LiveHandleCount, Is.EqualTo(before));
    }

    [Test]
    public void FailedCallsLeakNothing()
    {
        long before = SettledHandleCount();
        for (int i = 0; i < 50; i++)
        {
            using var tensor = new Tensor(Device, 4, 3);
            Assert.Throws(Is.InstanceOf<ArgumentException>(), () => tensor.SliceRows(3, 5));
            Assert.Throws(Is.InstanceOf<ArgumentException>(), () => Tensor.FromArray(Device, new float[5], 2, 3));
        }

        Assert.That(Device.LiveHandleCount, Is.EqualTo(before));
    }

    [Test]
    public void UndisposedTensorsAreReleasedByTheCollector()
    {
        long before = SettledHandleCount();
        CreateAndDrop(Device, 100);

        Assert.That(SettledHandleCount(), Is.EqualTo(before));
    }

    [Test]
    public void UndisposedTensorsAndDevicesAreReleasedOffTheFinalizerThread()
    {
        long before = SettledHandleCount();
        long released = FinalizedHandles.ReleasedCount;
        CreateAndDrop(Device, 10);
        CreateAndDropOwnedDevice();

        GC.Collect();
        GC.WaitForPendingFinalizers();
        Device.WaitForFinalizedReleases();
        Assert.That(FinalizedHandles.ReleasedCount - released, Is.GreaterThanOrEqualTo(23),
            "10 tensors, 10 views, a device and its tensor and view, released by the finalized-handles thread");
        Assert.That(SettledHandleCount(), Is.EqualTo(before));
    }

    [Test]
    public void AFinalizedTensorDoesNotWaitForALongCallOnItsDevice()
    {
        using var layer = new Linear(1, 1, device: Device);
        using var cost = new MseCost(Device);
        using var trainer = new Trainer(layer, cost, new Sgd(1e-6f), batchSize: 1);
        using var x = Tensor.FromArray(Device, [1f, 2f], 2, 1);
        using var t = Tensor.FromArray(Device, [3f, 5f], 2, 1);
        void Train(long steps)
        {
            trainer.TrainSteps(x, t, steps);
            Device.Synchronize();  // on CUDA the steps run after the call returns
        }

        // Steps for a call of about two seconds, far longer than collecting a few tensors: timed on warm
        // calls of at least 300 ms.
        Train(1000);
        long steps = 1000;
        TimeSpan taken;
        for (; ; steps *= 4)
        {
            var watch = Stopwatch.StartNew();
            Train(steps);
            taken = watch.Elapsed;
            if (taken >= TimeSpan.FromMilliseconds(300)) break;
        }
        steps = (long)(steps * (2000 / taken.TotalMilliseconds));

        // The order of events tells, not their times: finalizers that waited for the device would end after the call.
        for (int attempt = 1; ; attempt++, steps *= 4)
        {
            CreateAndDrop(Device, 10);
            using var started = new ManualResetEventSlim();
            Task training = Task.Run(() =>
            {
                started.Set();
                Train(steps);
            });
            started.Wait();
            Thread.Sleep(100);  // the call has taken the device
            bool runningBefore = !training.IsCompleted;
            GC.Collect();
            GC.WaitForPendingFinalizers();
            bool runningAfter = !training.IsCompleted;
            Assert.That(training.Wait(TimeSpan.FromMinutes(2)), "the long call finished");
            if (runningBefore)
            {
                Assert.That(runningAfter, Is.True, "the finalizers ran while the call held the device, without waiting for it");
                return;
            }
            if (attempt == 3)
            {
                Assert.Fail($"The call of {steps} steps ended before the collection began, three times.");
            }
        }
    }

    [Test]
    public void ATensorDisposedByAnotherThreadFailsItsNextCallCleanly()
    {
        // A call reads the handle without taking a reference on it (TensorLease): a dispose that lands between
        // the managed check and the native call reaches the native registry, which refuses the stale handle.
        long before = SettledHandleCount();
        for (int round = 0; round < 1000; round++)
        {
            var tensor = new Tensor(Device, 16);
            using var started = new ManualResetEventSlim();
            Exception? ended = null;
            Task user = Task.Run(() =>
            {
                started.Set();
                try
                {
                    for (; ; )
                    {
                        tensor.Fill(1f);
                    }
                }
                catch (Exception e)
                {
                    ended = e;
                }
            });
            started.Wait();
            Thread.SpinWait(round % 50 * 20);
            tensor.Dispose();
            Assert.That(user.Wait(TimeSpan.FromMinutes(2)), "the calls stopped");
            Assert.That(ended, Is.InstanceOf<ObjectDisposedException>(), $"round {round}");
        }

        Assert.That(SettledHandleCount(), Is.EqualTo(before));
    }

    [Test]
    public void ATensorDisposedDuringACallLivesUntilTheCallEnds()
    {
        // A long training call whose input is disposed on another thread while it runs trains exactly as an
        // undisturbed one: the native call holds the input's memory until it returns.
        long before = SettledHandleCount();
        float[] inputs = [1f, 2f, 3f, 4f], targets = [3f, 5f, 7f, 9f];
        // The trained parameters, and whether the input's dispose was issued while the call still ran.
        (float[] Parameters, bool DisposedDuring) Train(long steps, bool disposeDuring)
        {
            using var layer = new Linear(1, 1, seed: 3, device: Device);
            using var cost = new MseCost(Device);
            using var trainer = new Trainer(layer, cost, new Sgd(1e-4f), batchSize: 1);
            var x = Tensor.FromArray(Device, inputs, 4, 1);
            using var t = Tensor.FromArray(Device, targets, 4, 1);
            using var started = new ManualResetEventSlim();
            Task training = Task.Run(() =>
            {
                started.Set();
                trainer.TrainSteps(x, t, steps);
                Device.Synchronize();  // on CUDA the steps run after the call returns
            });
            bool disposedDuring = false;
            if (disposeDuring)
            {
                started.Wait();
                Thread.Sleep(50);
                // Read before the dispose, which waits for the native call the device is running.
                disposedDuring = !training.IsCompleted;
                x.Dispose();
            }
            Assert.That(training.Wait(TimeSpan.FromMinutes(2)), "the call finished");
            Assert.That(training.IsCompletedSuccessfully, () => $"the call failed: {training.Exception}");
            x.Dispose();
            return ([.. layer.W.ToArray(), .. layer.B!.ToArray()], disposedDuring);
        }

        // Enough steps for a call of at least 300 ms, well past the 50 ms before the dispose; more where the
        // call still ended before it (a machine faster than when it was timed).
        long steps = 10_000;
        for (; ; steps *= 4)
        {
            var watch = Stopwatch.StartNew();
            Train(steps, disposeDuring: false);
            if (watch.Elapsed >= TimeSpan.FromMilliseconds(300)) break;
        }
        for (int attempt = 1; ; attempt++, steps *= 4)
        {
            float[] undisturbed = Train(steps, disposeDuring: false).Parameters;
            (float[] disturbed, bool disposedDuring) = Train(steps, disposeDuring: true);
            if (disposedDuring)
            {
                Assert.That(disturbed, Is.EqualTo(undisturbed), "the same bits");
                break;
            }
            if (attempt == 3)
            {
                Assert.Fail($"The call of {steps} steps ended before the dispose, three times.");
            }
        }
        Assert.That(SettledHandleCount(), Is.EqualTo(before));
    }

    [Test]
    public void UndisposedTensorsAreCollectedAsTheirMemoryGrows()
    {
        // 400 MB of tensors that are never disposed, behind small managed objects: the collector hears of
        // their memory and collects them along the way.
        SettledHandleCount();
        // The collector starts a full collection for memory pressure only once the last one began five of its
        // durations ago, to spend at most a fifth of the time collecting. A GPU allocates the 400 MB in a few
        // milliseconds, all of it inside that window after SettledHandleCount's collections: wait it out.
        Thread.Sleep(GC.GetGCMemoryInfo(GCKind.FullBlocking).PauseDurations[0] * 10 + TimeSpan.FromMilliseconds(10));
        int collections = GC.CollectionCount(0);
        long peak = 0;
        for (int i = 0; i < 50; i++)
        {
            CreateAndDropBig(Device, 2 * 1024 * 1024);  // 8 MB
            peak = Math.Max(peak, Device.LiveHandleCount);
        }
        Assert.That(GC.CollectionCount(0) - collections, Is.GreaterThan(0), "collections while the tensors piled up");
        Assert.That(peak, Is.LessThan(SettledHandleCount() + 50), "not every tensor was still alive at the end");
    }

    [Test]
    public void AnAllocationThatFailsRetriesOnceUndisposedTensorsAreCollected()
    {
        if (Device.Backend != BackendKind.Cuda || !Device.GetCudaDeviceInfo(Device.Index).Name.StartsWith("CUDA emulator"))
        {
            Assert.Ignore("Staging a full device needs the CUDA emulator (NEURON_CUDA_EMULATOR_MEMORY).");
        }
        SettledHandleCount();
        // A device of 256 MB (the emulator reads the variable at every allocation), filled with 48 MB tensors
        // that are dropped undisposed: without a collection, the sixth would not fit.
        Assert.That(SetEnvironment("NEURON_CUDA_EMULATOR_MEMORY", (256L << 20).ToString()), Is.Zero);
        try
        {
            for (int i = 0; i < 12; i++)
            {
                Assert.DoesNotThrow(() => CreateAndDropBig(Device, 12 * 1024 * 1024), $"tensor {i}");
            }
            Assert.Throws<NeuronOutOfMemoryException>(() => new Tensor(Device, 300L << 18), "300 MB never fits");
        }
        finally
        {
            UnsetEnvironment("NEURON_CUDA_EMULATOR_MEMORY");
        }
    }

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnvironment(string name, string value, int overwrite = 1);

    [LibraryImport("libc", EntryPoint = "unsetenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int UnsetEnvironment(string name);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void CreateAndDropBig(Device device, long elements) => _ = new Tensor(device, elements);

    [Test]
    public void AnOwnedDeviceDisposedBeforeItsTensorsLeaksNothing()
    {
        long before = SettledHandleCount();
        var device = Device.CreateOwned(BackendKind.Host);
        var tensor = new Tensor(device, 10);
        var view = tensor.SliceRows(2, 3);
        device.Dispose();
        tensor.Dispose();
        view.Dispose();

        Assert.That(Device.LiveHandleCount, Is.EqualTo(before));
    }

    private static long SettledHandleCount()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return Device.LiveHandleCount;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void CreateAndDropOwnedDevice()
    {
        var device = Device.CreateOwned(BackendKind.Host);
        _ = new Tensor(device, 3, 2).SliceRows(1, 1);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void CreateAndDrop(Device device, int count)
    {
        for (int i = 0; i < count; i++)
        {
            var tensor = new Tensor(device, 8, 8);
            _ = tensor.SliceRows(1, 2);
        }
    }
}
