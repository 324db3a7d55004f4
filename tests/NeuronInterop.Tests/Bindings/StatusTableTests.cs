using NeuronInterop.Native;
using NUnit.Framework;

namespace NeuronInterop.Tests.Bindings;

/// <summary>The one table that turns native statuses into exceptions.</summary>
[TestFixture]
public sealed class StatusTableTests
{
    [TestCase(NeuronStatus.InvalidArgument, typeof(NeuronArgumentException))]
    [TestCase(NeuronStatus.ContextMismatch, typeof(NeuronArgumentException))]
    [TestCase(NeuronStatus.ShapeMismatch, typeof(ShapeMismatchException))]
    [TestCase(NeuronStatus.OutOfMemory, typeof(NeuronOutOfMemoryException))]
    [TestCase(NeuronStatus.DeviceUnavailable, typeof(DeviceUnavailableException))]
    [TestCase(NeuronStatus.InvalidHandle, typeof(ObjectDisposedException))]
    [TestCase(NeuronStatus.BackendError, typeof(NeuronException))]
    [TestCase(NeuronStatus.InternalError, typeof(NeuronException))]
    public void EachStatusHasItsException(NeuronStatus status, Type expected)
    {
        Exception e = Ensure.ToException((nrn_status)status, "the native message");

        Assert.That(e, Is.TypeOf(expected));
        Assert.That(e.Message, Does.Contain("the native message"));
        object? reported = e.GetType().GetProperty("Status")?.GetValue(e);
        if (reported is not null)
        {
            Assert.That(reported, Is.EqualTo(status));
        }
    }

    [Test]
    public void TheArgumentFamilyIsArgumentException()
    {
        Assert.That(Ensure.ToException(nrn_status.NRN_STATUS_SHAPE_MISMATCH, "m"), Is.InstanceOf<ArgumentException>());
        Assert.That(Ensure.ToException(nrn_status.NRN_STATUS_INVALID_ARGUMENT, "m"), Is.InstanceOf<ArgumentException>());
        Assert.That(Ensure.ToException(nrn_status.NRN_STATUS_OUT_OF_MEMORY, "m"), Is.InstanceOf<OutOfMemoryException>());
    }

    [Test]
    public void TheManagedStatusesMirrorTheNativeOnes()
    {
        var native = Enum.GetValues<nrn_status>().Select(s => (int)s).Order();
        var managed = Enum.GetValues<NeuronStatus>().Select(s => (int)s).Order();
        Assert.That(managed, Is.EqualTo(native));
        Assert.That(Enum.GetValues<BatchOrder>().Select(o => (int)o), Is.EqualTo(Enum.GetValues<nrn_batch_order>().Select(o => (int)o)));
    }

    [Test]
    public void ANativeFailureCarriesTheNativeMessage()
    {
        var e = Assert.Throws<NeuronArgumentException>(() => NativeOps.BatchIndex(BatchOrder.Sequential, 0, step: 0, batchCount: 0));
        Assert.That(e!.Message, Does.StartWith("nrn_batch_index: ").And.Contain("batch_count"));
    }
}
