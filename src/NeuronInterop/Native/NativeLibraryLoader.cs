using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace NeuronInterop.Native;

/// <summary>
/// Finds and loads libneuron.so for this assembly's imports: the file or folder named by
/// <c>NEURON_NATIVE_PATH</c> when it is set (and then nothing else, so that a library asked
/// for is never silently replaced by another), otherwise the application folder, then
/// <c>runtimes/linux-x64/native/</c> under it. A library that lacks a function the bindings
/// call (one built from older sources) is passed over, named with what it lacks.
/// </summary>
internal static class NativeLibraryLoader
{
    /// <summary>The environment variable that overrides where the library is loaded from.</summary>
    internal const string PathVariable = "NEURON_NATIVE_PATH";

    /// <summary>The library's file name on this platform.</summary>
    internal const string FileName = "libneuron.so";

    private static readonly Lock s_gate = new();

    /// <summary>The native functions the generated bindings import, by entry point.</summary>
    private static readonly Lazy<string[]> ImportedFunctions = new(() => typeof(NeuronNative)
        .GetMethods(BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public)
        .Select(method => (method, import: method.GetCustomAttribute<LibraryImportAttribute>()))
        .Where(m => m.import is not null)
        .Select(m => m.import!.EntryPoint ?? m.method.Name)
        .ToArray());
    private static IntPtr s_handle;
    private static string? s_loadedPath;

    /// <summary>The path libneuron.so was loaded from; loads it first if needed.</summary>
    internal static string LoadedPath
    {
        get
        {
            EnsureLoaded();
            return s_loadedPath!;
        }
    }

#pragma warning disable CA2255 // The resolver must be installed before any import of this assembly runs.
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Install()
    {
        NativeLibrary.SetDllImportResolver(typeof(NativeLibraryLoader).Assembly, Resolve);
    }

    private static IntPtr Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
    {
        return libraryName == NeuronNative.LibraryName ? EnsureLoaded() : IntPtr.Zero;
    }

    private static IntPtr EnsureLoaded()
    {
        IntPtr handle = Volatile.Read(ref s_handle);
        if (handle != IntPtr.Zero)
        {
            return handle;
        }

        lock (s_gate)
        {
            if (s_handle == IntPtr.Zero)
            {
                string? overrideValue = Environment.GetEnvironmentVariable(PathVariable);
                var candidates = CandidatePaths(overrideValue, AppContext.BaseDirectory);
                s_handle = Load(candidates, out s_loadedPath, overrideValue);
            }

            return s_handle;
        }
    }

    /// <summary>
    /// The paths to try, in order: the override alone when there is one (a file, or a folder
    /// meaning the library in it; relative to the current directory), else the application
    /// folder's library and its <c>runtimes/linux-x64/native/</c> one.
    /// </summary>
    internal static IReadOnlyList<string> CandidatePaths(string? overrideValue, string baseDirectory)
    {
        if (!string.IsNullOrWhiteSpace(overrideValue))
        {
            return [Directory.Exists(overrideValue) ? Path.Combine(overrideValue, FileName) : overrideValue];
        }

        return
        [
            Path.Combine(baseDirectory, FileName),
            Path.Combine(baseDirectory, "runtimes", "linux-x64", "native", FileName),
        ];
    }

    /// <summary>Loads the first candidate that loads; throws <see cref="NativeLibraryNotFoundException"/> when none does.</summary>
    /// <param name="candidates">The paths to try, in order.</param>
    /// <param name="loadedPath">The path loaded.</param>
    /// <param name="overrideValue"><c>NEURON_NATIVE_PATH</c>'s value when the candidates come from it, for the message.</param>
    internal static IntPtr Load(IReadOnlyList<string> candidates, out string loadedPath, string? overrideValue = null)
    {
        var failures = new List<string>(candidates.Count);
        foreach (string candidate in candidates)
        {
            string fullPath = Path.GetFullPath(candidate);
            if (!File.Exists(fullPath))
            {
                failures.Add($"{fullPath}: not found");
                continue;
            }

            try
            {
                IntPtr handle = NativeLibrary.Load(fullPath);
                // A library built from older sources (or another library of the name) would fail only at the first call of
                // a function it lacks, with EntryPointNotFoundException: it is passed over here, saying what it lacks.
                string[] missing = ImportedFunctions.Value.Where(name => !NativeLibrary.TryGetExport(handle, name, out _)).ToArray();
                if (missing.Length > 0)
                {
                    NativeLibrary.Free(handle);
                    failures.Add($"{fullPath}: loads, but lacks {missing.Length} of the {ImportedFunctions.Value.Length} functions " +
                                 $"these bindings call ({string.Join(", ", missing.Take(4))}{(missing.Length > 4 ? ", ..." : "")}): " +
                                 "it was built from other sources than this NeuronInterop");
                    continue;
                }
                loadedPath = fullPath;
                return handle;
            }
            catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
            {
                failures.Add($"{fullPath}: {e.Message}");
            }
        }

        throw NotFound(candidates, failures, overrideValue);
    }

    /// <summary>
    /// Why the library cannot load on this platform, or null on Linux x64, the one it is built for (a
    /// package's <c>runtimes/linux-x64/native/</c> is not even copied to another platform's output).
    /// </summary>
    internal static string? UnsupportedPlatform(bool isLinux, Architecture architecture, string runtimeIdentifier)
    {
        return isLinux && architecture == Architecture.X64
            ? null
            : $"{FileName} is built for Linux x64 only, and this process runs on {runtimeIdentifier}.";
    }

    private static NativeLibraryNotFoundException NotFound(IReadOnlyList<string> candidates, List<string> failures,
        string? overrideValue)
    {
        var message = new StringBuilder();
        message.Append("The native library ").Append(FileName).AppendLine(" could not be loaded. Tried, in order:");
        foreach (string failure in failures)
        {
            message.Append("  ").AppendLine(failure);
        }

        if (UnsupportedPlatform(OperatingSystem.IsLinux(), RuntimeInformation.ProcessArchitecture,
                RuntimeInformation.RuntimeIdentifier) is { } unsupported)
        {
            message.AppendLine(unsupported);
        }

        if (!string.IsNullOrWhiteSpace(overrideValue))
        {
            // The variable is the cause: it is what to fix, not what to set.
            message.Append(PathVariable).Append("='").Append(overrideValue).Append("' names nothing loadable: point it at the built ")
                .Append(FileName).Append(" or its folder, or unset it to load the one beside the application.");
        }
        else
        {
            message.Append("Build it by running `dotnet build` on NeuronInterop.sln, which builds native/ with CMake, ")
                .Append("or `cmake -S . -B build && cmake --build build` in the repository root and set ")
                .Append(PathVariable).Append(" to the built ").Append(FileName).Append(" or its folder.");
        }
        return new NativeLibraryNotFoundException(message.ToString())
        {
            PathsTried = candidates.Select(Path.GetFullPath).ToArray(),
        };
    }
}
