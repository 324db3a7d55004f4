using System.CommandLine;
using System.Reflection;
using Microsoft.Extensions.Logging;
using NeuronInterop.Cli.Infrastructure;

namespace NeuronInterop.Cli.Info;

/// <summary><c>neuron info</c>: the native library, the backends and CUDA devices, and what <c>auto</c> picks.</summary>
internal static class InfoCommand
{
    public static Command Create(CliContext context, Option<string> verbosity)
    {
        var command = new Command("info",
            "Show the native library's path and version, whether CUDA is compiled in, the CUDA devices " +
            "(name, memory, compute capability), which backend --device auto picks, and the default device (NEURON_BACKEND).");
        command.SetAction(parse =>
        {
            Verbosity.TryParse(parse.GetValue(verbosity), out var level);
            using var loggerFactory = context.CreateLoggerFactory(level);
            Write(context.Output, loggerFactory.CreateLogger("neuron.info"));
            return CliApplication.ExitOk;
        });
        return command;
    }

    /// <summary>What <see cref="Device.Default"/> (and a command run without --device) takes, or why it cannot.</summary>
    private static string DefaultDevice()
    {
        try
        {
            Device device = Device.Default;
            return $"{device} ({device.Backend})";
        }
        catch (Exception e) when (e is ArgumentException or DeviceUnavailableException)
        {
            return $"none: {e.Message}";
        }
    }

    private static void Write(TextWriter console, ILogger logger)
    {
        // Everything is asked of the native library first: when it cannot be loaded, the one
        // error line is all that is printed.
        var lines = new List<string>();
        string cliVersion = typeof(InfoCommand).Assembly
            .GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
        lines.Add($"neuron {cliVersion.Split('+')[0]}");
        lines.Add($"Native library:    {Device.NativeLibraryPath}");
        lines.Add($"Native version:    {Device.NativeVersion}");
        HostBackendInfo host = Device.HostInfo;
        lines.Add($"Host kernels:      {host.Simd}, {host.Threads} thread{(host.Threads == 1 ? "" : "s")}");
        bool cuda = Device.IsCudaCompiled;
        lines.Add($"CUDA compiled in:  {(cuda ? "yes" : "no")}");
        int count = cuda ? Device.CudaDeviceCount : 0;
        lines.Add($"Backends:          host{(count > 0 ? ", cuda" : "")}");
        lines.Add($"CUDA devices:      {count}");
        for (int i = 0; i < count; i++)
        {
            var d = Device.GetCudaDeviceInfo(i);
            lines.Add($"  cuda:{d.Index}  {d.Name}, {d.TotalMemory / (1024.0 * 1024 * 1024):F1} GiB, " +
                      $"compute capability {d.ComputeMajor}.{d.ComputeMinor}, {d.MultiprocessorCount} multiprocessors");
        }
        if (cuda && count == 0)
        {
            lines.Add($"  none usable:     {Device.CudaUnavailableReason()}");
        }

        using var auto = Device.FromName("auto", logger);
        lines.Add($"auto picks:        {auto} ({auto.Backend})");
        string? environment = Environment.GetEnvironmentVariable(Device.BackendVariable);
        lines.Add($"{Device.BackendVariable}:    {(string.IsNullOrEmpty(environment) ? "(not set)" : environment)}");
        lines.Add($"Default device:    {DefaultDevice()}");
        foreach (string line in lines)
        {
            console.WriteLine(line);
        }
    }
}
