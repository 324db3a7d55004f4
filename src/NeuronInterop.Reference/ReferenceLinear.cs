namespace NeuronInterop.Reference;

/// <summary>
/// A plain double-precision Linear layer <c>Y = X·W + b</c> over dense row-major arrays:
/// X is (batch × inSize), W is (inSize × outSize), b is (outSize), Y is (batch × outSize).
/// </summary>
public static class ReferenceLinear
{
    /// <summary>Computes <c>Y = X·W + b</c>.</summary>
    /// <param name="input">X, <c>batch·inSize</c> values.</param>
    /// <param name="weight">W, <c>inSize·outSize</c> values.</param>
    /// <param name="bias">b, <c>outSize</c> values, or empty for no bias.</param>
    /// <param name="batch">The number of rows of X.</param>
    /// <param name="inSize">The number of columns of X.</param>
    /// <param name="outSize">The number of columns of W.</param>
    /// <returns>Y, <c>batch·outSize</c> values.</returns>
    public static double[] Forward(ReadOnlySpan<double> input, ReadOnlySpan<double> weight, ReadOnlySpan<double> bias,
        int batch, int inSize, int outSize)
    {
        CheckSizes(input.Length, weight.Length, batch, inSize, outSize);
        if (!bias.IsEmpty && bias.Length != outSize)
        {
            throw new ArgumentException($"bias has {bias.Length} values, expected {outSize}", nameof(bias));
        }

        var output = new double[batch * outSize];
        for (int r = 0; r < batch; r++)
        {
            for (int o = 0; o < outSize; o++)
            {
                double sum = bias.IsEmpty ? 0.0 : bias[o];
                for (int i = 0; i < inSize; i++)
                {
                    sum += input[r * inSize + i] * weight[i * outSize + o];
                }
                output[r * outSize + o] = sum;
            }
        }
        return output;
    }

    /// <summary>
    /// Gradients of <c>Y = X·W + b</c> given <c>G = ∂J/∂Y</c>: <c>dX = G·Wᵀ</c>, <c>dW = Xᵀ·G</c>,
    /// <c>db</c> = column sums of G. Each destination may be empty (not computed); with
    /// <paramref name="accumulate"/> the gradients are added to what the destinations hold,
    /// otherwise they overwrite it.
    /// </summary>
    /// <param name="input">X, <c>batch·inSize</c> values.</param>
    /// <param name="weight">W, <c>inSize·outSize</c> values.</param>
    /// <param name="outputGrad">G, <c>batch·outSize</c> values.</param>
    /// <param name="inputGrad">dX destination (<c>batch·inSize</c>) or empty.</param>
    /// <param name="weightGrad">dW destination (<c>inSize·outSize</c>) or empty.</param>
    /// <param name="biasGrad">db destination (<c>outSize</c>) or empty.</param>
    /// <param name="batch">The number of rows of X.</param>
    /// <param name="inSize">The number of columns of X.</param>
    /// <param name="outSize">The number of columns of W.</param>
    /// <param name="accumulate">Add to the destinations instead of overwriting them.</param>
    public static void Backward(ReadOnlySpan<double> input, ReadOnlySpan<double> weight, ReadOnlySpan<double> outputGrad,
        Span<double> inputGrad, Span<double> weightGrad, Span<double> biasGrad,
        int batch, int inSize, int outSize, bool accumulate)
    {
        CheckSizes(input.Length, weight.Length, batch, inSize, outSize);
        if (outputGrad.Length != batch * outSize)
        {
            throw new ArgumentException($"outputGrad has {outputGrad.Length} values, expected {batch * outSize}", nameof(outputGrad));
        }

        if (!inputGrad.IsEmpty)
        {
            for (int r = 0; r < batch; r++)
            {
                for (int i = 0; i < inSize; i++)
                {
                    double sum = 0.0;
                    for (int o = 0; o < outSize; o++)
                    {
                        sum += outputGrad[r * outSize + o] * weight[i * outSize + o];
                    }
                    inputGrad[r * inSize + i] = accumulate ? inputGrad[r * inSize + i] + sum : sum;
                }
            }
        }

        if (!weightGrad.IsEmpty)
        {
            for (int i = 0; i < inSize; i++)
            {
                for (int o = 0; o < outSize; o++)
                {
                    double sum = 0.0;
                    for (int r = 0; r < batch; r++)
                    {
                        sum += input[r * inSize + i] * outputGrad[r * outSize + o];
                    }
                    weightGrad[i * outSize + o] = accumulate ? weightGrad[i * outSize + o] + sum : sum;
                }
            }
        }

        if (!biasGrad.IsEmpty)
        {
            for (int o = 0; o < outSize; o++)
            {
                double sum = 0.0;
                for (int r = 0; r < batch; r++)
                {
                    sum += outputGrad[r * outSize + o];
                }
                biasGrad[o] = accumulate ? biasGrad[o] + sum : sum;
            }
        }
    }

    private static void CheckSizes(int inputLength, int weightLength, int batch, int inSize, int outSize)
    {
        if (batch <= 0 || inSize <= 0 || outSize <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(batch), $"sizes must be positive: batch {batch}, inSize {inSize}, outSize {outSize}");
        }
        if (inputLength != batch * inSize)
        {
            throw new ArgumentException($"input has {inputLength} values, expected {batch}×{inSize}");
        }
        if (weightLength != inSize * outSize)
        {
            throw new ArgumentException($"weight has {weightLength} values, expected {inSize}×{outSize}");
        }
    }
}
