using Microsoft.Extensions.Logging;
using NeuronInterop.Tests.Infrastructure;
using NUnit.Framework;

namespace NeuronInterop.Tests.Bindings;

/// <summary>Device selection, properties, the absent-GPU path and disposal.</summary>
[TestFixture]
[NonParallelizable]
public sealed class DeviceTests
{
    [Test]
    public void TheHostDeviceIsSharedAndDescribesItself()
    {
        Device first = Device.Host;
        Assert.That(Device.Host, Is.SameAs(first));
        Assert.That(Device.Host.Backend, Is.EqualTo(BackendKind.Host));
        Assert.That(Device.Host.Index, Is.EqualTo(-1));
        Assert.That(Device.Host.ToString(), Is.EqualTo("host"));
    }

    [Test]
    public void TheHostBackendSaysHowItComputes()
    {
        HostBackendInfo info = Device.HostInfo;
        Assert.That(info.Simd, Is.AnyOf("avx512", "avx2", "baseline"));
        string? threads = Environment.GetEnvironmentVariable("NEURON_HOST_THREADS");
        if (!string.IsNullOrEmpty(threads))
            Assert.That(info.Threads, Is.EqualTo(int.Parse(threads, System.Globalization.CultureInfo.InvariantCulture)));
        else
            Assert.That(info.Threads, Is.InRange(1, 64), "the hardware's threads (not .NET's count, which a CPU quota lowers)");
    }

    [Test]
    public void DisposingASharedDeviceDoesNothing()
    {
        Device.Host.Dispose();
        Assert.That(Device.Host.IsDisposed, Is.False);
        using var tensor = new Tensor(Device.Host, 2);
        Assert.DoesNotThrow(Device.Host.Synchronize);
    }

    [Test]
    public void AHostTensorTheSystemCannotBackIsRefusedBeforeItIsWritten()
    {
        // Linux grants more memory than it can back and kills the process at the first write past
        // that, here the zero fill of the new tensor. The library must refuse it first: all of the
        // system's memory and swap, less 16 MB, always leaves less than the library's reserve for the
        // rest of the system.
        long total = MemInfoBytes("MemTotal:") + MemInfoBytes("SwapTotal:");
        if (total <= 0)
        {
            Assert.Ignore("Needs /proc/meminfo.");
        }
        var e = Assert.Throws<NeuronOutOfMemoryException>(() => new Tensor(Device.Host, (total - (16L << 20)) / sizeof(float)).Dispose());
        Assert.That(e!.Message, Does.Contain("nrn_tensor_create").And.Contain("GiB available"));
        using var small = new Tensor(Device.Host, 3);
        Assert.That(small.ToArray(), Is.EqualTo(new float[3]), "the host backend still works");
    }

