using System.Reflection;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using NeuronInterop.Native;
using NeuronInterop.Tests.Infrastructure;
using NUnit.Framework;

namespace NeuronInterop.Tests.Bindings;

/// <summary>The generated declarations and the loaded library's exports are the same set of nrn_ functions.</summary>
[TestFixture]
public sealed class ExportedSymbolsTests
{
    private static IReadOnlyList<string> DeclaredFunctions() =>
        typeof(NeuronNative)
            .GetMethods(BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public | BindingFlags.DeclaredOnly)
            .Where(m => m.GetCustomAttribute<LibraryImportAttribute>() is not null)
            .Select(m => m.Name)
            .Order(StringComparer.Ordinal)
            .ToArray();

    private static IReadOnlyList<string> ExportedFunctions() =>
        ElfExports.ReadFunctionNames(Device.NativeLibraryPath)
            .Where(name => name.StartsWith("nrn_", StringComparison.Ordinal))
            .Distinct()
            .Order(StringComparer.Ordinal)
            .ToArray();

    [Test]
    public void TheGeneratedBindingsDeclareFunctions()
    {
        Assert.That(DeclaredFunctions(), Is.Not.Empty.And.All.StartsWith("nrn_"));
    }

    [Test]
    public void EveryExportedFunctionHasAGeneratedDeclaration()
    {
        var undeclared = ExportedFunctions().Except(DeclaredFunctions()).ToArray();
        Assert.That(undeclared, Is.Empty,
            $"{Device.NativeLibraryPath} exports functions that the generated bindings lack; regenerate them with scripts/generate-bindings.sh.");
    }

    [Test]
    public void EveryGeneratedDeclarationIsExported()
    {
        var missing = DeclaredFunctions().Except(ExportedFunctions()).ToArray();
        Assert.That(missing, Is.Empty, $"{Device.NativeLibraryPath} does not export these declared functions.");
    }

    [Test]
    public void EveryGeneratedDeclarationResolves()
    {
        IntPtr library = NativeLibrary.Load(Device.NativeLibraryPath);
        try
        {
            var unresolved = DeclaredFunctions().Where(name => !NativeLibrary.TryGetExport(library, name, out _)).ToArray();
            Assert.That(unresolved, Is.Empty, "Declared functions that the loaded library does not resolve.");
        }
        finally
        {
            NativeLibrary.Free(library);
        }
    }

    [Test]
    public void TheLibraryExportsNothingButTheApi()
    {
        var others = ElfExports.ReadFunctionNames(Device.NativeLibraryPath)
            .Where(name => !name.StartsWith("nrn_", StringComparison.Ordinal))
            .ToArray();
        Assert.That(others, Is.Empty, "Functions exported outside the nrn_ API.");
    }

    /// <summary>The generated structs lay out in C# as libclang laid out their C declarations when the bindings were generated.</summary>
    [Test]
    public void TheGeneratedStructsHaveTheLayoutsLibclangGaveTheHeader()
    {
        Assert.DoesNotThrow(NeuronNative.VerifyStructLayouts);
    }

    /// <summary>
    /// The bindings come from the header in this checkout, which the library is built from: a header edited without
    /// scripts/generate-bindings.sh would have the bindings read the library's structs and call its functions as they were.
    /// </summary>
    [Test]
    public void TheBindingsWereGeneratedFromTheCheckedOutHeader()
    {
        string root = RepositoryRoot.Find()
            ?? throw new AssertionException($"No repository root (README.md beside NeuronInterop.sln) above the current folder or {AppContext.BaseDirectory}");
        string header = File.ReadAllText(Path.Combine(root, "native", "include", "neuron.h")).ReplaceLineEndings("\n");
        string hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(header)));
        Assert.That(hash, Is.EqualTo(NeuronNative.HeaderSha256), "the bindings are stale: run scripts/generate-bindings.sh");
    }

    [Test]
    public void TheNativeVersionMatchesTheHeader()
    {
        Assert.That(Device.NativeVersion, Is.EqualTo(new Version(
            NeuronNative.NRN_VERSION_MAJOR, NeuronNative.NRN_VERSION_MINOR, NeuronNative.NRN_VERSION_PATCH)));
    }
}
