using NeuronInterop.Handlers;
using NUnit.Framework;

namespace NeuronInterop.Tests.Model;

/// <summary>
/// <see cref="BatchSchedule.SamplesIn"/> counts whole epochs arithmetically; it must agree with adding up the
/// rows of the batch each step picks, for every order, across epoch borders and up to the last step index.
/// </summary>
public sealed class BatchScheduleTests
{
    [TestCase(BatchOrder.Sequential)]
    [TestCase(BatchOrder.Shuffle)]
    [TestCase(BatchOrder.Random)]
    public void SamplesInIsTheSumOfThePickedBatchesRows(BatchOrder order)
    {
        var random = new Random(17 + (int)order);
        for (int c = 0; c < 400; c++)
        {
            long rows = random.Next(1, 60), batchSize = random.Next(1, 14);
            var schedule = new BatchSchedule(rows, batchSize, order, (ulong)random.NextInt64());
            long steps = random.Next(1, (int)(3 * schedule.BatchCount + 5));
            long firstStep = (c % 4) switch
            {
                0 => 0,
                1 => random.Next(0, 100),
                2 => long.MaxValue - steps - random.Next(0, 30),  // epochs that end past long.MaxValue
                _ => random.NextInt64(0, long.MaxValue - steps),
            };

            long expected = 0;
            for (long step = firstStep; step < firstStep + steps; step++)
            {
                expected += schedule.RowsOf(schedule.BatchAt(step)).Count;
            }

            Assert.That(schedule.SamplesIn(firstStep, steps), Is.EqualTo(expected), $"{schedule}, steps {firstStep} + {steps}");
        }
    }

    [Test]
    public void BatchesCoverTheRowsOnceWithASmallerLastOne()
    {
        var schedule = new BatchSchedule(Rows: 10, BatchSize: 4, BatchOrder.Sequential, Seed: 0);
        Assert.That(schedule.BatchCount, Is.EqualTo(3));
        Assert.That(schedule.LastBatchRows, Is.EqualTo(2));
        Assert.That(Enumerable.Range(0, 3).Select(b => schedule.RowsOf(b)), Is.EqualTo(new[] { (0L, 4L), (4L, 4L), (8L, 2L) }));
        Assert.That(new BatchSchedule(8, 4, BatchOrder.Shuffle, 5).LastBatchRows, Is.EqualTo(4));
    }
}
