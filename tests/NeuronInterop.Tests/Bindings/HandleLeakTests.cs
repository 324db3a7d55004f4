using System.Runtime.CompilerServices;
using NeuronInterop.Tests.Infrastructure;
using NUnit.Framework;

namespace NeuronInterop.Tests.Bindings;

/// <summary>Creating and releasing tensors, views and devices returns the native live-handle count to where it was.</summary>
[TestFixtureSource(typeof(TestBackends), nameof(TestBackends.Names))]
[NonParallelizable]
public sealed class HandleLeakTests(string backend)
{
    /// <summary>The shared device under test (not owned by the fixture, so not disposed by it).</summary>
    private Device Device => TestBackends.Get(backend);

    [SetUp]
    public void SkipAbsentBackends() => _ = TestBackends.Get(backend);

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
    private static void CreateAndDrop(Device device, int count)
    {
        for (int i = 0; i < count; i++)
        {
            var tensor = new Tensor(device, 8, 8);
            _ = tensor.SliceRows(1, 2);
        }
    }
}
