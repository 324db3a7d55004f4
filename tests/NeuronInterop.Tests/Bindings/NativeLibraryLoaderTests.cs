using System.Runtime.InteropServices;
using NeuronInterop.Native;
using NUnit.Framework;

namespace NeuronInterop.Tests.Bindings;

/// <summary>Where the loader looks for libneuron.so, and what it says when it finds none.</summary>
[TestFixture]
public sealed class NativeLibraryLoaderTests
{
    [Test]
    public void WithoutAnOverrideItProbesTheApplicationFolderThenRuntimes()
    {
        var paths = NativeLibraryLoader.CandidatePaths(null, "/app");
        Assert.That(paths, Is.EqualTo(new[] { "/app/libneuron.so", "/app/runtimes/linux-x64/native/libneuron.so" }));
        Assert.That(NativeLibraryLoader.CandidatePaths("  ", "/app"), Is.EqualTo(paths));
    }

    [Test]
    public void AnOverrideFileIsTheOnlyCandidate()
    {
        // A library asked for by name must not be replaced by the bundled one when it does not load.
        var paths = NativeLibraryLoader.CandidatePaths("/opt/neuron/libneuron.so.0", "/app");
        Assert.That(paths, Is.EqualTo(new[] { "/opt/neuron/libneuron.so.0" }));
    }

    [Test]
    public void AnOverrideFolderMeansTheLibraryInIt()
    {
        string folder = Path.GetDirectoryName(Device.NativeLibraryPath)!;
        var paths = NativeLibraryLoader.CandidatePaths(folder, "/app");
        Assert.That(paths, Is.EqualTo(new[] { Path.Combine(folder, "libneuron.so") }));
    }

    [Test]
    public void ALoadableCandidateIsLoaded()
    {
        string[] candidates = ["/nonexistent/libneuron.so", Device.NativeLibraryPath];
        IntPtr handle = NativeLibraryLoader.Load(candidates, out string loaded);
        Assert.That(handle, Is.Not.EqualTo(IntPtr.Zero));
        Assert.That(loaded, Is.EqualTo(Device.NativeLibraryPath));
    }

    [Test]
    public void WhenNothingLoadsTheMessageListsEveryPathAndHowToBuild()
    {
        string notALibrary = Path.Combine(Path.GetTempPath(), $"neuron-not-a-library-{Environment.ProcessId}.so");
        File.WriteAllText(notALibrary, "not an ELF file");
        try
        {
            var candidates = NativeLibraryLoader.CandidatePaths("/nonexistent/neuron", "/nonexistent/app")
                .Concat(NativeLibraryLoader.CandidatePaths(null, "/nonexistent/app"))
                .Append(notALibrary)
                .ToArray();
            var e = Assert.Throws<NativeLibraryNotFoundException>(() => NativeLibraryLoader.Load(candidates, out _));

            Assert.That(e, Is.InstanceOf<DllNotFoundException>());
            Assert.That(e!.PathsTried, Is.EqualTo(candidates));
            Assert.That(e.Message, Does.Contain("/nonexistent/neuron: not found"));
            Assert.That(e.Message, Does.Contain("/nonexistent/app/libneuron.so: not found"));
            Assert.That(e.Message, Does.Contain("/nonexistent/app/runtimes/linux-x64/native/libneuron.so: not found"));
            Assert.That(e.Message, Does.Contain(notALibrary + ": "), "A file that exists but does not load is listed with the loader's reason.");
            Assert.That(e.Message, Does.Contain("dotnet build").And.Contain("NeuronInterop.sln").And.Contain("cmake -S . -B build").And.Contain("NEURON_NATIVE_PATH"));
            Assert.That(e.Message, Does.Not.Contain("built for Linux x64 only"), "This test runs on Linux x64.");
        }
        finally
        {
            File.Delete(notALibrary);
        }
    }

    [Test]
    public void ALibraryThatLacksTheBindingsFunctionsIsPassedOverNamingThem()
    {
        // A shared library that loads but is not libneuron, as an older build would lack the newest functions.
        string? other = new[] { "/lib/x86_64-linux-gnu/libm.so.6", "/usr/lib/x86_64-linux-gnu/libm.so.6", "/lib64/libm.so.6" }
            .FirstOrDefault(File.Exists);
        Assume.That(other, Is.Not.Null, "a libm to load");
        string[] candidates = [other!, Device.NativeLibraryPath];

        IntPtr handle = NativeLibraryLoader.Load(candidates, out string loaded);
        var e = Assert.Throws<NativeLibraryNotFoundException>(() => NativeLibraryLoader.Load([other!], out _, other));

        Assert.That(handle, Is.Not.EqualTo(IntPtr.Zero));
        Assert.That(loaded, Is.EqualTo(Device.NativeLibraryPath), "the next candidate is loaded instead");
        Assert.That(e!.Message, Does.Contain($"{other}: loads, but lacks").And.Contain("nrn_").And.Contain("built from other sources"));
    }

    [TestCase(true, Architecture.Arm64, "linux-arm64")]
    [TestCase(false, Architecture.X64, "win-x64")]
    [TestCase(false, Architecture.Arm64, "osx-arm64")]
    public void OnAnotherPlatformTheMessageSaysTheLibraryIsForLinuxX64(bool isLinux, Architecture architecture, string rid)
    {
        Assert.That(NativeLibraryLoader.UnsupportedPlatform(isLinux, architecture, rid),
            Is.EqualTo($"libneuron.so is built for Linux x64 only, and this process runs on {rid}."));
    }

    [Test]
    public void OnLinuxX64NothingIsSaidOfThePlatform()
    {
        Assert.That(NativeLibraryLoader.UnsupportedPlatform(true, Architecture.X64, "linux-x64"), Is.Null);
    }
}
