namespace NeuronInterop.BindingGenerator;

/// <summary>The command line (documented at the top of Program.cs).</summary>
internal sealed class GeneratorOptions
{
    public string Header { get; private set; } = "";
    public string Output { get; private set; } = "";
    public string? HeaderName { get; private set; }
    public string Command { get; private set; } = "scripts/generate-bindings.sh";
    public List<string> SystemIncludes { get; } = new();
    public string Namespace { get; private set; } = "NeuronInterop.Native";
    public string ClassName { get; private set; } = "NeuronNative";
    public string Library { get; private set; } = "neuron";
    public string MacroPrefix { get; private set; } = "NRN_";

    public static GeneratorOptions Parse(IReadOnlyList<string> args)
    {
        var options = new GeneratorOptions();
        for (int i = 0; i < args.Count; i++)
        {
            string option = args[i];
            string Value() => i + 1 < args.Count ? args[++i] : throw new UsageException($"{option} needs a value.");
            switch (option)
            {
                case "--header": options.Header = Value(); break;
                case "--output": options.Output = Value(); break;
                case "--header-name": options.HeaderName = Value(); break;
                case "--command": options.Command = Value(); break;
                case "--system-include": options.SystemIncludes.Add(Value()); break;
                case "--namespace": options.Namespace = Value(); break;
                case "--class": options.ClassName = Value(); break;
                case "--library": options.Library = Value(); break;
                case "--macro-prefix": options.MacroPrefix = Value(); break;
                default: throw new UsageException($"Unknown option '{option}'.");
            }
        }
        if (options.Header.Length == 0 || options.Output.Length == 0)
            throw new UsageException("--header and --output are required.");
        return options;
    }
}

/// <summary>A bad command line.</summary>
internal sealed class UsageException(string message) : Exception(message);
