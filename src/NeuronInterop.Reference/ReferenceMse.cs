namespace NeuronInterop.Reference;

/// <summary>
/// Plain double-precision mean squared error over N elements:
/// <c>error = Σ(pred − target)²/(2N)</c>, <c>grad = (pred − target)/N</c>.
/// </summary>
public static class ReferenceMse
{
    /// <summary>The error <c>Σ(pred − target)²/(2N)</c>.</summary>
    /// <param name="prediction">The predictions.</param>
    /// <param name="target">The targets, as many as predictions.</param>
    /// <returns>The error.</returns>
    public static double Error(ReadOnlySpan<double> prediction, ReadOnlySpan<double> target)
    {
        CheckLengths(prediction, target);
        double sum = 0.0;
        for (int i = 0; i < prediction.Length; i++)
        {
            double d = prediction[i] - target[i];
            sum += d * d;
        }
        return sum / (2.0 * prediction.Length);
    }

    /// <summary>The gradient with respect to the predictions, <c>(pred − target)/N</c>.</summary>
    /// <param name="prediction">The predictions.</param>
    /// <param name="target">The targets, as many as predictions.</param>
    /// <returns>The gradient, one value per prediction.</returns>
    public static double[] Grad(ReadOnlySpan<double> prediction, ReadOnlySpan<double> target)
    {
        CheckLengths(prediction, target);
        var grad = new double[prediction.Length];
        for (int i = 0; i < grad.Length; i++)
        {
            grad[i] = (prediction[i] - target[i]) / prediction.Length;
        }
        return grad;
    }

    private static void CheckLengths(ReadOnlySpan<double> prediction, ReadOnlySpan<double> target)
    {
        if (prediction.Length != target.Length || prediction.IsEmpty)
        {
            throw new ArgumentException($"prediction ({prediction.Length}) and target ({target.Length}) must have the same, non-zero length");
        }
    }
}
