namespace NeuronInterop;

/// <summary>How device-resident training picks the batch of each step (the native <c>nrn_batch_order</c>).</summary>
public enum BatchOrder
{
    /// <summary>Batches in order, 0, 1, 2, ..., wrapping around after the last one.</summary>
    Sequential = 0,

    /// <summary>Each epoch visits every batch once, in an order permuted from (seed, epoch).</summary>
    Shuffle = 1,

    /// <summary>Each step draws one batch uniformly at random from (seed, step), with replacement.</summary>
    Random = 2,
}
