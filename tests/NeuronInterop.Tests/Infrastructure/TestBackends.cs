using NUnit.Framework;

namespace NeuronInterop.Tests.Infrastructure;

/// <summary>
/// The backends that backend-parameterised fixtures run on: "host" always; "cuda" when a GPU is
/// present, or always when NEURON_TEST_REQUIRE_CUDA=1 or NEURON_BACKEND=cuda (a missing GPU then fails those tests
/// instead of skipping them).
/// </summary>
public static class TestBackends
{
    /// <summary>The environment variable that makes the CUDA fixtures mandatory.</summary>
    public const string RequireCudaVariable = "NEURON_TEST_REQUIRE_CUDA";

    /// <summary>
    /// Whether the CUDA fixtures must run: NEURON_TEST_REQUIRE_CUDA=1, or the CUDA backend forced with NEURON_BACKEND=cuda.
    /// </summary>
    public static bool CudaRequired =>
        Environment.GetEnvironmentVariable(RequireCudaVariable) == "1" ||
        Environment.GetEnvironmentVariable(Device.BackendVariable)?.Trim().StartsWith("cuda", StringComparison.OrdinalIgnoreCase) == true;

    /// <summary>The backend names to run on: a fixture or test source.</summary>
    public static IEnumerable<string> Names
    {
        get
        {
            yield return "host";
            if (CudaRequired || CudaDeviceCountOrZero() > 0)
            {
                yield return "cuda";
            }
        }
    }

    /// <summary>
    /// "host" gives <see cref="Device.Host"/>; "cuda" gives <see cref="Device.Cuda"/>(0), or ignores the test with
    /// the reason when no GPU is present (fails it instead when CUDA is required: NEURON_TEST_REQUIRE_CUDA=1
    /// or NEURON_BACKEND=cuda).
    /// </summary>
    public static Device Get(string name)
    {
        switch (name)
        {
            case "host":
                return Device.Host;
            case "cuda":
                int count = Device.CudaDeviceCount;
                if (count == 0)
                {
                    string reason = Device.IsCudaCompiled
                        ? "no CUDA device is present"
                        : "the native library was built without the CUDA backend";
                    if (CudaRequired)
                    {
                        Assert.Fail($"The CUDA backend is required ({RequireCudaVariable}=1 or {Device.BackendVariable}=cuda) but {reason}.");
                    }

                    Assert.Ignore($"CUDA tests skipped: {reason}. Set {RequireCudaVariable}=1 to make this a failure.");
                }

                return Device.Cuda(0);
            default:
                throw new ArgumentException($"Unknown test backend '{name}'; use host or cuda.", nameof(name));
        }
    }

    private static int CudaDeviceCountOrZero()
    {
        try
        {
            return Device.CudaDeviceCount;
        }
        catch (Exception)
        {
            // The native library failed to load: every test then reports that failure on the host backend.
            return 0;
        }
    }
}
