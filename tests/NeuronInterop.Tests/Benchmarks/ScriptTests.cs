using System.Diagnostics;
using NeuronInterop.Tests.Infrastructure;
using NUnit.Framework;

namespace NeuronInterop.Tests.Benchmarks;

/// <summary>The GPU-machine scripts and the PyTorch benchmark at least parse (gpu-check.sh runs only on a GPU
/// machine; gpu-pack.sh needs the .NET SDK and a build).</summary>
public sealed class ScriptTests
{
    private static string RepoRoot()
    {
        string? root = RepositoryRoot.Find();
        if (root is null)
            Assert.Ignore("The repository is not above the current or the test folder; run the tests from the checkout.");
        return root!;
    }

    private static (int ExitCode, string Output) Run(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = RepoRoot() };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.That(process.WaitForExit(60_000), Is.True, $"{program} did not finish within a minute");
        return (process.ExitCode, stdout.Result + stderr.Result);
    }

    private static bool OnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(dir => File.Exists(Path.Combine(dir, program)));

    [TestCase("scripts/gpu-pack.sh")]
    [TestCase("scripts/gpu-check.sh")]
    public void ShellScriptParses(string script)
    {
        var (exitCode, output) = Run("bash", "-n", Path.Combine(RepoRoot(), script));
        Assert.That(exitCode, Is.EqualTo(0), output);
    }

    [Test]
    public void PyTorchBenchmarkCompilesAndDescribesItself()
    {
        if (!OnPath("python3"))
            Assert.Ignore("python3 is not on PATH.");
        var script = Path.Combine(RepoRoot(), "bench", "pytorch_bench.py");
        var compiled = Path.Combine(Path.GetTempPath(), $"pytorch_bench-{Guid.NewGuid():N}.pyc");
        try
        {
            var (exitCode, output) = Run("python3", "-c", "import py_compile, sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], doraise=True)", script, compiled);
            Assert.That(exitCode, Is.EqualTo(0), output);
        }
        finally
        {
            File.Delete(compiled);
        }

        // --help needs no torch: the script imports it only to run.
        var (helpExit, help) = Run("python3", script, "--help");
        Assert.That(helpExit, Is.EqualTo(0), help);
        Assert.That(help, Does.Contain("--json").And.Contain("--quick"));
    }
}
