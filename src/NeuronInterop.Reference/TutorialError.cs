namespace NeuronInterop.Reference;

/// <summary>
/// The tutorial's mean squared error for one sample (N = 1), in float32:
/// <c>value = 0.5·mean((true − pred)²)</c> and <c>grad = −(true − pred)/N</c>.
/// </summary>
public static class TutorialError
{
    /// <summary>The error <c>0.5·(target − prediction)²</c>.</summary>
    /// <param name="target">The true value.</param>
    /// <param name="prediction">The predicted value.</param>
    /// <returns>The error.</returns>
    public static float Value(float target, float prediction)
    {
        float difference = target - prediction;
        return 0.5f * (difference * difference);
    }

    /// <summary>The gradient of <see cref="Value"/> with respect to the prediction, <c>−(target − prediction)·c</c> with <c>c = 1/N = 1</c>.</summary>
    /// <param name="target">The true value.</param>
    /// <param name="prediction">The predicted value.</param>
    /// <returns>∂J/∂prediction.</returns>
    public static float Grad(float target, float prediction)
    {
        const float c = 1f;
        return -(target - prediction) * c;
    }
}
