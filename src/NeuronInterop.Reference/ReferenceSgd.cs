namespace NeuronInterop.Reference;

/// <summary>Plain stochastic gradient descent: <c>param -= learnRate·grad</c>.</summary>
public static class ReferenceSgd
{
    /// <summary>Applies <c>param[i] -= learnRate·grad[i]</c>.</summary>
    /// <param name="param">The parameter, updated in place.</param>
    /// <param name="grad">Its gradient, as many values.</param>
    /// <param name="learnRate">The learning rate.</param>
    public static void Update(Span<double> param, ReadOnlySpan<double> grad, double learnRate)
    {
        if (param.Length != grad.Length)
        {
            throw new ArgumentException($"param ({param.Length}) and grad ({grad.Length}) lengths differ");
        }
        for (int i = 0; i < param.Length; i++)
        {
            param[i] -= learnRate * grad[i];
        }
    }
}
