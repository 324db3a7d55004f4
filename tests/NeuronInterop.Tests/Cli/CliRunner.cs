using NeuronInterop.Cli;

namespace NeuronInterop.Tests.Cli;

/// <summary>Runs the <c>neuron</c> command in-process and captures what it prints.</summary>
internal static class CliRunner
{
    public sealed record Result(int ExitCode, string Output, string Error)
    {
        public string[] ErrorLines => Error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

        public override string ToString() => $"exit code {ExitCode}\n--- stdout ---\n{Output}\n--- stderr ---\n{Error}";
    }

    public static Result Run(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        int exitCode = Program.Run(args, output, error);
        return new Result(exitCode, output.ToString(), error.ToString());
    }

    /// <summary>The user id of <c>nobody</c>, which <see cref="RunAsNobody"/> runs the tool as.</summary>
    public const int NobodyId = 65534;

    /// <summary>
    /// Runs the <c>neuron</c> command as the user <c>nobody</c>, in its own process (<c>setpriv</c>, for root only), for
    /// tests of what a user who is not root may not do, where the tests run as root.
    /// </summary>
    /// <returns>What it printed, or null where it cannot be done (not root, or no setpriv).</returns>
    public static Result? RunAsNobody(params string[] args)
    {
        if (!Environment.IsPrivilegedProcess)
            return null;
        // The dotnet host of the runtime running the tests: <root>/shared/Microsoft.NETCore.App/<version>/.
        string dotnet = Path.GetFullPath(Path.Combine(
            System.Runtime.InteropServices.RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", "..", "dotnet"));
        var start = new System.Diagnostics.ProcessStartInfo("setpriv",
            [$"--reuid={NobodyId}", $"--regid={NobodyId}", "--clear-groups", dotnet, Path.Combine(AppContext.BaseDirectory, "neuron.dll"), .. args])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["HOME"] = Path.GetTempPath();
        try
        {
            using var process = System.Diagnostics.Process.Start(start)!;
            Task<string> output = process.StandardOutput.ReadToEndAsync(), error = process.StandardError.ReadToEndAsync();
            process.WaitForExit();
            return new Result(process.ExitCode, output.Result, error.Result);
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;  // no setpriv
        }
    }

    /// <summary>Gives <paramref name="path"/> to <c>nobody</c> (chown, as root).</summary>
    public static void GiveToNobody(string path)
    {
        using var chown = System.Diagnostics.Process.Start("chown", [$"{NobodyId}:{NobodyId}", path])!;
        chown.WaitForExit();
        if (chown.ExitCode != 0)
            throw new InvalidOperationException($"chown {path} failed with exit code {chown.ExitCode}");
    }
}

/// <summary>A fresh empty folder under the temp directory, deleted with what it holds on dispose.</summary>
internal sealed class TempFolder : IDisposable
{
    public TempFolder()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "neuron-cli-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public void Dispose()
    {
        if (Directory.Exists(Path))
            Directory.Delete(Path, recursive: true);
    }

    public override string ToString() => Path;
}

/// <summary>Devices for tests that write into one.</summary>
internal static class TestDevices
{
    /// <summary>
    /// A device that refuses every write as a full disk does, of /dev/full's numbers, made in <paramref name="folder"/>
    /// where mknod works (for root): a defect that put a file in place of the device then replaces this one, not the
    /// system's /dev/full. Where mknod does not work, /dev/full itself, which a user who is not root cannot replace.
    /// </summary>
    public static string FullDisk(string folder)
    {
        string device = System.IO.Path.Combine(folder, "full");
        try
        {
            using var mknod = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("mknod", [device, "c", "1", "7"])
            {
                RedirectStandardError = true,
            })!;
            mknod.WaitForExit();
            return mknod.ExitCode == 0 ? device : "/dev/full";
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "/dev/full";  // no mknod
        }
    }
}

/// <summary>File flags that only root can set, for tests that need what even root may not do.</summary>
internal static class FileFlags
{
    /// <summary>
    /// Sets or clears the immutable flag (chattr +i) of a file or folder: an immutable file cannot be changed or removed,
    /// and an immutable folder takes no new files, whoever asks, root included.
    /// </summary>
    /// <returns>Whether it worked: it needs root and a file system that keeps the flag.</returns>
    public static bool SetImmutable(string path, bool on)
    {
        try
        {
            using var chattr = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("chattr", [on ? "+i" : "-i", path])
            {
                RedirectStandardError = true,
            })!;
            chattr.WaitForExit();
            return chattr.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;  // no chattr
        }
    }
}
