using NUnit.Framework;

namespace NeuronInterop.Tests.Bindings;

/// <summary>
/// Copies to host arrays of a tensor larger than a .NET array holds. The limit is the managed layer's own, whatever
/// the device, so it is checked on the host alone: the host leaves a new tensor's memory unwritten (so never
/// resident), where the CUDA emulator fills every allocation.
/// </summary>
public sealed class TensorArrayLimitTests
{
    [Test]
    public void ATensorLargerThanAnArrayIsRefusedWholeAndCopiedInRowSlices()
    {
        // 46,341² elements, just over Array.MaxLength: 8 GB of address space, of which only the slice is written.
        const long side = 46_341;
        using var tensor = Tensor.Unfilled(Device.Host, side, side);

        Assert.Multiple(() =>
        {
            Assert.That(() => tensor.ToArray(), Throws.InvalidOperationException
                .With.Message.Contains($"[{side}x{side}] has {side * side} elements, more than a .NET array holds; copy it in row slices"));
            Assert.That(() => tensor.ToArray2D(), Throws.InvalidOperationException.With.Message.Contains("more than a .NET array holds"));
        });

        using Tensor rows = tensor.SliceRows(side - 2, 2);
        float[] values = Enumerable.Range(0, (int)(2 * side)).Select(i => (float)i).ToArray();
        rows.CopyFrom(values);
        Assert.That(rows.ToArray(), Is.EqualTo(values), "the last two rows, through a view");
    }
}
