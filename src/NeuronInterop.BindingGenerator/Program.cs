// NeuronInterop.BindingGenerator: writes the P/Invoke layer of libneuron from its C header.
//
// Usage (normally through scripts/generate-bindings.sh, which passes the first two options):
//   dotnet run --project src/NeuronInterop.BindingGenerator -c Release -- \
//       --header native/include/neuron.h --output src/NeuronInterop/Native/Generated/NeuronNative.g.cs
//
// Options:
//   --header <file>            The C header to parse (required).
//   --output <file>            The C# file to write (required). It is rewritten only when its
//                              content changes.
//   --header-name <text>       How the header is named in the output's first lines
//                              (default: its path relative to the current folder).
//   --command <text>           The regeneration command named in the output's first lines
//                              (default: scripts/generate-bindings.sh).
//   --system-include <folder>  A folder with the compiler's stddef.h/stdint.h, passed to clang
//                              with -I; repeatable. Default: probed from
//                              `gcc|cc|clang -print-file-name=include`, then
//                              /usr/lib/gcc*/…/include and /usr/lib/llvm-*/lib/clang/*/include.
//   --namespace <name>         Namespace of the output (default: NeuronInterop.Native).
//   --class <name>             Static partial class for the functions and constants (default: NeuronNative).
//   --library <name>           Library name given to [LibraryImport] (default: neuron).
//   --macro-prefix <prefix>    Integer macros with this prefix become constants (default: NRN_).
//
// What it binds: the header's C enums (as C# enums of the same names), structs (sequential
// layout, checked against the C sizes and offsets), opaque structs (empty structs used through
// pointers), integer macros (constants) and exported functions (those with default visibility,
// i.e. marked with the export macro) with blittable signatures and their doc comments.
//
// Exit codes: 0 success, 1 the header cannot be parsed or bound, 2 bad command line.

using NeuronInterop.BindingGenerator;
using NeuronInterop.BindingGenerator.Emit;
using NeuronInterop.BindingGenerator.Model;
using NeuronInterop.BindingGenerator.Parsing;

try
{
    GeneratorOptions options = GeneratorOptions.Parse(args);
    string headerPath = Path.GetFullPath(options.Header);
    if (!File.Exists(headerPath))
        throw new GeneratorException($"Header not found: {headerPath}");

    IReadOnlyList<string> includes = options.SystemIncludes.Count > 0
        ? options.SystemIncludes
        : [SystemIncludes.Find()];

    var (model, warnings) = HeaderParser.Parse(headerPath, new ParseOptions(includes, options.MacroPrefix));
    foreach (string warning in warnings)
        Console.Error.WriteLine($"warning: {warning}");

    string headerName = options.HeaderName
        ?? Path.GetRelativePath(Directory.GetCurrentDirectory(), headerPath).Replace('\\', '/');
    var emitter = new CSharpEmitter(new EmitOptions(headerName, options.Command, options.Namespace, options.ClassName, options.Library,
        HeaderHash.Of(File.ReadAllText(headerPath))));
    string text = emitter.Emit(model);

    string outputPath = Path.GetFullPath(options.Output);
    Directory.CreateDirectory(Path.GetDirectoryName(outputPath)!);
    bool unchanged = File.Exists(outputPath) && File.ReadAllText(outputPath) == text;
    if (!unchanged)
        File.WriteAllText(outputPath, text, new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
    Console.WriteLine($"{(unchanged ? "Up to date" : "Wrote")}: {options.Output} ({Summary(model)})");
    return 0;
}
catch (UsageException exception)
{
    Console.Error.WriteLine($"error: {exception.Message}");
    Console.Error.WriteLine("usage: NeuronInterop.BindingGenerator --header <file> --output <file> [options]; see Program.cs for all options.");
    return 2;
}
catch (GeneratorException exception)
{
    Console.Error.WriteLine($"error: {exception.Message}");
    return 1;
}

static string Summary(HeaderModel model) =>
    $"{model.Types.OfType<EnumModel>().Count()} enums, {model.Types.Count(t => t is not EnumModel)} structs, " +
    $"{model.Constants.Count} constants, {model.Functions.Count} functions";