    private static long MemInfoBytes(string key)
    {
        if (!File.Exists("/proc/meminfo"))
        {
            return 0;
        }
        string? line = File.ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith(key, StringComparison.Ordinal));
        return line is null ? 0 : 1024 * long.Parse(line[key.Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
    }

    [Test]
    public void TheLibraryPathIsTheLoadedFile()
    {
        Assert.That(File.Exists(Device.NativeLibraryPath), Is.True, Device.NativeLibraryPath);
        Assert.That(Path.GetFileName(Device.NativeLibraryPath), Is.EqualTo("libneuron.so"));
    }

    [Test]
    public void CudaDevicesAreCountedOnlyWhenCompiledIn()
    {
        int count = Device.CudaDeviceCount;
        Assert.That(count, Is.GreaterThanOrEqualTo(0));
        if (!Device.IsCudaCompiled)
        {
            Assert.That(count, Is.Zero);
        }
    }

    [Test]
    public void CudaDeviceZeroWithoutAGpuIsUnavailable()
    {
        if (Device.CudaDeviceCount > 0)
        {
            Assert.Ignore("A GPU is present.");
        }

        var e = Assert.Throws<DeviceUnavailableException>(() => Device.Cuda(0));
        Assert.That(e!.Status, Is.EqualTo(NeuronStatus.DeviceUnavailable));
        Assert.That(e.Message, Is.Not.Empty);
        Assert.Throws<DeviceUnavailableException>(() => Device.FromName("cuda"));
        Assert.Throws<DeviceUnavailableException>(() => Device.GetCudaDeviceInfo(0));
    }

    [Test]
    public void ACudaIndexPastTheLastDeviceIsUnavailable()
    {
        int count = Device.CudaDeviceCount;
        Assert.Throws<DeviceUnavailableException>(() => Device.Cuda(count));
        Assert.Throws<DeviceUnavailableException>(() => Device.GetCudaDeviceInfo(count));
        Assert.Throws<DeviceUnavailableException>(() => Device.FromName($"cuda:{count + 3}"));
    }

    [Test]
    public void ANegativeCudaIndexIsAnArgumentError()
    {
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => Device.Cuda(-1))!.ParamName, Is.EqualTo("index"));
        Assert.Throws<ArgumentOutOfRangeException>(() => Device.GetCudaDeviceInfo(-1));
        Assert.Throws<ArgumentException>(() => Device.FromName("cuda:-1"));
    }

    [Test]
    public void CudaDevicesDescribeThemselves()
    {
        Device cuda = TestBackends.Get("cuda");
        CudaDeviceInfo info = Device.GetCudaDeviceInfo(0);

        Assert.That(cuda, Is.SameAs(Device.Cuda(0)));
        Assert.That(cuda.Backend, Is.EqualTo(BackendKind.Cuda));
        Assert.That(cuda.Index, Is.Zero);
        Assert.That(cuda.ToString(), Is.EqualTo("cuda:0"));
        Assert.That(info.Index, Is.Zero);
        Assert.That(info.Name, Is.Not.Empty);
        Assert.That(info.TotalMemory, Is.GreaterThan(0UL));
        Assert.That(info.ComputeMajor, Is.GreaterThan(0));
        Assert.That(info.MultiprocessorCount, Is.GreaterThan(0));
    }

    [TestCase("host")]
    [TestCase("HOST")]
    [TestCase(" Host ")]
    public void FromNameFindsTheHost(string name)
    {
        Assert.That(Device.FromName(name), Is.SameAs(Device.Host));
    }

    [Test]
    public void AutoTakesCudaExactlyWhenAGpuIsPresent()
    {
        Device expected = Device.CudaDeviceCount > 0 ? Device.Cuda(0) : Device.Host;
        var logger = new ListLogger();

        Assert.That(Device.FromName("auto", logger), Is.SameAs(expected));
        Assert.That(logger.Messages, Has.Count.EqualTo(1));
        Assert.That(logger.Messages[0], Does.Contain(expected.Backend == BackendKind.Host ? "host" : "CUDA"));
    }

    [TestCase("")]
    [TestCase("gpu")]
    [TestCase("cuda:")]
    [TestCase("cuda:x")]
    [TestCase("cuda:-1")]
    [TestCase("cuda0")]
    public void FromNameRejectsUnknownNames(string name)
    {
        var e = Assert.Throws<ArgumentException>(() => Device.FromName(name));
        Assert.That(e!.Message, Does.Contain("auto, host, cuda"));
    }

    [TestCase("auto", true)]
    [TestCase(" Host ", true)]
    [TestCase("cuda", true)]
    [TestCase("CUDA:3", true)]
    [TestCase("cuda:12", true)]
    [TestCase(null, false)]
    [TestCase("", false)]
    [TestCase("gpu", false)]
    [TestCase("cuda:", false)]
    [TestCase("cuda:x", false)]
    [TestCase("cuda:-1", false)]
    [TestCase("cuda0", false)]
    [TestCase("cudax:1", false)]
    [TestCase(" cuda:1 ", true)]
    [TestCase("cuda: 1", false)]  // the index is digits only, as NEURON_HOST_THREADS is
    [TestCase("cuda:1 :", false)]
    [TestCase("cuda:+1", false)]
    [TestCase("cuda:\u0661", false)]  // ARABIC-INDIC DIGIT ONE
    public void IsValidNameAnswersAsFromNameParses(string? name, bool valid)
    {
        Assert.That(Device.IsValidName(name), Is.EqualTo(valid));
        if (!valid && name is not null)
            Assert.Throws<ArgumentException>(() => Device.FromName(name));
    }

    [TestCase(null)]
    [TestCase("auto")]
    [TestCase("Auto")]
    [TestCase("host")]
    public void DefaultFollowsNeuronBackend(string? setting)
    {
        using var variable = new EnvironmentVariable(Device.BackendVariable, setting);
        Device expected = setting == "host" || Device.CudaDeviceCount == 0 ? Device.Host : Device.Cuda(0);
        Assert.That(Device.Default, Is.SameAs(expected));
    }

    [Test]
    public void DefaultWithNeuronBackendCudaAndNoGpuIsUnavailable()
    {
        if (Device.CudaDeviceCount > 0)
        {
            Assert.Ignore("A GPU is present.");
        }

        using var variable = new EnvironmentVariable(Device.BackendVariable, "cuda");
        Assert.Throws<DeviceUnavailableException>(() => _ = Device.Default);
    }

    [TestCase("gpu")]
    [TestCase("cpu")]
    public void DefaultWithAnInvalidNeuronBackendNamesTheVariable(string setting)
    {
        using var variable = new EnvironmentVariable(Device.BackendVariable, setting);
        var e = Assert.Throws<ArgumentException>(() => _ = Device.Default);
        Assert.That(e!.Message, Does.Contain("NEURON_BACKEND").And.Contain(setting));
    }

    [TestCase("NEURON_HOST_THREADS", "0")]
    [TestCase("NEURON_HOST_SIMD", "sse9")]
    public void ADefaultDeviceThatCannotStartBlamesItsCauseNotNeuronBackend(string variable, string value)
    {
        // The host device starts once per process, so the failure is staged in a process of its own.
        string report = Path.Combine(Path.GetTempPath(), $"neuron-default-{Guid.NewGuid():N}.txt");
        try
        {
            var child = ChildTestProcess(nameof(WriteWhatDefaultThrows));
            // A valid setting that picks the host (auto would pick a GPU where there is one).
            child.Environment[Device.BackendVariable] = "host";
            child.Environment.Remove(TestBackends.RequireCudaVariable);
            child.Environment[variable] = value;
            child.Environment["NEURON_NATIVE_PATH"] = Device.NativeLibraryPath;
            child.Environment[DefaultReportVariable] = report;
            using var process = System.Diagnostics.Process.Start(child)!;
            // Both pipes drained at once, so that neither can fill and stall the child.
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            bool ended = process.WaitForExit(60_000);
            if (!ended)
                process.Kill(entireProcessTree: true);
            // What the child wrote, also when it was killed (then the pipes close with it).
            string output = Task.WaitAll([stdout, stderr], 10_000) ? stdout.Result + stderr.Result : "(the child's output did not close)";
            Assert.That(ended, Is.True, $"the child test process ended: {output}");

            Assert.That(report, Does.Exist, output);
            string thrown = File.ReadAllText(report);
            Assert.That(thrown, Does.StartWith("NeuronArgumentException: ").And.Contain($"{variable} is '{value}'"));
            Assert.That(thrown, Does.Not.Contain(Device.BackendVariable), "NEURON_BACKEND=host is valid, and not to blame");
        }
        finally
        {
            File.Delete(report);
        }
    }

    private const string DefaultReportVariable = "NEURON_TEST_DEFAULT_REPORT";

    /// <summary>Run by <see cref="ADefaultDeviceThatCannotStartBlamesItsCauseNotNeuronBackend"/> in a child process: writes what <see cref="Device.Default"/> throws.</summary>
    [Test]
    [Explicit("Run in a child process, whose environment stages the failure.")]
    public void WriteWhatDefaultThrows()
    {
        string? report = Environment.GetEnvironmentVariable(DefaultReportVariable);
        if (report is null)
            Assert.Ignore($"{DefaultReportVariable} names no file.");
        try
        {
            _ = Device.Default;
            File.WriteAllText(report, "no exception");
        }
        catch (Exception e)
        {
            File.WriteAllText(report, $"{e.GetType().Name}: {e.Message}");
        }
    }

    /// <summary>This test executable, run again with a filter that selects one test of this fixture.</summary>
    private static System.Diagnostics.ProcessStartInfo ChildTestProcess(string test)
    {
        string host = Environment.ProcessPath!;
        var start = new System.Diagnostics.ProcessStartInfo(host)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        if (Path.GetFileNameWithoutExtension(host) == "dotnet")
            start.ArgumentList.Add(typeof(DeviceTests).Assembly.Location);
        start.ArgumentList.Add("--filter");
        start.ArgumentList.Add($"FullyQualifiedName={typeof(DeviceTests).FullName}.{test}");
        return start;
    }

    [Test]
    public void EveryUseOfADisposedDeviceThrowsObjectDisposed()
    {
        var device = Device.CreateOwned(BackendKind.Host);
        var tensor = new Tensor(device, 3);
        device.Dispose();

        Assert.That(device.IsDisposed, Is.True);
        Assert.Multiple(() =>
        {
            Assert.Throws<ObjectDisposedException>(device.Synchronize);
            Assert.Throws<ObjectDisposedException>(() => new Tensor(device, 3));
            Assert.Throws<ObjectDisposedException>(() => Tensor.FromArray(device, new float[3]));
            Assert.Throws<ObjectDisposedException>(() => tensor.ToArray());
            Assert.Throws<ObjectDisposedException>(() => tensor.Fill(1f));
            var layer = Assert.Throws<ObjectDisposedException>(() => new NeuronInterop.Modules.Linear(1, 1, device: device));
            Assert.That(layer!.ObjectName, Is.EqualTo("Device host"));
        });
        Assert.DoesNotThrow(tensor.Dispose);
        Assert.DoesNotThrow(device.Dispose);
    }

    [Test]
    public void TensorsKeepWorkingWhileTheirOwnedDeviceLives()
    {
        using var device = Device.CreateOwned(BackendKind.Host);
        using var tensor = Tensor.FromArray(device, [1f, 2f, 3f]);
        tensor.Fill(4f);
        Assert.That(tensor.ToArray(), Is.EqualTo(new[] { 4f, 4f, 4f }));
    }

    private sealed class ListLogger : ILogger
    {
        public List<string> Messages { get; } = [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Messages.Add(formatter(state, exception));
    }
}
