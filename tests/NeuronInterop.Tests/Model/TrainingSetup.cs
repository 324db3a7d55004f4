using NeuronInterop.Cost;
using NeuronInterop.Handlers;
using NeuronInterop.Modules;
using NeuronInterop.Optimizers;
using NeuronInterop.Reference;
using NeuronInterop.Tests.Infrastructure;
using static NeuronInterop.Tests.Model.ModelData;

namespace NeuronInterop.Tests.Model;

/// <summary>A layer, its cost, optimizer and trainer, and a reference trainer starting from the same parameters.</summary>
internal sealed class TrainingSetup : IDisposable
{
    public const double Atol = 1e-5;
    public const double Rtol = 1e-4;

    /// <param name="seed">The seed of W's initialisation.</param>
    /// <param name="biasSeed">The seed of b's uniform starting values.</param>
    public TrainingSetup(Device device, int inSize, int outSize, int batchSize, float lr, Action<Trainer>? onBatchFinish = null,
        bool useBias = true, ulong seed = 17, int biasSeed = 5)
    {
        Layer = new Linear(inSize, outSize, useBias, seed: seed, device: device);
        Layer.B?.CopyFrom(Flat(Uniform(1, outSize, biasSeed)));
        Cost = new MseCost(device);
        Optimizer = new Sgd(lr);
        Optimizer.SetupOn(Layer);
        Trainer = new Trainer(Layer, Cost, Optimizer, batchSize, onBatchFinish);
        Reference = new ReferenceTrainer(inSize, outSize, batchSize, lr, useBias);
        Reference.SetParameters(Layer.W.ToArray(), Layer.B?.ToArray() ?? []);
    }

    public Linear Layer { get; }
    public MseCost Cost { get; }
    public Sgd Optimizer { get; }
    public Trainer Trainer { get; }
    public ReferenceTrainer Reference { get; }

    /// <summary>Asserts that the layer's parameters match <paramref name="reference"/> (this setup's own reference when null).</summary>
    public void AssertParametersMatch(string what, double atol = Atol, double rtol = Rtol, ReferenceTrainer? reference = null)
    {
        reference ??= Reference;
        Tolerance.AssertClose(Layer.W.ToArray(), reference.W, atol, rtol, $"W {what}");
        if (Layer.B is not null)
        {
            Tolerance.AssertClose(Layer.B.ToArray(), reference.B, atol, rtol, $"b {what}");
        }
    }

    public void Dispose()
    {
        Trainer.Dispose();
        Cost.Dispose();
        Layer.Dispose();
    }
}
