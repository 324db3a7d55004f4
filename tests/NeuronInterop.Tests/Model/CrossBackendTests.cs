using NeuronInterop.Cost;
using NeuronInterop.Handlers;
using NeuronInterop.Modules;
using NeuronInterop.Optimizers;
using NeuronInterop.Tests.Infrastructure;
using NUnit.Framework;
using static NeuronInterop.Tests.Model.ModelData;

namespace NeuronInterop.Tests.Model;

/// <summary>The same training on the host and on CUDA gives the same parameters within float tolerance.</summary>
[TestFixture]
public sealed class CrossBackendTests
{
    [Test]
    public void HostAndCudaTrainTheSameParameters()
    {
        if (!TestBackends.Names.Contains("cuda"))
        {
            Assert.Ignore("No CUDA device is present; the host/CUDA comparison needs one.");
        }
        Device cuda = TestBackends.Get("cuda");
        float[,] data = Uniform(1000, 12, 1);
        float[,] target = Uniform(1000, 5, 2);

        float[] host = Train(Device.Host, data, target, out double hostError);
        float[] gpu = Train(cuda, data, target, out double gpuError);

        Tolerance.AssertClose(gpu, host, 1e-5, 1e-4, "CUDA parameters vs host parameters");
        Assert.That(gpuError, Is.EqualTo(hostError).Within(0.01).Percent);
    }

    private static float[] Train(Device device, float[,] data, float[,] target, out double error)
    {
        using var layer = new Linear(12, 5, seed: 77, device: device);
        using var cost = new MseCost();
        var sgd = new Sgd(0.05f);
        sgd.SetupOn(layer);
        using var trainer = new Trainer(layer, cost, sgd, batchSize: 24);
        for (int epoch = 0; epoch < 3; epoch++)
        {
            trainer.TrainFromHost(data, target, macroBatchSize: 300, seed: (ulong)epoch);
        }
        using Tensor x = Tensor.FromArray(device, data);
        using Tensor t = Tensor.FromArray(device, target);
        trainer.TrainSteps(x, t, 50, BatchOrder.Random, seed: 3);
        error = new Validator(layer, cost).ValidateFromHost(data, target);
        return Snapshot(layer);
    }
}
