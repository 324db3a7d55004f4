using NeuronInterop.Reference;
using NUnit.Framework;

namespace NeuronInterop.Tests.Reference;

/// <summary>The reference trainer's batch cutting, order and error bookkeeping.</summary>
[TestFixture]
public sealed class ReferenceTrainerTests
{
    private static (float[,] Data, float[,] Target) Rows(int rows)
    {
        var data = new float[rows, 1];
        var target = new float[rows, 1];
        for (int r = 0; r < rows; r++)
        {
            data[r, 0] = r;
            target[r, 0] = 2 * r + 1;
        }
        return (data, target);
    }

    [Test]
    public void CutsMacroBatchesAndKeepsTheLastSmallerBatch()
    {
        var (data, target) = Rows(10);
        var trainer = new ReferenceTrainer(1, 1, batchSize: 3, learnRate: 0.0);
        trainer.Train(data, target, macroBatchSize: 7);

        // Macro-batches [0, 7) and [7, 10); batches of 3 with a smaller last one in each.
        var cut = trainer.Batches.Select(b => (b.MacroBatch, b.FirstRow, b.RowCount));
        Assert.That(cut, Is.EqualTo(new[] { (0L, 0L, 3L), (0L, 3L, 3L), (0L, 6L, 1L), (1L, 7L, 3L) }));
    }

    [Test]
    public void FollowsThePickedOrder()
    {
        var (data, target) = Rows(7);
        var trainer = new ReferenceTrainer(1, 1, batchSize: 2, learnRate: 0.0);
        trainer.Train(data, target, macroBatchSize: 100, (_, step, count) => count - 1 - step);
        Assert.That(trainer.Batches.Select(b => b.FirstRow), Is.EqualTo(new[] { 6L, 4L, 2L, 0L }));
    }

    [Test]
    public void MeanErrorIsBatchWeighted()
    {
        // W = 0, b = 0, lr = 0: rows 0..2 predict 0 against targets 1, 3, 5.
        // Batch [0, 2): (1 + 9)/4 = 2.5; batch [2, 3): 25/2 = 12.5; weighted: (2.5·2 + 12.5·1)/3.
        var (data, target) = Rows(3);
        var trainer = new ReferenceTrainer(1, 1, batchSize: 2, learnRate: 0.0);
        double mean = trainer.Train(data, target, macroBatchSize: 2);
        Assert.That(mean, Is.EqualTo((2.5 * 2 + 12.5) / 3).Within(1e-12));
        Assert.That(trainer.Validate(data, target), Is.EqualTo(mean).Within(1e-12));
    }

    [Test]
    public void OneStepMatchesHandComputation()
    {
        // Batch of 2 rows, x = [1, 2], target = [3, 5], W = 1, b = 0: pred = [1, 2], d = [−2, −3],
        // G = d/2 = [−1, −1.5]; dW = 1·(−1) + 2·(−1.5) = −4; db = −2.5; lr = 0.1: W = 1.4, b = 0.25.
        var data = new float[,] { { 1 }, { 2 } };
        var target = new float[,] { { 3 }, { 5 } };
        var trainer = new ReferenceTrainer(1, 1, batchSize: 2, learnRate: 0.1);
        trainer.SetParameters(new[] { 1f }, new[] { 0f });
        double error = trainer.TrainSteps(data, target, 0, 1);
        Assert.That(error, Is.EqualTo((4 + 9) / 4.0).Within(1e-12));
        Assert.That(trainer.W[0], Is.EqualTo(1.4).Within(1e-12));
        Assert.That(trainer.B[0], Is.EqualTo(0.25).Within(1e-12));
    }

    [Test]
    public void TrainStepsWrapsAroundSequentially()
    {
        var (data, target) = Rows(5);
        var trainer = new ReferenceTrainer(1, 1, batchSize: 2, learnRate: 0.0);
        trainer.TrainSteps(data, target, firstStep: 2, steps: 3);
        Assert.That(trainer.Batches.Select(b => b.FirstRow), Is.EqualTo(new[] { 4L, 0L, 2L }));
    }
}
