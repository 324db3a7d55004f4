namespace NeuronInterop.Tests.Infrastructure;

/// <summary>Sets an environment variable of this process until disposed, then restores its old value.</summary>
/// <remarks>The tests run one at a time (NUnit's default here), so no other test sees the change.</remarks>
internal sealed class EnvironmentVariable : IDisposable
{
    private readonly string _name;
    private readonly string? _saved;

    public EnvironmentVariable(string name, string? value)
    {
        _name = name;
        _saved = Environment.GetEnvironmentVariable(name);
        Environment.SetEnvironmentVariable(name, value);
    }

    public void Dispose() => Environment.SetEnvironmentVariable(_name, _saved);
}
