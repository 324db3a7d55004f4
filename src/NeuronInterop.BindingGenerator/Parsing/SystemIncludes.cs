using System.Diagnostics;

namespace NeuronInterop.BindingGenerator.Parsing;

/// <summary>
/// Finds a compiler include folder with stddef.h and friends: the libclang package ships no
/// clang resource headers, so the parse borrows the installed GCC's (or clang's).
/// </summary>
internal static class SystemIncludes
{
    public static string Find()
    {
        foreach (string compiler in new[] { "gcc", "cc", "clang" })
        {
            string? folder = AskCompiler(compiler);
            if (folder is not null && HasStddef(folder))
                return folder;
        }

        string? probed = new[] { "/usr/lib/gcc", "/usr/lib/gcc-cross", "/usr/local/lib/gcc" }
            .Where(Directory.Exists)
            .SelectMany(root => Directory.EnumerateDirectories(root))      // the target triple
            .SelectMany(triple => Directory.EnumerateDirectories(triple))  // the version
            .Select(version => Path.Combine(version, "include"))
            .Concat(Directory.Exists("/usr/lib")
                ? Directory.EnumerateDirectories("/usr/lib", "llvm-*")
                    .Select(llvm => Path.Combine(llvm, "lib", "clang"))
                    .Where(Directory.Exists)
                    .SelectMany(Directory.EnumerateDirectories)
                    .Select(version => Path.Combine(version, "include"))
                : [])
            .Where(HasStddef)
            .OrderByDescending(VersionOf)
            .ThenBy(path => path, StringComparer.Ordinal)
            .FirstOrDefault();
        return probed ?? throw new GeneratorException(
            "No compiler include folder with stddef.h was found (tried gcc/cc/clang -print-file-name=include " +
            "/usr/lib/gcc*/…/include and /usr/lib/llvm-*/lib/clang/*/include). Install gcc or pass " +
            "--system-include <folder>.");
    }

    private static string? AskCompiler(string compiler)
    {
        try
        {
            var start = new ProcessStartInfo(compiler, "-print-file-name=include")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            using Process? process = Process.Start(start);
            if (process is null)
                return null;
            string output = process.StandardOutput.ReadToEnd().Trim();
            process.StandardError.ReadToEnd();
            if (!process.WaitForExit(10_000))
            {
                process.Kill();
                return null;
            }
            // Without such a folder the compiler echoes the bare name back.
            return process.ExitCode == 0 && Path.IsPathRooted(output) ? output : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null; // not installed
        }
    }

    private static bool HasStddef(string folder) => File.Exists(Path.Combine(folder, "stddef.h"));

    private static Version VersionOf(string includeFolder)
    {
        string name = Path.GetFileName(Path.GetDirectoryName(includeFolder)) ?? "";
        string[] parts = name.Split('.');
        return parts.All(p => int.TryParse(p, out _)) && parts.Length is >= 1 and <= 4
            ? new Version(parts.Length == 1 ? name + ".0" : name)
            : new Version(0, 0);
    }
}
