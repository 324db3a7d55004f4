using System.Reflection;
using System.Runtime.InteropServices;
using NeuronInterop.Native;
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

    [Test]
    public void TheGeneratedStructLayoutsMatchTheCompiler()
    {
        Assert.DoesNotThrow(NeuronNative.VerifyStructLayouts);
    }

    [Test]
    public void TheNativeVersionMatchesTheHeader()
    {
        Assert.That(Device.NativeVersion, Is.EqualTo(new Version(
            NeuronNative.NRN_VERSION_MAJOR, NeuronNative.NRN_VERSION_MINOR, NeuronNative.NRN_VERSION_PATCH)));
    }
}
