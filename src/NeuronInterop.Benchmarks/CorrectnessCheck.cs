using NeuronInterop.Native;

namespace NeuronInterop.Benchmarks;

/// <summary>
/// Checks one training step of a benchmark against the host backend and against a float64 reference.
/// Column j of W and element j of b after a step depend only on column j of W, b[j] and column j of the
/// target, so a few sampled output columns are checked exactly at the cost of a few columns: the large case
/// stays affordable on the host. With N = batch · out in the mean, a sub-problem of k columns trained with
/// learning rate lr · k / out takes exactly the full problem's step on those columns.
/// </summary>
internal sealed class CorrectnessCheck : IDisposable
{
    /// <summary>Allowed difference, relative to the largest reference value of the checked parameters.</summary>
    public const double RelativeTolerance = 2e-4;

    /// <summary>Most output columns checked.</summary>
    public const int MaxColumns = 8;

    private readonly float[] _input;   // batch × in, row-major
    private readonly float[] _target;  // batch × out
    private readonly long _batch;
    private readonly int _inSize;
    private readonly int _outSize;
    private readonly int[] _columns;
    private readonly Tensor _hostInput;
    private readonly Tensor _hostTarget;

    private CorrectnessCheck(float[] input, float[] target, long batch, int inSize, int outSize)
    {
        _input = input;
        _target = target;
        _batch = batch;
        _inSize = inSize;
        _outSize = outSize;
        _columns = SampleColumns(outSize, MaxColumns);
        var k = _columns.Length;
        var targetColumns = new float[batch * k];
        for (long r = 0; r < batch; r++)
            for (var c = 0; c < k; c++)
                targetColumns[r * k + c] = target[r * outSize + _columns[c]];
        _hostInput = Tensor.FromArray(Device.Host, input, batch, inSize);
        _hostTarget = Tensor.FromArray(Device.Host, targetColumns, batch, k);
    }

    /// <summary>Copies one batch (input: batch × in, target: batch × out) from its device for the checks.</summary>
    public static CorrectnessCheck FromDevice(Tensor input, Tensor target)
    {
        if (input.Rank != 2 || target.Rank != 2 || input.RowCount != target.RowCount)
            throw new ArgumentException("The check needs a 2-D input and target with the same number of rows.");
        return new CorrectnessCheck(input.ToArray(), target.ToArray(), input.RowCount, (int)input.Shape[1], (int)target.Shape[1]);
    }

    /// <summary>Evenly spaced columns of [0, outSize), the first and the last included.</summary>
    internal static int[] SampleColumns(int outSize, int maxColumns)
    {
        var k = Math.Min(outSize, maxColumns);
        if (k == 1)
            return [0];
        return Enumerable.Range(0, k).Select(c => (int)Math.Round(c * (outSize - 1.0) / (k - 1))).ToArray();
    }

    /// <summary>
    /// Compares the parameters after one step (<paramref name="weightAfter"/>, <paramref name="biasAfter"/>)
    /// with the same step, from <paramref name="weight"/> and <paramref name="bias"/>, on the host backend
    /// and in float64.
    /// </summary>
    public CorrectnessResult Compare(float[] weight, float[] bias, float[] weightAfter, float[] biasAfter, float learningRate)
    {
        var k = _columns.Length;
        var (hostWeight, hostBias) = HostStep(weight, bias, learningRate);
        var (refWeight, refBias) = ReferenceStep(weight, bias, learningRate);

        double magnitude = 0, diffHost = 0, diffRef = 0;
        var finite = true;
        void Visit(float got, float host, double reference)
        {
            finite &= float.IsFinite(got) && float.IsFinite(host) && double.IsFinite(reference);
            magnitude = Math.Max(magnitude, Math.Abs(reference));
            diffHost = Math.Max(diffHost, Math.Abs((double)got - host));
            diffRef = Math.Max(diffRef, Math.Abs(got - reference));
        }

        for (var i = 0; i < _inSize; i++)
            for (var c = 0; c < k; c++)
                Visit(weightAfter[(long)i * _outSize + _columns[c]], hostWeight[i * k + c], refWeight[i * k + c]);
        for (var c = 0; c < k; c++)
            Visit(biasAfter[_columns[c]], hostBias[c], refBias[c]);

        var tolerance = RelativeTolerance * Math.Max(magnitude, 1e-12);
        return new CorrectnessResult
        {
            CheckedColumns = k,
            MaxAbsDiffHost = diffHost,
            MaxAbsDiffReference = diffRef,
            ReferenceMagnitude = magnitude,
            Tolerance = tolerance,
            Passed = finite && diffHost <= tolerance && diffRef <= tolerance,
        };
    }

    private (float[] Weight, float[] Bias) HostStep(float[] weight, float[] bias, float learningRate)
    {
        var k = _columns.Length;
        var w = new float[_inSize * k];
        var b = new float[k];
        for (var c = 0; c < k; c++)
        {
            b[c] = bias[_columns[c]];
            for (var i = 0; i < _inSize; i++)
                w[i * k + c] = weight[(long)i * _outSize + _columns[c]];
        }

        using var hostWeight = Tensor.FromArray(Device.Host, w, _inSize, k);
        using var hostBias = Tensor.FromArray(Device.Host, b, k);
        NativeOps.LinearMseSgdStep(_hostInput, _hostTarget, hostWeight, hostBias, learningRate * k / _outSize, null, null);
        return (hostWeight.ToArray(), hostBias.ToArray());
    }

    private (double[] Weight, double[] Bias) ReferenceStep(float[] weight, float[] bias, float learningRate)
    {
        var k = _columns.Length;
        var w = new double[_inSize * k];
        var b = new double[k];
        var n = (double)_batch * _outSize;
        Parallel.For(0, k, c =>
        {
            var j = _columns[c];
            var column = new double[_inSize];
            for (var i = 0; i < _inSize; i++)
                column[i] = weight[(long)i * _outSize + j];
            var weightGrad = new double[_inSize];
            double biasGrad = 0;
            for (long r = 0; r < _batch; r++)
            {
                var row = _input.AsSpan((int)(r * _inSize), _inSize);
                double y = bias[j];
                for (var i = 0; i < _inSize; i++)
                    y += row[i] * column[i];
                var g = (y - _target[r * _outSize + j]) / n;
                biasGrad += g;
                for (var i = 0; i < _inSize; i++)
                    weightGrad[i] += row[i] * g;
            }
            for (var i = 0; i < _inSize; i++)
                w[i * k + c] = column[i] - (double)learningRate * weightGrad[i];
            b[c] = bias[j] - (double)learningRate * biasGrad;
        });
        return (w, b);
    }

    public void Dispose()
    {
        _hostInput.Dispose();
        _hostTarget.Dispose();
    }
}
