namespace NeuronInterop.Benchmarks;

/// <summary>The training paths a case is measured through.</summary>
public static class Variants
{
    /// <summary><c>Trainer.Train</c> over the data on the device, no per-step callback: the ordinary path.</summary>
    public const string Trainer = "trainer";

    /// <summary><c>Trainer.Train</c> with an <c>onBatchFinish</c> callback, so the host sees every step.</summary>
    public const string TrainerCallback = "trainer-callback";

    /// <summary>Linear.Forward, MseCost.Compute, Linear.Backward (no input gradient) and Sgd.Update called per step.</summary>
    public const string Modules = "modules";

    /// <summary><c>Trainer.TrainSteps</c>: batch order decided on the device, many steps enqueued at once.</summary>
    public const string DeviceResident = "device-resident";

    internal static string Describe(string variant) => variant switch
    {
        Trainer => "Trainer.Train epochs, no per-step callback",
        TrainerCallback => "Trainer.Train with an onBatchFinish callback per step",
        Modules => "Forward, MseCost.Compute, Backward, Sgd.Update per step",
        DeviceResident => "Trainer.TrainSteps, batch order on the device",
        _ => variant,
    };
}
